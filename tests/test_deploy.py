"""deploy/: the image, the compose file and the systemd unit, checked statically (no Docker engine
runs on this machine): instructions parsed, compose parsed with PyYAML, and every command line
they hold run through mcp-central's own parser. The seed's own compose file must keep working
with only its image swapped."""

from __future__ import annotations

import configparser
import fnmatch
import shlex
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from deploy_helpers import cli_args, load_yaml, only, parse_dockerfile
from mcp_central.config import jsonc
from mcp_central.config.loader import load_config, load_config_text
from mcp_central.config.model import Config

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
SEED_COMPOSE = Path(__file__).parent / "fixtures" / "deploy" / "seed_compose.yml"


def image_argv(dockerfile: Path) -> list[str]:
    """ENTRYPOINT + CMD as the container runs them, from ``mcp-central`` on."""
    instructions = parse_dockerfile(dockerfile)
    [entrypoint] = only(instructions, "ENTRYPOINT")
    [cmd] = only(instructions, "CMD")
    argv = entrypoint.exec_form() + cmd.exec_form()
    return argv[argv.index("mcp-central") + 1 :]


def test_dockerfile_runs_stdio_upstreams_with_npx_and_uvx() -> None:
    instructions = parse_dockerfile(DEPLOY / "Dockerfile")
    assert instructions[0].keyword == "FROM"
    runs = " ".join(i.args for i in only(instructions, "RUN"))
    for package in ("nodejs", "npm", "wget", "tini"):  # npm brings npx; wget for the health check
        assert f" {package} " in f" {runs} ", package
    uv = [i for i in only(instructions, "COPY") if i.args.startswith("--from=ghcr.io/astral-sh/uv")]
    assert uv and "/uvx" in uv[0].args
    assert "pip install --no-cache-dir ." in runs
    users = only(instructions, "USER")
    assert users and users[-1].args not in ("root", "0")
    assert only(instructions, "EXPOSE")[0].args == "9090"


def test_dockerfile_copies_only_what_the_context_provides() -> None:
    """Every COPY source exists in the build context (the repo root) and is not ignored."""
    ignore = [line for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if line.strip()]
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    assert "*" in ignore
    for copy in only(parse_dockerfile(DEPLOY / "Dockerfile"), "COPY"):
        if copy.args.startswith("--from"):
            continue
        *sources, _destination = shlex.split(copy.args)
        for source in sources:
            assert (ROOT / source).exists(), source
            assert any(fnmatch.fnmatch(source.rstrip("/"), pattern) for pattern in allowed), source


def test_image_command_line_is_the_seeds() -> None:
    args = cli_args(image_argv(DEPLOY / "Dockerfile"))
    assert (args.verb, args.config) == ("serve", "/config/config.json")
    healthcheck = only(parse_dockerfile(DEPLOY / "Dockerfile"), "HEALTHCHECK")[0].args
    assert '"wget", "-qO-", "http://127.0.0.1:9090/"' in healthcheck


def test_compose_is_shaped_like_the_seeds() -> None:
    compose = load_yaml(DEPLOY / "compose.yaml")
    service = compose["services"]["mcp-central"]
    assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == (
        DEPLOY / "Dockerfile"
    ).resolve()
    assert service["ports"] == ["9090:9090"]
    assert "./config:/config" in service["volumes"]
    args = cli_args(service["command"])
    assert (args.verb, args.config) == ("serve", "/config/config.json")
    assert service["healthcheck"]["test"] == ["CMD", "wget", "-qO-", "http://localhost:9090/"]
    assert service["deploy"]["resources"]["limits"]["memory"].endswith("M")
    assert service["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    assert service["stop_grace_period"] == "10s"
    assert service["restart"] == "unless-stopped"
    assert compose["networks"]["mcp-net"] == {"external": True}
    assert any(item.startswith("MCP_PROXY_TOKEN=") for item in service["environment"])


def test_seed_compose_file_takes_our_image_unchanged() -> None:
    """Swap `image:` in the seed's file: its command, port and health check fit our image."""
    seed = load_yaml(SEED_COMPOSE)["services"]["mcp-proxy"]
    args = cli_args(seed["command"])
    assert (args.verb, args.config, args.expand_env) == ("serve", "/config/config.json", True)
    instructions = parse_dockerfile(DEPLOY / "Dockerfile")
    assert seed["healthcheck"]["test"][1] == "wget"  # installed in our image
    assert " wget " in " ".join(i.args for i in only(instructions, "RUN"))
    published = {port.split(":")[1] for port in seed["ports"]}
    assert published == {only(instructions, "EXPOSE")[0].args}
    # The seed's TBXark flags, all of them, parse as ours.
    for argv in (
        ["-config", "/c.json", "-expand-env", "-insecure", "-http-headers", "A:1", "-http-timeout", "5"],
    ):
        parsed = cli_args(argv)
        assert (parsed.insecure, parsed.http_headers, parsed.http_timeout) == (True, "A:1", 5.0)


def test_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_PROXY_TOKEN", "t")
    config = load_config(str(DEPLOY / "config" / "config.json"))
    assert (config.proxy.host, config.proxy.port) == ("0.0.0.0", 9090)
    assert config.servers["time"].command == "uvx"


def test_systemd_unit() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "mcp-central.service")
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/mcp-central")
    args = cli_args(argv[1:])
    assert (args.verb, args.config) == ("serve", "/etc/mcp-central/config.json")
    assert service["KillSignal"] == "SIGTERM"  # mcp-central exits 0 on SIGTERM after closing sessions
    assert service["Restart"] == "on-failure"
    assert service["User"] != "root"
    assert service["EnvironmentFile"].lstrip("-") == "/etc/mcp-central/env"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


# --------------------------------------------------------------------------- replicas (issue 17)

KUBERNETES = DEPLOY / "kubernetes"
CHART = DEPLOY / "helm" / "mcp-central"
KUBERNETES_VERSION = "1.33.0"
"""A current Kubernetes schema (kubernetes-validate ships them); validation is strict: unknown
fields fail."""


def validate_resources(documents: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """Each resource against the Kubernetes schema; ``kind/name`` → resource."""
    by_name = {}
    for document in documents:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{where}: {document['kind']}: {exc.message} at {list(exc.path)}") from None
        by_name[f"{document['kind']}/{document['metadata']['name']}"] = document
    return by_name


def manifests() -> dict[str, dict[str, Any]]:
    documents = [
        document
        for path in sorted(KUBERNETES.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]
    return validate_resources(documents, str(KUBERNETES))


def rendered_chart(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``helm template`` through Helm's own Go SDK (helm-python-sdk: no helm binary on PyPI, npm or
    Debian), then validated like the plain manifests."""
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name="mcp", namespace="mcp")
    documents = [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]
    return validate_resources(documents, f"helm template {CHART}")


def gateway_config(
    config_map: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], Config]:
    """config.json of a ConfigMap: as written, and as mcp-central loads it."""
    text = config_map["data"]["config.json"]
    raw = jsonc.loads(text)
    for variable in ("MCP_PROXY_TOKEN", "REDIS_PASSWORD"):
        monkeypatch.setenv(variable, "x")
    return raw, load_config_text(text, "config.json")


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def check_gateway(resources: dict[str, dict[str, Any]], prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = resources[f"Deployment/{prefix}"]
    assert deployment["spec"]["replicas"] == 3
    spec = pod_spec(deployment)
    [container] = spec["containers"]
    args = cli_args(container["args"])
    assert (args.verb, args.config) == ("serve", "/config/config.json")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    raw, config = gateway_config(resources[f"ConfigMap/{prefix}-config"], monkeypatch)
    # preStop, then shutdownGrace, then the stdio servers' TERM/KILL (4 s) fit in the grace period.
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pre_stop + config.proxy.shutdown_grace + 4 < spec["terminationGracePeriodSeconds"]
    assert config.proxy.auth_tokens == ("x",)
    # Tokens come from the Secret, by name; the config holds ${VAR}s, never values.
    secret = resources[f"Secret/{prefix}-tokens"]
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    assert raw["mcpProxy"]["options"]["authTokens"] == ["${MCP_PROXY_TOKEN}"]
    assert set(secret["stringData"]) == {"MCP_PROXY_TOKEN", "REDIS_PASSWORD"}
    # Sessions in the Redis the manifests deploy, its password from the Secret.
    store = raw["mcpProxy"]["options"]["sessionStore"]
    redis_service = resources[f"Service/{prefix}-redis"]
    assert store == f"redis://:${{REDIS_PASSWORD}}@{redis_service['metadata']['name']}:6379/0"
    redis_pod = pod_spec(resources[f"Deployment/{prefix}-redis"])
    assert "$(REDIS_PASSWORD)" in redis_pod["containers"][0]["args"]
    # The Service and the PodDisruptionBudget select the gateway pods, not Redis.
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = resources[f"Service/{prefix}"]["spec"]["selector"]
    assert selector.items() <= pod_labels.items()
    redis_labels = resources[f"Deployment/{prefix}-redis"]["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= redis_labels.items()
    budget = resources[f"PodDisruptionBudget/{prefix}"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    assert not budget["selector"]["matchLabels"].items() <= redis_labels.items()
    assert budget.get("minAvailable") == 2 or budget.get("maxUnavailable") == 1


def test_kubernetes_manifests_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    check_gateway(manifests(), "mcp-central", monkeypatch)


def test_helm_chart_renders_the_same_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = rendered_chart({})
    check_gateway(resources, "mcp", monkeypatch)
    assert {name.split("/")[0] for name in resources} == {name.split("/")[0] for name in manifests()}
    lint = helm.lint(str(CHART))
    assert not lint["errors"] and all(m["severity"] < 3 for m in lint["messages"]), lint


def test_helm_values_set_replicas_image_tokens_and_an_external_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = rendered_chart(
        {
            "replicaCount": 5,
            "image": {"repository": "registry.example/mcp-central", "tag": "1.2"},
            "tokens": {"MCP_PROXY_TOKEN": "t", "REDIS_PASSWORD": "p"},
            "redis": {"deploy": False, "url": "rediss://:${REDIS_PASSWORD}@redis.example:6380/1"},
        }
    )
    deployment = resources["Deployment/mcp"]
    assert deployment["spec"]["replicas"] == 5
    assert pod_spec(deployment)["containers"][0]["image"] == "registry.example/mcp-central:1.2"
    assert resources["Secret/mcp-tokens"]["stringData"] == {"MCP_PROXY_TOKEN": "t", "REDIS_PASSWORD": "p"}
    assert "Deployment/mcp-redis" not in resources and "Service/mcp-redis" not in resources
    raw, _config = gateway_config(resources["ConfigMap/mcp-config"], monkeypatch)
    assert raw["mcpProxy"]["options"]["sessionStore"] == "rediss://:${REDIS_PASSWORD}@redis.example:6380/1"
    with pytest.raises(helm.HelmError, match=r"redis\.url is required"):
        rendered_chart({"redis": {"deploy": False}})


def test_compose_runs_three_replicas_behind_haproxy_with_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = load_yaml(DEPLOY / "compose" / "compose.yaml")
    services = compose["services"]
    replicas = sorted(name for name in services if name.startswith("mcp-central-"))
    assert replicas == ["mcp-central-1", "mcp-central-2", "mcp-central-3"]
    for name in replicas:
        service = services[name]
        build = service["build"]
        assert (DEPLOY / "compose" / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        ).resolve()
        assert (cli_args(service["command"]).verb, cli_args(service["command"]).config) == (
            "serve",
            "/config/config.json",
        )
        assert service["volumes"] == ["./config:/config:ro"]
        assert service["healthcheck"]["test"][-1] == "http://localhost:9090/readyz"
        assert "ports" not in service  # only HAProxy is published
    haproxy = services["haproxy"]
    assert haproxy["ports"] == ["9090:9090"]
    [mount] = haproxy["volumes"]
    assert (DEPLOY / "compose" / mount.split(":")[0]).resolve() == (
        DEPLOY / "haproxy" / "haproxy.cfg"
    ).resolve()
    cfg = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    assert [line.split()[2] for line in cfg.splitlines() if line.strip().startswith("server ")] == [
        f"{name}:9090" for name in replicas
    ]
    assert "--save" in services["redis"]["command"] and "ports" not in services["redis"]
    monkeypatch.setenv("MCP_PROXY_TOKEN", "t")
    text = (DEPLOY / "compose" / "config" / "config.json").read_text()
    raw = jsonc.loads(text)
    assert raw["mcpProxy"]["options"]["sessionStore"] == "redis://redis:6379/0"


def test_haproxy_config_is_valid_and_carries_the_settings_that_matter() -> None:
    """``haproxy -c`` accepts it; the settings README.md explains are there (tests/
    test_replicas_balancer.py shows what they do), and no retry that re-sends a tools/call."""
    path = DEPLOY / "haproxy" / "haproxy.cfg"
    check = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = {line.split("#")[0].strip() for line in path.read_text().splitlines()}
    for setting in (
        "option httpclose",
        "retry-on conn-failure",
        "option redispatch 1",
        "balance roundrobin",
        "option httpchk GET /readyz",
        "timeout client 1h",
        "timeout server 1h",
    ):
        assert setting in lines, setting
    assert not any("empty-response" in line or "http-buffer-request" in line for line in lines)


def test_nginx_config_streams_and_does_not_retry_tool_calls() -> None:
    text = (DEPLOY / "nginx" / "mcp-central.conf").read_text()
    settings = {line.split("#")[0].strip().rstrip(";") for line in text.splitlines()}
    for setting in (
        "proxy_buffering off",
        "proxy_request_buffering off",
        "proxy_read_timeout 1h",
        "proxy_http_version 1.1",
        "proxy_next_upstream error timeout",
    ):
        assert setting in settings, setting
    assert "non_idempotent" not in " ".join(settings)
    assert text.count("server mcp-central-") == 3
