"""The ``mcp-central`` command as a user runs it: real subprocesses, real config files, real ports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from conftest import CLI, FIXTURE_SERVER, TESTS, free_port, mcp_client, running_gateway
from mcp_central.cli.main import translate_tbxark

SEED = TESTS / "fixtures" / "configs" / "seed_central.json"


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def children_of(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:  # pragma: no cover - procps missing
        return []
    return [int(line) for line in out.split()]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited though.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def running(
    args: list[str], port: int, env: dict[str, str] | None = None
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """Start ``mcp-central`` with ``args``; wait until /healthz answers; stop it by PID afterwards."""
    return running_gateway(args, port, env)


def write_config(path: Path, port: int, tokens: str = "${TEST_TOKEN}") -> Path:
    # JSONC as users write it: comments, a ${VAR}, TBXark's layout.
    path.write_text(
        f"""{{
  // the proxy itself
  "mcpProxy": {{
    "baseURL": "http://127.0.0.1:{port}",
    "addr": "127.0.0.1:{port}",
    "name": "Test Central",
    "options": {{ "authTokens": ["{tokens}"] /* from the environment */ }}
  }},
  "mcpServers": {{
    "fixture": {{ "command": {json.dumps(sys.executable)},
                 "args": [{json.dumps(str(FIXTURE_SERVER))}, "--transport", "stdio"] }},
    "time": {{ "command": {json.dumps(sys.executable)}, "args": ["-m", "mcp_server_time"] }}
  }}
}}
"""
    )
    return path


def test_translate_tbxark_command_line() -> None:
    assert translate_tbxark(["-config", "/config/config.json"]) == [
        "serve",
        "--config",
        "/config/config.json",
    ]
    assert translate_tbxark(["-config=/c.json", "-expand-env=false"]) == [
        "serve",
        "--config",
        "/c.json",
        "--expand-env",
        "false",
    ]
    assert translate_tbxark(["-version"]) == ["--version"]
    assert translate_tbxark(["validate", "--config", "x"]) == ["validate", "--config", "x"]


def test_validate_accepts_the_seed_config() -> None:
    result = subprocess.run(
        [*CLI, "validate", "--config", str(SEED)],
        env={**os.environ, "MCP_PROXY_TOKEN": "t"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "4 server(s)" in result.stdout
    assert "postgres" in result.stdout


def test_validate_reports_every_problem_with_file_and_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"mcpProxy": {"addr": ":99999", "options": {"toolFilter": {"mode": "maybe"}}},'
        ' "mcpServers": {"x": {"args": "not-a-list"}, "y": {"url": "ftp://nope"}}}'
    )
    result = subprocess.run(
        [*CLI, "validate", "--config", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    err = result.stderr
    assert str(bad) in err
    for key in ("mcpProxy.addr", "mcpProxy.options.toolFilter.mode", "mcpServers.x", "mcpServers.y.url"):
        assert key in err, key


def test_serve_refuses_an_invalid_config_before_binding(tmp_path: Path) -> None:
    port = free_port()
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpProxy": {"addr": "127.0.0.1:%d"}, "mcpServers": {"x": {}}}' % port)
    result = subprocess.run(
        [*CLI, "serve", "--config", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "mcpServers.x" in result.stderr
    assert not port_is_open(port)


@pytest.mark.anyio
@pytest.mark.parametrize("style", ["ours", "tbxark"])
async def test_serve_a_config_file_end_to_end(tmp_path: Path, style: str) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port)
    args = ["serve", "--config", str(config)] if style == "ours" else ["-config", str(config), "-expand-env"]
    with running(args, port, env={"TEST_TOKEN": "tok"}) as proc:
        base = f"http://127.0.0.1:{port}"
        for transport, leaf in (("streamable-http", "mcp"), ("sse", "sse")):
            async with mcp_client(f"{base}/fixture/{leaf}", transport, token="tok") as client:
                result = await client.call_tool("echo", {"text": transport})
            assert result.content[0].text == transport  # type: ignore[union-attr]
        async with httpx.AsyncClient() as http:
            assert (await http.post(f"{base}/time/mcp", json={})).status_code == 401
        upstream_children = children_of(proc.pid)
        assert upstream_children, "the stdio upstreams should run as children of the proxy"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    with anyio.fail_after(10):  # the children are reaped during shutdown; allow for slow machines
        while any(pid_alive(pid) for pid in upstream_children):  # noqa: ASYNC110 - no event for another process
            await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_serve_without_config_runs_the_builtin_demo() -> None:
    port = free_port()
    with running(["serve", "--port", str(port)], port):
        async with mcp_client(f"http://127.0.0.1:{port}/demo/mcp", "streamable-http") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            echoed = await client.call_tool("echo", {"text": "hello"})
    assert {"echo", "add", "now"} <= names
    assert "hello" in echoed.content[0].text  # type: ignore[union-attr]


def test_version_flag_both_styles() -> None:
    for args in (["--version"], ["-version"]):
        result = subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)
        assert result.returncode == 0
        assert "0.1.0" in result.stdout


def test_panic_if_invalid_makes_a_failing_upstream_fatal_at_start(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(
        '{"mcpProxy": {"addr": "127.0.0.1:%d"}, "mcpServers": {'
        '"ok": {"command": %s, "args": ["-m", "mcp_central.demo"]},'
        '"bad": {"command": "/nonexistent/server", "options": {"panicIfInvalid": true}}}}'
        % (port, json.dumps(sys.executable))
    )
    result = subprocess.run(
        [*CLI, "serve", "--config", str(config)], capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode != 0
    assert "bad" in result.stderr and "/nonexistent/server" in result.stderr
    assert not port_is_open(port)


@pytest.mark.anyio
async def test_stdio_children_die_when_the_proxy_is_killed(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port, tokens="t")
    with running(["serve", "--config", str(config)], port) as proc:
        async with mcp_client(f"http://127.0.0.1:{port}/fixture/mcp", "streamable-http", token="t") as client:
            await client.list_tools()
        children = children_of(proc.pid)
        assert children
        proc.kill()  # SIGKILL: no chance to clean up; the children's death signal must do it
        proc.wait()
    with anyio.fail_after(10):
        while any(pid_alive(pid) for pid in children):  # noqa: ASYNC110 - no event for another process
            await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_readyz_waits_for_required_upstreams(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(
        '{"mcpProxy": {"addr": "127.0.0.1:%d"}, "mcpServers": {'
        '"ok": {"command": %s, "args": ["-m", "mcp_central.demo"], "required": true},'
        '"optional": {"command": "/nonexistent/server"},'
        '"needed": {"command": "/nonexistent/other", "required": true}}}' % (port, json.dumps(sys.executable))
    )
    with running(["serve", "--config", str(config)], port):
        async with httpx.AsyncClient() as http:
            with anyio.fail_after(60):
                ready = await http.get(f"http://127.0.0.1:{port}/readyz")
                while "upstreams are still starting" in ready.json()["reasons"]:  # another process: poll
                    await anyio.sleep(0.05)
                    ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            status = (await http.get(f"http://127.0.0.1:{port}/status")).json()
    assert ready.status_code == 503
    assert ready.json()["reasons"] == ["required upstream 'needed' is failed"]
    assert {up["name"]: up["state"] for up in status["upstreams"]} == {
        "ok": "ready",
        "optional": "failed",
        "needed": "failed",
    }
