"""The official SDK client reaches real upstreams through both downstream transports.

Upstreams: the SDK-written fixture server and ``mcp-server-time`` over stdio. Each test runs once
per downstream transport (streamable HTTP and legacy SSE) via the ``downstream`` fixture.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from conftest import fixture_stdio, make_config, mcp_client, route_url, serve, time_stdio
from mcp_central.config.model import NameFilter, ServerConfig

pytestmark = pytest.mark.anyio


def _messages(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return " | ".join(_messages(inner) for inner in exc.exceptions)
    return str(exc)


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    config = make_config(
        fixture_stdio("fixture", env={"FIXTURE_SECRET": "from-config"}),
        time_stdio("time"),
        ServerConfig(name="broken", transport="stdio", command="/nonexistent/mcp-server", timeout=5),
        ServerConfig(
            name="slowpoke", transport="stdio", command=sys.executable, args=fixture_stdio().args, timeout=1.0
        ),
        fixture_stdio(
            "filtered",
            tool_filter=NameFilter("block", ("add", "big*")),
            prompt_filter=NameFilter("allow", ("nothing-matches",)),
            resource_filter=NameFilter("block", ("fixture://*",)),
        ),
    )
    async with serve(config) as (url, _app):
        yield url


async def test_tools_prompts_and_resources_through_the_proxy(gateway: str, downstream: str) -> None:
    async with mcp_client(route_url(gateway, "fixture", downstream), downstream) as client:
        assert client.server_info is not None and client.server_info.name == "fixture"
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"echo", "add", "env", "big", "slow", "progress"} <= names
        added = await client.call_tool("add", {"a": 2, "b": 40})
        assert added.content[0].text == "42"  # type: ignore[union-attr]
        resource = await client.read_resource("fixture://hello")
        assert resource.contents[0].text == "hello"  # type: ignore[union-attr]
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        assert "Ada" in prompt.messages[0].content.text  # type: ignore[union-attr]


async def test_stdio_env_is_merged_over_the_environment(gateway: str, downstream: str) -> None:
    async with mcp_client(route_url(gateway, "fixture", downstream), downstream) as client:
        secret = await client.call_tool("env", {"name": "FIXTURE_SECRET"})
        path = await client.call_tool("env", {"name": "PATH"})
    assert secret.content[0].text == "from-config"  # type: ignore[union-attr]
    assert path.content[0].text  # type: ignore[union-attr]  # still inherited from the proxy


async def test_mcp_server_time_from_pypi(gateway: str, downstream: str) -> None:
    async with mcp_client(route_url(gateway, "time", downstream), downstream) as client:
        result = await client.call_tool("get_current_time", {"timezone": "UTC"})
    assert '"timezone": "UTC"' in result.content[0].text  # type: ignore[union-attr]


async def test_long_lines_survive_stdio_and_http(gateway: str, downstream: str) -> None:
    # 500,000 characters, sent twice (text and structured content): far past asyncio's 64 KiB line
    # default, just under the SDK client's own 1 MiB limit for one SSE event.
    async with mcp_client(route_url(gateway, "fixture", downstream), downstream) as client:
        result = await client.call_tool("big", {"size": 500_000})
    assert result.content[0].text == "x" * 500_000  # type: ignore[union-attr]


async def test_progress_notifications_reach_the_caller(gateway: str, downstream: str) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with mcp_client(route_url(gateway, "fixture", downstream), downstream) as client:
        result = await client.call_tool("progress", {"steps": 3}, progress_callback=on_progress)
    assert not result.is_error
    assert seen == sorted(seen) and len(seen) == 3


async def test_a_failing_upstream_leaves_the_others_serving(gateway: str, downstream: str) -> None:
    with pytest.raises((MCPError, ExceptionGroup)) as info:
        async with mcp_client(route_url(gateway, "broken", downstream), downstream):
            pass
    assert "upstream 'broken': cannot start '/nonexistent/mcp-server'" in _messages(info.value)
    async with mcp_client(route_url(gateway, "fixture", downstream), downstream) as client:
        assert (await client.call_tool("echo", {"text": "still here"})).content[0].text == "still here"  # type: ignore[union-attr]


async def test_requests_past_the_server_timeout_get_an_error(gateway: str, downstream: str) -> None:
    async with mcp_client(route_url(gateway, "slowpoke", downstream), downstream) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("slow", {"seconds": 30})
        assert "within 1s" in str(info.value)
        # the link stays usable after a timeout
        assert (await client.call_tool("echo", {"text": "ok"})).content[0].text == "ok"  # type: ignore[union-attr]


async def test_status_reports_each_upstream(gateway: str) -> None:
    async with mcp_client(route_url(gateway, "fixture", "streamable-http"), "streamable-http") as client:
        await client.list_tools()
        async with httpx.AsyncClient() as http:
            status = (await http.get(f"{gateway}/status")).json()
    by_name = {up["name"]: up for up in status["upstreams"]}
    assert by_name["fixture"]["state"] == "ready"
    assert by_name["fixture"]["transport"] == "stdio"
    assert by_name["fixture"]["tools"] >= 6
    assert by_name["broken"]["state"] == "failed"
    assert "nonexistent" in by_name["broken"]["lastError"]


async def test_a_chatty_stderr_never_blocks_the_server(gateway: str) -> None:
    # 5,000 lines of 200+ characters: about 1 MB, far more than a pipe buffer holds.
    async with mcp_client(route_url(gateway, "fixture", "streamable-http"), "streamable-http") as client:
        result = await client.call_tool("chatter", {"lines": 5000})
    assert result.content[0].text == "ok"  # type: ignore[union-attr]


async def test_tool_filter_hides_and_refuses_blocked_tools(gateway: str, downstream: str) -> None:
    async with mcp_client(route_url(gateway, "filtered", downstream), downstream) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "echo" in names and "add" not in names and "big" not in names
        with pytest.raises(MCPError, match="Unknown tool: add"):
            await client.call_tool("add", {"a": 1, "b": 2})


async def test_prompt_and_resource_filters_hide_and_refuse(gateway: str, downstream: str) -> None:
    async with mcp_client(route_url(gateway, "filtered", downstream), downstream) as client:
        assert (await client.list_prompts()).prompts == []
        assert (await client.list_resources()).resources == []
        with pytest.raises(MCPError, match="Unknown prompt: greet"):
            await client.get_prompt("greet", {"name": "Ada"})
        with pytest.raises(MCPError, match="Unknown resource: fixture://hello"):
            await client.read_resource("fixture://hello")
