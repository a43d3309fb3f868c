"""Structured logs of a real ``mcp-central serve`` process: JSON lines with each call's context,
``logEnabled`` per server (``false`` silences a server even when the global option is on), text
by default, and no per-request httpx lines at the default level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from conftest import mcp_client
from log_helpers import call_lines, fixture_entry, http_fixture, json_lines, serving

pytestmark = pytest.mark.anyio


def config(upstream_port: int) -> dict[str, Any]:
    return {
        "mcpProxy": {"options": {"logEnabled": True}},
        "mcpServers": {
            "loud": fixture_entry("loud"),
            "quiet": fixture_entry("quiet", options={"logEnabled": False}),
            "remote": {"url": f"http://127.0.0.1:{upstream_port}/mcp", "transportType": "streamable-http"},
        },
    }


async def calls(url: str) -> None:
    """Several clients at once: each server route, and every server through ``/mcp``."""

    async def loud() -> None:
        async with mcp_client(f"{url}/loud/mcp", "streamable-http") as client:
            await client.call_tool("echo", {"text": "hi"})
            await client.get_prompt("greet", {"name": "Ada"})
            await client.read_resource("fixture://hello")
            await client.list_tools()
            result = await client.call_tool("no_such_tool", {})
            assert result.is_error

    async def quiet() -> None:
        async with mcp_client(f"{url}/quiet/sse", "sse") as client:
            for _ in range(3):
                await client.call_tool("echo", {"text": "shh"})

    async def aggregated() -> None:
        async with mcp_client(f"{url}/mcp", "streamable-http") as client:
            for tool in ("loud__add", "quiet__add", "remote__add"):
                await client.call_tool(tool, {"a": 1, "b": 2})
            with pytest.raises(MCPError):
                await client.call_tool("quiet__slow", {"seconds": 5})  # past its 1 s timeout

    async with anyio.create_task_group() as tasks:
        for client in (loud, quiet, aggregated):
            tasks.start_soon(client)


async def test_json_call_lines_carry_their_context_and_logEnabled_false_silences_a_server(
    tmp_path: Path,
) -> None:
    with http_fixture() as upstream:
        spec = config(upstream)
        spec["mcpServers"]["quiet"]["timeout"] = "1s"
        with serving(spec, tmp_path, "--log-format", "json") as served:
            await calls(served.url)
            text = served.stop()
    lines = json_lines(text)
    for line in lines:
        assert {"ts", "level", "event", "logger"} <= line.keys(), line
        assert line["ts"].endswith("Z") and "T" in line["ts"]
    logged = call_lines(lines)
    assert not [line for line in logged if line.get("server") == "quiet"], "logEnabled: false was ignored"

    def one(**fields: Any) -> dict[str, Any]:
        found = [line for line in logged if all(line.get(k) == v for k, v in fields.items())]
        assert len(found) == 1, (fields, logged)
        return found[0]

    echo = one(route="loud", server="loud", method="tools/call", tool="echo")
    assert echo["outcome"] == "ok" and echo["level"] == "info"
    assert echo["transport"] == "streamable-http" and len(echo["session"]) == 8
    assert isinstance(echo["duration_ms"], float) and 0 <= echo["duration_ms"] < 30_000
    assert "identity" not in echo  # anonymous: no identity to name
    assert one(route="loud", method="prompts/get")["prompt"] == "greet"
    assert one(route="loud", method="resources/read")["uri"] == "fixture://hello"
    failed = one(route="loud", tool="no_such_tool")
    assert failed["outcome"] == "error" and failed["error"]
    # The aggregated route names the member that served it and the member's own tool name.
    assert one(route="all", server="loud", tool="add")["outcome"] == "ok"
    assert one(route="all", server="remote", tool="add")["session"] != echo["session"]
    # Lists are DEBUG: not at the default level.
    assert not [line for line in logged if line["method"] == "tools/list"]
    # The upstream HTTP client's per-request lines stay out at the default level.
    assert not [line for line in lines if line["logger"].startswith(("httpx", "httpcore"))]
    assert "HTTP Request" not in text


async def test_text_is_the_default_with_the_context_fields_appended(tmp_path: Path) -> None:
    spec = {"mcpProxy": {"options": {"logEnabled": True}}, "mcpServers": {"loud": fixture_entry("loud")}}
    with serving(spec, tmp_path) as served:
        async with mcp_client(f"{served.url}/loud/mcp", "streamable-http") as client:
            await client.call_tool("echo", {"text": "hi"})
        text = served.stop()
    assert not text.lstrip().startswith("{")
    line = next(line for line in text.splitlines() if "mcp_central.calls" in line)
    assert "tools/call echo on 'loud': ok in" in line
    assert "route=loud server=loud" in line and "tool=echo" in line and "outcome=ok" in line


async def test_logFormat_in_the_config_selects_json(tmp_path: Path) -> None:
    spec = {"mcpProxy": {"options": {"logFormat": "json"}}, "mcpServers": {"loud": fixture_entry("loud")}}
    with serving(spec, tmp_path) as served:
        async with mcp_client(f"{served.url}/loud/mcp", "streamable-http") as client:
            await client.call_tool("echo", {"text": "hi"})
        lines = json_lines(served.stop())
    # logEnabled is off by default: no call lines, and no access log.
    assert not call_lines(lines)
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    assert [line for line in lines if "serving 1 upstream(s)" in line["event"]]


async def test_per_server_logEnabled_without_the_global_option(tmp_path: Path) -> None:
    spec = {
        "mcpServers": {
            "loud": fixture_entry("loud", options={"logEnabled": True}),
            "other": fixture_entry("other"),
        }
    }
    with serving(spec, tmp_path, "--log-format", "json") as served:
        for name in ("loud", "other"):
            async with mcp_client(f"{served.url}/{name}/mcp", "streamable-http") as client:
                await client.call_tool("echo", {"text": "hi"})
        logged = call_lines(json_lines(served.stop()))
    assert [(line["server"], line["tool"]) for line in logged] == [("loud", "echo")]
