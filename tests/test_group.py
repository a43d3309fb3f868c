"""Aggregated routes: ``/mcp`` serves every upstream as one server, ``/groups/NAME/mcp`` a chosen set.

Real upstreams: two SDK fixture servers (``a`` and ``b``: the same tools, prompts and resources, so
every name collides), ``mcp-server-time`` and npm's server-everything over stdio. Each behaviour
runs over both downstream transports (``/mcp`` and ``/sse``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated

from conftest import ECHO_SERVER, fixture_stdio, http_client, make_config, mcp_client, serve, time_stdio
from mcp_central.config.model import GroupConfig, NameFilter, ServerConfig
from test_features import Inbox, llm
from test_node_peers import EVERYTHING
from test_stateless_downstream import until_tools_changed_and_updated

pytestmark = pytest.mark.anyio

LONG = "a-server-whose-name-is-long-enough-to-push-all-its-tool-names-past-64"


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    servers = [fixture_stdio("a"), fixture_stdio("b"), time_stdio(), fixture_stdio(LONG)]
    if EVERYTHING.exists():
        servers.append(
            ServerConfig(
                name="ev", transport="stdio", command="node", args=(str(EVERYTHING), "stdio"), timeout=30
            )
        )
    pair = GroupConfig(
        "pair",
        ("a", "time"),
        auth_tokens=("pair-token",),
        tool_filter=NameFilter("block", ("*__add",)),
        prompt_filter=NameFilter("allow", ("nothing",)),
    )
    config = make_config(*servers, groups={"pair": pair})
    async with serve(config) as (url, _app):
        yield url


def group_url(base: str, downstream: str, group: str | None = None) -> str:
    prefix = f"{base}/groups/{group}" if group else base
    return f"{prefix}/{'mcp' if downstream == 'streamable-http' else 'sse'}"


def text(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


async def test_one_endpoint_serves_every_upstream_with_colliding_names(gateway: str, downstream: str) -> None:
    async with mcp_client(group_url(gateway, downstream), downstream) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"a__add", "b__add", "a__echo", "b__echo", "time__get_current_time"} <= names
        assert text(await client.call_tool("a__echo", {"text": "to a"})) == "to a"
        assert text(await client.call_tool("b__add", {"a": 40, "b": 2})) == "42"
        assert "UTC" in text(await client.call_tool("time__get_current_time", {"timezone": "UTC"}))
        if EVERYTHING.exists():
            assert "ev__get-sum" in names
            assert "42" in text(await client.call_tool("ev__get-sum", {"a": 40, "b": 2}))

        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
        assert {"a__greet", "b__greet"} <= prompts
        greeting = await client.get_prompt("b__greet", {"name": "Ada"})
        assert "Ada" in str(greeting.messages[0].content)

        uris = {str(resource.uri) for resource in (await client.list_resources()).resources}
        assert {"mcp-central://a/fixture://hello", "mcp-central://b/fixture://hello"} <= uris
        read = await client.read_resource("mcp-central://b/fixture://hello")
        assert str(read.contents[0].uri) == "mcp-central://b/fixture://hello"
        assert isinstance(read.contents[0], types.TextResourceContents) and read.contents[0].text == "hello"


async def test_every_exposed_name_fits_client_limits_and_still_works(gateway: str, downstream: str) -> None:
    async with mcp_client(group_url(gateway, downstream), downstream) as client:
        tools = (await client.list_tools()).tools
        names = [tool.name for tool in tools]
        assert len(names) == len(set(names))  # collision-free
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) for name in names), names
        long_echo = [name for name in names if name.startswith(LONG[:20]) and "echo" in name]
        assert len(long_echo) == 1 and long_echo[0] != f"{LONG}__echo"  # shortened, deterministically
        assert text(await client.call_tool(long_echo[0], {"text": "short"})) == "short"
    async with mcp_client(group_url(gateway, downstream), downstream) as again:
        assert long_echo[0] in {tool.name for tool in (await again.list_tools()).tools}


async def test_templates_completion_and_ping_route_to_their_upstream(gateway: str, downstream: str) -> None:
    async with mcp_client(group_url(gateway, downstream), downstream) as client:
        await client.send_ping()
        done = await client.complete(
            types.PromptReference(type="ref/prompt", name="a__greet"), {"name": "name", "value": "G"}
        )
        assert done.completion.values == ["Grace"]
        if EVERYTHING.exists():
            templates = (await client.list_resource_templates()).resource_templates
            template = next(
                t.uri_template for t in templates if t.uri_template.startswith("mcp-central://ev/")
            )
            uri = re.sub(r"\{[^}]+\}", "1", template)
            contents = (await client.read_resource(uri)).contents
            assert str(contents[0].uri) == uri


async def test_notifications_and_server_requests_cross_the_group(gateway: str, downstream: str) -> None:
    watcher, bystander, asked = Inbox(), Inbox(), []
    steps: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append(progress)

    url = group_url(gateway, downstream)
    async with (
        mcp_client(url, downstream, logging_callback=watcher.on_log, message_handler=watcher.on_message,
                   sampling_callback=llm("from the group client", asked)) as client,
        mcp_client(url, downstream, message_handler=bystander.on_message) as other,
    ):  # fmt: skip
        await client.subscribe_resource("mcp-central://b/fixture://hello")
        await other.call_tool("b__touch", {"uri": "fixture://hello"})
        await other.call_tool("a__touch", {"uri": "fixture://hello"})  # same URI on another member
        await watcher.wait_for(lambda: len(watcher.updated) >= 1)

        assert text(await client.call_tool("a__ask_llm", {"prompt": "hi"})) == "from the group client"
        result = await client.call_tool("b__progress", {"steps": 3}, progress_callback=on_progress)
        assert text(result) == "3 steps"

        await client.set_logging_level("warning")
        await client.call_tool("a__log_each_level", {})
        await watcher.wait_for(lambda: len(watcher.logs) >= 2)

        name = f"grown_in_group_{downstream.replace('-', '_')}"
        await other.call_tool("b__grow", {"name": name})
        await watcher.wait_for(lambda: watcher.tools_changed >= 1)
        assert f"b__{name}" in {tool.name for tool in (await client.list_tools()).tools}
    assert watcher.updated == ["mcp-central://b/fixture://hello"]  # subscriber only, right member only
    assert bystander.updated == []
    assert asked == ["from the group client"]
    assert steps == [1, 2, 3]
    assert watcher.logs == ["warning", "error"]


async def test_a_named_group_has_its_own_members_tokens_and_filters(gateway: str, downstream: str) -> None:
    url = group_url(gateway, downstream, "pair")
    async with httpx.AsyncClient() as http:
        refused = await http.post(url if downstream == "streamable-http" else url.replace("/sse", "/message"))
    assert refused.status_code == 401
    async with mcp_client(url, downstream, token="pair-token") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "a__echo" in names and "time__get_current_time" in names
        assert not any(name.startswith("b__") for name in names)  # not a member
        assert "a__add" not in names  # the group's toolFilter
        with pytest.raises(MCPError, match="Unknown tool: a__add"):
            await client.call_tool("a__add", {"a": 1, "b": 2})
        assert (await client.list_prompts()).prompts == []  # promptFilter allows nothing
        assert text(await client.call_tool("a__echo", {"text": "pair"})) == "pair"


async def test_a_stalled_upstream_does_not_stall_the_group(downstream: str) -> None:
    stalled = ServerConfig(
        name="stuck",
        transport="stdio",
        command=sys.executable,
        args=(str(ECHO_SERVER), "--stall", "tools/list"),
        timeout=30,
    )
    config = make_config(fixture_stdio("a"), stalled, aggregate_timeout=0.5)
    async with serve(config) as (base, _app):
        async with mcp_client(group_url(base, downstream), downstream) as client:
            with anyio.fail_after(10):
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert "a__echo" in names and not any(name.startswith("stuck__") for name in names)
                assert text(await client.call_tool("a__echo", {"text": "still here"})) == "still here"
        async with httpx.AsyncClient() as http:
            status: dict[str, Any] = (await http.get(f"{base}/status")).json()
    group = next(group for group in status["groups"] if group["name"] == "all")
    assert "tools/list" in group["skipped"]["stuck"]["reason"]


async def test_a_2026_client_uses_the_group_statelessly(gateway: str) -> None:
    asked: list[str] = []
    steps: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append(progress)

    async with (
        http_client() as http,
        Client(
            streamable_http_client(f"{gateway}/mcp", http_client=http), sampling_callback=llm("Oslo", asked)
        ) as client,
    ):
        assert client.session.protocol_version == "2026-07-28"  # no session: discover, then requests
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"a__add", "b__add", "time__get_current_time"} <= names
        assert text(await client.call_tool("b__add", {"a": 40, "b": 2})) == "42"
        # a's legacy sampling request reaches this client as an input_required round trip
        assert text(await client.call_tool("a__ask_llm", {"prompt": "capital of Norway?"})) == "Oslo"
        assert (
            text(await client.call_tool("a__progress", {"steps": 2}, progress_callback=on_progress))
            == "2 steps"
        )
        read = await client.read_resource("mcp-central://a/fixture://hello")
        assert isinstance(read.contents[0], types.TextResourceContents) and read.contents[0].text == "hello"
    assert asked == ["Oslo"] and steps == [1, 2]


async def test_a_2026_client_listens_to_the_whole_group(gateway: str) -> None:
    async with (
        http_client() as http,
        Client(streamable_http_client(f"{gateway}/mcp", http_client=http)) as listener,
        mcp_client(group_url(gateway, "streamable-http"), "streamable-http") as actor,
    ):
        wanted = ["mcp-central://b/fixture://hello", "mcp-central://nobody/x"]
        async with listener.listen(tools_list_changed=True, resource_subscriptions=wanted) as sub:
            assert sub.honored is not None
            assert list(sub.honored.resource_subscriptions or ()) == ["mcp-central://b/fixture://hello"]
            await actor.call_tool("a__touch", {"uri": "fixture://hello"})  # a's URI: not subscribed
            await actor.call_tool("b__touch", {"uri": "fixture://hello"})
            await actor.call_tool("a__grow", {"name": "grown_for_group_listen"})
            seen = await until_tools_changed_and_updated(sub)
        assert [e.uri for e in seen if isinstance(e, ResourceUpdated)] == ["mcp-central://b/fixture://hello"]
