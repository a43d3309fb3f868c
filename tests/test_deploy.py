"""deploy/: the image, the compose file and the systemd unit, checked statically (no Docker engine
runs on this machine): instructions parsed, compose parsed with PyYAML, and every command line
they hold run through mcp-central's own parser. The seed's own compose file must keep working
with only its image swapped."""

from __future__ import annotations

import configparser
import fnmatch
import shlex
from pathlib import Path

import pytest

from deploy_helpers import cli_args, load_yaml, only, parse_dockerfile
from mcp_central.config.loader import load_config

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
