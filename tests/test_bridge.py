"""`mcp-central bridge scaffold`: the seed's add-bridge.sh examples, checked statically (Dockerfile
parsed, compose parsed with PyYAML), and the generated bridge config served for real."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import free_port
from deploy_helpers import cli_args, load_yaml, only, parse_dockerfile
from manage_helpers import cli, operator_env, serving, snapshot  # noqa: F401 - autouse fixture
from mcp_central.config import jsonc
from mcp_central.config.loader import load_config
from mcp_central.manage.packages import NPM_URL_ENV, PYPI_URL_ENV

SEED_FILESYSTEM = [
    "--service", "filesystem", "--runtime", "node", "--pkg", "@modelcontextprotocol/server-filesystem",
    "--version", "0.2.3", "--bin-cmd", "mcp-server-filesystem", "--port", "9071",
    "--workspace", "/home/administrator/projects",
]  # fmt: skip
SEED_FETCH = [
    "--service", "fetch", "--runtime", "python", "--pkg", "mcp-server-fetch", "--version", "0.1.4",
    "--bin-cmd", "mcp-server-fetch", "--port", "9072",
]  # fmt: skip


@pytest.fixture(autouse=True)
def offline_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test asks the real npm or PyPI: by default both are a closed loopback port (unreachable)."""
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv(NPM_URL_ENV, closed)
    monkeypatch.setenv(PYPI_URL_ENV, f"{closed}/pypi")


def scaffold(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> None:
    run = cli(capsys, "bridge", "scaffold", *args, "--out", str(out))
    assert run.code == 0, run.err
    assert f"mcp-central server add {args[args.index('--service') + 1]} --port" in run.out


def test_node_bridge_like_the_seeds_filesystem_bridge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scaffold(capsys, tmp_path, *SEED_FILESYSTEM)
    instructions = parse_dockerfile(tmp_path / "Dockerfile")
    assert instructions[0].keyword == "FROM"
    runs = " ".join(i.args for i in only(instructions, "RUN"))
    assert "npm install --global" in runs
    assert "@modelcontextprotocol/server-filesystem@0.2.3" in runs  # pinned, installed at build time
    assert only(instructions, "USER")[-1].args == "mcp"
    assert only(instructions, "COPY")[0].args == "config /config"
    assert only(instructions, "EXPOSE")[0].args == "9071"
    args = cli_args(only(instructions, "CMD")[0].exec_form())
    assert (args.verb, args.config) == ("serve", "/config/config.json")

    service = load_yaml(tmp_path / "compose.yaml")["services"]["mcp-filesystem-bridge"]
    assert service["container_name"] == "mcp-filesystem-bridge"
    assert "ports" not in service  # internal only
    assert service["networks"] == ["mcp-net"]
    assert service["volumes"] == ["/home/administrator/projects:/workspace:ro"]
    assert service["healthcheck"]["test"] == ["CMD", "wget", "-qO-", "http://localhost:9071/"]
    assert service["deploy"]["resources"]["limits"]["memory"] == "256M"
    assert service["logging"]["options"] == {"max-size": "10m", "max-file": "3"}
    assert service["stop_grace_period"] == "10s"
    assert load_yaml(tmp_path / "compose.yaml")["networks"]["mcp-net"] == {"external": True}

    config = load_config(str(tmp_path / "config" / "config.json"))
    [server] = config.servers.values()
    assert (server.name, server.transport, server.command, server.args) == (
        "filesystem", "stdio", "mcp-server-filesystem", ("/workspace",),
    )  # fmt: skip
    assert config.proxy.port == 9071
    text = (tmp_path / "config" / "config.json").read_text() + (tmp_path / "Dockerfile").read_text()
    assert "npx" not in text.replace("npx/uvx", "")
    assert "uvx" not in text.replace("npx/uvx", "")


def test_python_bridge_installs_into_its_own_venv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scaffold(capsys, tmp_path, *SEED_FETCH)
    runs = " ".join(i.args for i in only(parse_dockerfile(tmp_path / "Dockerfile"), "RUN"))
    assert "uv tool install --no-cache mcp-server-fetch==0.1.4" in runs
    service = load_yaml(tmp_path / "compose.yaml")["services"]["mcp-fetch-bridge"]
    assert "volumes" not in service
    assert (
        load_config(str(tmp_path / "config" / "config.json")).servers["fetch"].command == "mcp-server-fetch"
    )


def test_bridge_and_central_registration_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`server add NAME --port P` points at the host, port and route the scaffolded bridge serves."""
    bridge, central = tmp_path / "bridge", tmp_path / "central.json"
    scaffold(capsys, bridge, *SEED_FILESYSTEM, "--add-auth")
    assert (
        cli(capsys, "server", "add", "filesystem", "--port", "9071", "--add-auth", "-c", str(central)).code
        == 0
    )
    entry = jsonc.loads(central.read_text())["mcpServers"]["filesystem"]
    service = load_yaml(bridge / "compose.yaml")["services"]["mcp-filesystem-bridge"]
    bridge_config = jsonc.loads((bridge / "config" / "config.json").read_text())
    assert entry["url"] == f"http://{service['container_name']}:9071/filesystem/sse"
    assert bridge_config["mcpProxy"]["addr"] == ":9071"
    assert "filesystem" in bridge_config["mcpServers"]
    # Both sides use the same variable: the bridge demands it, the central proxy sends it.
    assert bridge_config["mcpProxy"]["options"]["authTokens"] == ["${MCP_PROXY_TOKEN}"]
    assert entry["headers"] == {"Authorization": "Bearer ${MCP_PROXY_TOKEN}"}
    assert service["environment"] == ["MCP_PROXY_TOKEN=${MCP_PROXY_TOKEN:?set MCP_PROXY_TOKEN}"]


def test_the_bridge_config_is_a_working_mcp_central(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bridge is `mcp-central serve` with one stdio upstream: serve the generated config (with the
    package's executable on PATH, as the image has it) and check its routes."""
    scaffold(capsys, tmp_path, "--service", "time", "--runtime", "python", "--pkg", "mcp-server-time",
             "--version", "2025.9.25", "--bin-cmd", "mcp-server-time", "--port", "9073")  # fmt: skip
    assert shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    port = free_port()
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with serving(tmp_path / "config" / "config.json", port, env):
        run = cli(capsys, "check", "--url", f"http://127.0.0.1:{port}", "--format", "json")
    assert run.code == 0, run.out + run.err
    assert [(r["route"], r["ok"], r["tools"]) for r in json.loads(run.out)] == [
        ("time", True, 2),
        ("time", True, 2),
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("--pkg", "pkg; rm -rf /"), "--pkg: 'pkg; rm -rf /' is not a valid node package name"),
        (("--version", "latest tag"), "--version: expected an exact version"),
        (("--port", "70000"), "--port: expected a port between 1 and 65535"),
        (("--service", "mcp"), "--service: 'mcp' cannot be a route name"),
    ],
)
def test_bad_flags_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    args = list(SEED_FILESYSTEM)
    args[args.index(change[0]) + 1] = change[1]
    run = cli(capsys, "bridge", "scaffold", *args, "--out", str(tmp_path / "out"))
    assert run.code == 1
    assert expected in run.err
    assert not (tmp_path / "out").exists()


def test_existing_files_are_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scaffold(capsys, tmp_path, *SEED_FILESYSTEM)
    (tmp_path / "config" / "config.json").write_text("// edited by hand\n{}")
    before = snapshot(tmp_path)
    run = cli(capsys, "bridge", "scaffold", *SEED_FILESYSTEM, "--out", str(tmp_path))
    assert run.code == 1
    assert f"{tmp_path / 'config' / 'config.json'}: already exists (pass --force" in run.err
    assert snapshot(tmp_path) == before
    assert cli(capsys, "bridge", "scaffold", *SEED_FILESYSTEM, "--out", str(tmp_path), "--force").code == 0


# --------------------------------------------------------------------------- the registry check

PUBLISHED = {
    # The npm registry's answer for a scoped package is at /@scope%2Fname (its '/' encoded).
    "/@modelcontextprotocol%2Fserver-filesystem": {
        "dist-tags": {"latest": "2025.8.21"},
        "versions": {"0.5.1": {}, "0.6.2": {}, "2025.8.21": {}},
    },
    "/pypi/mcp-server-fetch/json": {
        "info": {"version": "2025.4.7"},
        "releases": {"0.1.0": [], "2025.1.14": [], "2025.4.7": []},
    },
    "/pypi/broken/json": "not JSON",
}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A local npm registry and PyPI JSON API on 127.0.0.1 serving ``PUBLISHED``; yields the paths asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            document = PUBLISHED.get(self.path)
            status = 404 if document is None else 200
            body = document if isinstance(document, str) else json.dumps(document or {"error": "Not found"})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv(NPM_URL_ENV, base)
    monkeypatch.setenv(PYPI_URL_ENV, f"{base}/pypi")
    try:
        yield asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (
            SEED_FILESYSTEM,
            "@modelcontextprotocol/server-filesystem has no version 0.2.3 on npm: the latest is 2025.8.21",
        ),
        (SEED_FETCH, "mcp-server-fetch has no version 0.1.4 on PyPI: the latest is 2025.4.7"),
    ],
)
def test_the_seeds_pins_do_not_exist_and_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: list[str], seed: list[str], expected: str
) -> None:
    run = cli(capsys, "bridge", "scaffold", *seed, "--out", str(tmp_path / "out"))
    assert run.code == 1
    assert f"--version: {expected}" in run.err
    assert not (tmp_path / "out").exists()
    assert len(registry) == 1


def test_a_published_version_is_scaffolded_without_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: list[str]
) -> None:
    for seed, version, out in ((SEED_FILESYSTEM, "2025.8.21", "fs"), (SEED_FETCH, "2025.1.14", "fetch")):
        args = list(seed)
        args[args.index("--version") + 1] = version
        run = cli(capsys, "bridge", "scaffold", *args, "--out", str(tmp_path / out))
        assert run.code == 0, run.err
        assert "warning" not in run.err
        assert (tmp_path / out / "Dockerfile").exists()
    assert registry == ["/@modelcontextprotocol%2Fserver-filesystem", "/pypi/mcp-server-fetch/json"]


def test_a_package_the_registry_does_not_know_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: list[str]
) -> None:
    args = list(SEED_FETCH)
    args[args.index("--pkg") + 1] = "mcp-server-fecth"
    run = cli(capsys, "bridge", "scaffold", *args, "--out", str(tmp_path / "out"))
    assert run.code == 1
    assert "--pkg: 'mcp-server-fecth' does not exist on PyPI" in run.err
    assert not (tmp_path / "out").exists()


def test_an_unreachable_or_broken_registry_only_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv(NPM_URL_ENV, closed)
    run = cli(capsys, "bridge", "scaffold", *SEED_FILESYSTEM, "--out", str(tmp_path / "fs"))
    assert run.code == 0, run.err
    assert (
        f"warning: could not check @modelcontextprotocol/server-filesystem 0.2.3 on npm ({closed})" in run.err
    )
    assert "the version is unchecked" in run.err
    assert (tmp_path / "fs" / "Dockerfile").exists()

    args = list(SEED_FETCH)
    args[args.index("--pkg") + 1] = "broken"
    run = cli(capsys, "bridge", "scaffold", *args, "--out", str(tmp_path / "broken"))
    assert run.code == 0, run.err
    assert "warning: could not check broken 0.1.4 on PyPI" in run.err
    assert "the answer is not JSON" in run.err

    run = cli(capsys, "bridge", "scaffold", *SEED_FETCH, "--no-registry-check", "--out", str(tmp_path / "f"))
    assert (run.code, run.err) == (0, "")
    assert "/pypi/mcp-server-fetch/json" not in registry  # not asked at all


def test_server_arguments_reach_the_bridge_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Dash-leading server arguments: ``--server-arg=--flag`` (repeatable) and everything after ``--``."""
    run = cli(
        capsys, "bridge", "scaffold", *SEED_FILESYSTEM, "--server-arg=--read-only", "--out", str(tmp_path),
        "--", "--max-depth", "3",
    )  # fmt: skip
    assert run.code == 0, run.err
    [server] = load_config(str(tmp_path / "config" / "config.json")).servers.values()
    assert server.args == ("--read-only", "--max-depth", "3", "/workspace")  # options before the folder

    run = cli(capsys, "bridge", "scaffold", *SEED_FETCH, "--out", str(tmp_path / "fetch"),
              "--server-arg", "--ignore-robots-txt", "--server-arg=--user-agent=mcp-central")  # fmt: skip
    assert run.code == 2  # argparse cannot take a dash-leading value as a separate word: say so
    assert "--server-arg=--flag" in cli(capsys, "bridge", "scaffold", "--help").out
    run = cli(capsys, "bridge", "scaffold", *SEED_FETCH, "--out", str(tmp_path / "fetch"),
              "--server-arg=--ignore-robots-txt", "--server-arg=--user-agent=mcp-central")  # fmt: skip
    assert run.code == 0, run.err
    [server] = load_config(str(tmp_path / "fetch" / "config" / "config.json")).servers.values()
    assert server.args == ("--ignore-robots-txt", "--user-agent=mcp-central")
