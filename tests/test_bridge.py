"""`mcp-central bridge scaffold`: the seed's add-bridge.sh examples, checked statically (Dockerfile
parsed, compose parsed with PyYAML), and the generated bridge config served for real."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import free_port
from deploy_helpers import cli_args, load_yaml, only, parse_dockerfile
from manage_helpers import cli, operator_env, serving, snapshot  # noqa: F401 - autouse fixture
from mcp_central.config import jsonc
from mcp_central.config.loader import load_config

SEED_FILESYSTEM = [
    "--service", "filesystem", "--runtime", "node", "--pkg", "@modelcontextprotocol/server-filesystem",
    "--version", "0.2.3", "--bin-cmd", "mcp-server-filesystem", "--port", "9071",
    "--workspace", "/home/administrator/projects",
]  # fmt: skip
SEED_FETCH = [
    "--service", "fetch", "--runtime", "python", "--pkg", "mcp-server-fetch", "--version", "0.1.4",
    "--bin-cmd", "mcp-server-fetch", "--port", "9072",
]  # fmt: skip


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
