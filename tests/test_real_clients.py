"""What ``mcp-central clients`` prints, fed to the real client programs against a running gateway:
each program's own connection check must report every route connected.

- Claude Code: ``claude mcp list`` reads the printed ``.mcp.json``, and the printed ``claude mcp add``
  lines are run in a shell (streamable HTTP and SSE; a server, the aggregated ``/mcp`` and a group).
- Gemini CLI: ``gemini mcp list`` reads the printed entries merged into ``~/.gemini/settings.json``.
- Codex: ``codex mcp list`` reads the printed TOML (it does not connect), and its ``app-server``
  stdio protocol connects, lists the tools and calls one, without a model or an API key.

Trust steps the tests take for the user (the README lists them): Claude Code's approval of a
project's ``.mcp.json`` servers (``enabledMcpjsonServers`` in ``~/.claude/settings.json``), and
Gemini CLI's folder trust (``~/.gemini/trustedFolders.json``). ``client_programs`` says how the
programs are kept offline and stopped.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_programs import (
    CLAUDE,
    CODEX,
    DEADLINE,
    GEMINI,
    NODE22,
    Box,
    make_box,
    merge_json,
    program,
    run,
    stdio_peer,
)
from conftest import free_port
from manage_helpers import cli, operator_env, serving  # noqa: F401 - autouse fixture

TOKEN = "real-clients-token"
ROUTES = ["--server", "demo", "--route", "all", "--route", "groups/tools"]
"""A server, the aggregated route and a group: entries ``demo``, ``mcp-central`` and ``tools``."""
ENTRIES = ["demo", "mcp-central", "tools"]
DEMO_TOOLS = {"echo", "add", "now"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``mcp-central serve`` with a token-protected server and a group; yields its config file."""
    port = free_port()
    config = tmp_path_factory.mktemp("gateway") / "config.json"
    config.write_text(json.dumps({
        "mcpProxy": {"baseURL": f"http://127.0.0.1:{port}", "addr": f"127.0.0.1:{port}",
                     "options": {"authTokens": ["${MCP_PROXY_TOKEN}"]}},
        "mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "mcp_central.demo"]}},
        "groups": {"tools": {"servers": ["demo"]}},
    }))  # fmt: skip
    with serving(config, port, {"MCP_PROXY_TOKEN": TOKEN}):
        yield config


def printed(capsys: pytest.CaptureFixture[str], config: Path, client: str, *extra: str) -> str:
    """What ``mcp-central clients`` prints for the config (the token variable unset here, as on a
    workstation that never sees the gateway's secrets)."""
    result = cli(capsys, "clients", "--client", client, "-c", str(config), *ROUTES, *extra)
    assert result.code == 0, result.err
    return result.out


def url_of(config: Path, entry: str, transport: str) -> str:
    base = json.loads(config.read_text())["mcpProxy"]["baseURL"]
    leaf = "mcp" if transport == "http" else "sse"
    return {
        "demo": f"{base}/demo/{leaf}",
        "mcp-central": f"{base}/{leaf}",
        "tools": f"{base}/groups/tools/{leaf}",
    }[entry]


def connected(listing: str, pattern: str, config: Path, transport: str) -> list[str]:
    """The entries whose line in ``listing`` matches ``pattern``, with ``{name}`` and ``{url}`` (the
    route's URL for ``transport``) filled in."""
    return [
        name
        for name in ENTRIES
        if re.search(
            pattern.format(name=re.escape(name), url=re.escape(url_of(config, name, transport))),
            listing,
            re.MULTILINE,
        )
    ]


# --------------------------------------------------------------------------- Claude Code


def claude_box(tmp_path: Path) -> Box:
    return make_box(tmp_path, MCP_PROXY_TOKEN=TOKEN)


def claude_list(box: Box) -> str:
    return run([*program(CLAUDE), "mcp", "list"], box)


CLAUDE_CONNECTED = {
    "http": r"^{name}: {url} \(HTTP\) - ✔ Connected$",
    "sse": r"^{name}: {url} \(SSE\) - ✔ Connected$",
}


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_claude_code_connects_with_the_printed_mcp_json(
    gateway: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], transport: str
) -> None:
    box = claude_box(tmp_path)
    (box.project / ".mcp.json").write_text(printed(capsys, gateway, "claude-code", "--transport", transport))
    # The approval Claude Code asks for once per project server, given in the user's settings.
    merge_json(box.home / ".claude" / "settings.json", {"enabledMcpjsonServers": ENTRIES})
    listing = claude_list(box)
    assert connected(listing, CLAUDE_CONNECTED[transport], gateway, transport) == ENTRIES, listing

    # The check is real: with another token in the environment the same file does not connect.
    refused = claude_list(Box(box.home, box.project, {**box.env, "MCP_PROXY_TOKEN": "not-the-token"}))
    assert connected(refused, CLAUDE_CONNECTED[transport], gateway, transport) == [], refused
    assert "401" in refused


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_claude_code_connects_after_the_printed_mcp_add_lines(
    gateway: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], transport: str
) -> None:
    box = claude_box(tmp_path)
    lines = printed(capsys, gateway, "claude-code", "--transport", transport, "--commands").splitlines()
    assert len(lines) == len(ENTRIES)
    # Through a real shell, exactly as printed; `claude` on PATH is the one from npm.
    on_path = box.home / "bin"
    on_path.mkdir()
    (on_path / "claude").symlink_to(program(CLAUDE)[0])
    shell = Box(box.home, box.project, {**box.env, "PATH": f"{on_path}:{box.env['PATH']}"})
    for line in lines:
        added = run(["/bin/sh", "-c", line], shell)
        assert "Added" in added, f"{line}\n{added}"
    listing = claude_list(box)
    assert connected(listing, CLAUDE_CONNECTED[transport], gateway, transport) == ENTRIES, listing
    # The token stayed a variable reference in ~/.claude.json: the shell did not expand it there.
    stored = (box.home / ".claude.json").read_text()
    assert "${MCP_PROXY_TOKEN}" in stored
    assert TOKEN not in stored


# --------------------------------------------------------------------------- Gemini CLI


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_gemini_cli_connects_with_the_printed_settings(
    gateway: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], transport: str
) -> None:
    box = make_box(tmp_path, MCP_PROXY_TOKEN=TOKEN)
    settings = json.loads(printed(capsys, gateway, "gemini", "--transport", transport))
    # Merged into the user's settings beside what keeps Gemini CLI quiet and offline.
    merge_json(
        box.home / ".gemini" / "settings.json",
        {
            **settings,
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
            "telemetry": {"enabled": False},
            "privacy": {"usageStatisticsEnabled": False},
        },
    )
    # Gemini CLI's folder trust: MCP servers are off in folders the user has not trusted.
    merge_json(box.home / ".gemini" / "trustedFolders.json", {str(box.project): "TRUST_FOLDER"})
    listing = run([*program(NODE22, GEMINI), "mcp", "list"], box)
    # "✓ NAME: URL (http|sse) - Connected": the transport Gemini chose must be the one asked for.
    pattern = rf"^✓ {{name}}: {{url}} \({transport}\) - Connected$"
    assert connected(listing, pattern, gateway, transport) == ENTRIES, listing


# --------------------------------------------------------------------------- Codex


def codex_box(tmp_path: Path, gateway: Path, capsys: pytest.CaptureFixture[str]) -> Box:
    box = make_box(tmp_path, MCP_PROXY_TOKEN=TOKEN)
    toml = printed(capsys, gateway, "codex")
    (box.home / ".codex").mkdir()
    (box.home / ".codex" / "config.toml").write_text(toml)
    return box


def test_codex_mcp_list_reads_the_printed_toml(
    gateway: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = codex_box(tmp_path, gateway, capsys)
    tomllib.loads((box.home / ".codex" / "config.toml").read_text())  # our own output is TOML
    listing = run([*program(NODE22, CODEX), "mcp", "list", "--json"], box)
    servers = json.loads(listing[listing.index("[") :])
    assert [s["name"] for s in servers] == sorted(ENTRIES)
    for server in servers:
        assert server["enabled"] is True
        assert server["transport"]["type"] == "streamable_http"
        assert server["transport"]["url"] == url_of(gateway, server["name"], "http")
        assert server["transport"]["bearer_token_env_var"] == "MCP_PROXY_TOKEN"


@pytest.mark.anyio
async def test_codex_app_server_connects_and_calls_through_the_printed_toml(
    gateway: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The app-server protocol needs no model for MCP: server status (a real connect and tools/list
    per server) and a direct tool call on a thread that never starts a turn."""
    box = codex_box(tmp_path, gateway, capsys)
    async with stdio_peer([*program(NODE22, CODEX), "app-server"], box) as codex:
        async with asyncio.timeout(DEADLINE):
            await codex.request("initialize", {"clientInfo": {"name": "mcp-central-tests", "version": "1"}})
            await codex.notify("initialized")
            status = await codex.request("mcpServerStatus/list", {})
            tools = {server["name"]: set(server["tools"]) for server in status["data"]}
            assert set(tools) == set(ENTRIES), status
            assert tools["demo"] >= DEMO_TOOLS, status
            for entry in ("mcp-central", "tools"):  # aggregated: the member's tools, prefixed
                assert {f"demo__{tool}" for tool in DEMO_TOOLS} <= tools[entry], status
            thread = await codex.request("thread/start", {"cwd": str(box.project), "ephemeral": True})
            called = await codex.request(
                "mcpServer/tool/call",
                {"threadId": thread["thread"]["id"], "server": "tools", "tool": "demo__echo",
                 "arguments": {"text": "through codex"}},
            )  # fmt: skip
    assert called["content"] == [{"type": "text", "text": "through codex"}]
    assert called["isError"] is False
