"""Search mode on a group, as callers with different rights see it: an identity never finds what it
may not call; a member's ``list_changed`` and a reload give the index a new list; a stateless
(2026-07-28) client sees the same three tools; the OpenAPI bridge keeps every tool.

An in-process gateway with real upstreams: the SDK fixture server (``grow`` adds a tool and sends
``list_changed``) and ``mcp-server-time``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import fixture_stdio, http_client, make_config, mcp_client, serve, time_stdio
from mcp_central.config.loader import load_config
from mcp_central.config.model import Config, GroupConfig, IdentityConfig, NameFilter, ToolDiscovery
from mcp_central.downstream.app import Gateway
from mcp_central.errors import ConfigError
from test_features import Inbox, llm
from test_reload import TIME, fixture_entry, last_reload_after, write

pytestmark = pytest.mark.anyio

META = {"search_tools", "describe_tool", "call_tool"}
SEARCH = ToolDiscovery("search")
ALICE, BOB, CAROL = "alice-token-1", "bob-token-2", "carol-token-3"


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[tuple[str, Gateway]]:
    group = GroupConfig("find", ("fx", "time"), discovery=SEARCH)
    identities = {
        "alice": IdentityConfig("alice", (ALICE,), servers=("fx",)),  # may not use time
        "bob": IdentityConfig("bob", (BOB,)),
        "carol": IdentityConfig("carol", (CAROL,), tool_filter=NameFilter("block", ("echo", "*__add"))),
    }
    base = make_config(fixture_stdio("fx"), time_stdio())
    config = Config(base.proxy, base.servers, "test", {"find": group}, identities)
    async with serve(config) as (url, app):
        yield url, app


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def search(client: Any, query: str, limit: int = 10) -> list[str]:
    result = await client.call_tool("search_tools", {"query": query, "limit": limit})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return [tool["name"] for tool in result.structured_content["tools"]]


async def test_an_identity_never_finds_or_calls_what_it_may_not_use(gateway: tuple[str, Gateway]) -> None:
    url = f"{gateway[0]}/groups/find/mcp"

    async def session(token: str) -> dict[str, Any]:
        async with mcp_client(url, "streamable-http", token) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            timely = await search(client, "current time in a timezone")
            echoing = await search(client, "echo the text back")
            adding = await search(client, "add two numbers")
            described = await client.call_tool("describe_tool", {"name": "time__get_current_time"})
            called = await client.call_tool(
                "call_tool", {"name": "time__get_current_time", "arguments": {"timezone": "UTC"}}
            )
            added = await client.call_tool("call_tool", {"name": "fx__add", "arguments": {"a": 40, "b": 2}})
            return {
                "listed": listed,
                "found": set(timely + echoing + adding),
                "described": not described.is_error,
                "called": not called.is_error and "UTC" in text_of(called),
                "added": text_of(added),
            }

    with anyio.fail_after(60):
        alice, bob, carol = await asyncio.gather(session(ALICE), session(BOB), session(CAROL))
    assert alice["listed"] == bob["listed"] == carol["listed"] == META
    assert not any(name.startswith("time__") for name in alice["found"])
    assert {"fx__echo", "fx__add"} <= alice["found"]
    assert not alice["described"] and not alice["called"]
    assert (
        {"time__get_current_time", "fx__echo", "fx__add"} <= bob["found"]
        and bob["described"]
        and bob["called"]
    )
    assert bob["added"] == alice["added"] == "42"
    assert "time__get_current_time" in carol["found"] and carol["called"]
    assert not {"fx__echo", "fx__add"} & carol["found"]
    assert "Unknown tool: fx__add" in carol["added"]


async def test_a_members_list_changed_rebuilds_the_index(gateway: tuple[str, Gateway]) -> None:
    url, app = gateway
    discovery = app.groups["find"].discovery
    inbox = Inbox()
    async with mcp_client(
        f"{url}/groups/find/mcp", "streamable-http", BOB, message_handler=inbox.on_message
    ) as client:
        assert "fx__zebra_counter" not in await search(client, "zebra counter")
        builds = discovery.indexes.builds
        await search(client, "zebra counter")
        assert discovery.indexes.builds == builds  # the same list: the same index
        grown = await client.call_tool(
            "call_tool", {"name": "fx__grow", "arguments": {"name": "zebra_counter"}}
        )
        assert not grown.is_error
        await inbox.wait_for(lambda: inbox.tools_changed >= 1)
        assert (await search(client, "zebra counter"))[0] == "fx__zebra_counter"
        assert discovery.indexes.builds == builds + 1
        called = await client.call_tool("call_tool", {"name": "fx__zebra_counter"})
        assert text_of(called) == "I am zebra_counter"


@asynccontextmanager
async def modern_client(url: str, token: str) -> AsyncIterator[Client]:
    async with (
        http_client(token) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


async def test_a_stateless_client_sees_the_same_three_tools(gateway: tuple[str, Gateway]) -> None:
    async with modern_client(f"{gateway[0]}/groups/find/mcp", BOB) as client:
        assert client.session.protocol_version == "2026-07-28"
        assert {tool.name for tool in (await client.list_tools()).tools} == META
        assert "fx__add" in await search(client, "add two numbers")
        added = await client.call_tool("call_tool", {"name": "fx__add", "arguments": {"a": 40, "b": 2}})
        assert text_of(added) == "42"


async def test_the_openapi_bridge_keeps_listing_every_tool(gateway: tuple[str, Gateway]) -> None:
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {ALICE}"}) as http:
        document = (await http.get(f"{gateway[0]}/openapi/groups/find/openapi.json")).json()
    paths = " ".join(document["paths"])
    assert "fx__add" in paths and "fx__echo" in paths
    assert "search_tools" not in paths and "time__" not in paths  # and still only what alice may use


async def test_a_reload_that_changes_members_or_mode_changes_what_is_found(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    groups = {"g": {"servers": ["fx"], "toolDiscovery": "search"}}
    write(path, {"fx": fixture_entry("fx")}, groups=groups)
    config = load_config(str(path))
    async with (
        serve(config, load=lambda: load_config(str(path)), watch=True) as (base, _app),
        httpx.AsyncClient(timeout=30) as http,
        mcp_client(f"{base}/groups/g/mcp", "streamable-http") as client,
    ):
        assert not any(name.startswith("time__") for name in await search(client, "current time timezone"))
        since = time.time()
        groups["g"]["servers"] = ["fx", "time"]
        write(path, {"fx": fixture_entry("fx"), "time": TIME}, groups=groups)
        assert (await last_reload_after(http, base, since))["summary"] == "added time"
        with anyio.fail_after(30):
            while "time__get_current_time" not in await search(client, "current time timezone"):  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the new upstream is still starting: poll its list

        since = time.time()
        del groups["g"]["toolDiscovery"]
        write(path, {"fx": fixture_entry("fx"), "time": TIME}, groups=groups)
        await last_reload_after(http, base, since)
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"fx__add", "time__get_current_time"} <= names and not META & names


def test_bad_discovery_settings_are_refused_with_their_key_paths(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "mcpProxy": {"options": {"toolDiscovery": "find"}},
                "mcpServers": {"a": {"command": "x", "options": {"alwaysList": ["*"]}}},
                "groups": {"g": {"servers": ["a"], "alwaysList": ["a__*", 3, ""]}},
            }
        )
    )
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    problems = {(problem.path, problem.message) for problem in raised.value.problems}
    paths = {where for where, _message in problems}
    assert paths == {
        "mcpProxy.options.toolDiscovery",
        "mcpServers.a.options.alwaysList",
        "groups.g.alwaysList",
        "groups.g.alwaysList[2]",
    }
    assert any("'find'" in message for _where, message in problems)


async def test_cancelling_a_call_tool_cancels_the_members_call(gateway: tuple[str, Gateway]) -> None:
    async with mcp_client(f"{gateway[0]}/groups/find/mcp", "streamable-http", BOB) as client:
        waiting = asyncio.Event()

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            waiting.set()

        call = asyncio.create_task(
            client.call_tool(
                "call_tool",
                {"name": "fx__gated", "arguments": {"gate": "search-cancel"}},
                progress_callback=on_progress,
            )
        )
        with anyio.fail_after(20):
            await waiting.wait()  # the member is waiting at its gate: progress came through call_tool
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        with anyio.fail_after(20):
            while True:
                gates = await client.call_tool("call_tool", {"name": "fx__cancelled_gates"})
                if "search-cancel" in (gates.structured_content or {}).get("result", []):
                    break
                await asyncio.sleep(0.05)  # the member records the cancellation as it handles it
        after = await client.call_tool("call_tool", {"name": "fx__echo", "arguments": {"text": "after"}})
        assert text_of(after) == "after"


async def test_sampling_reaches_the_client_that_called_through_call_tool(
    gateway: tuple[str, Gateway],
) -> None:
    url = f"{gateway[0]}/groups/find/mcp"
    calls: list[str] = []
    async with (
        mcp_client(url, "streamable-http", BOB, sampling_callback=llm("from A", calls)) as a,
        mcp_client(url, "streamable-http", BOB, sampling_callback=llm("from B", calls)) as b,
    ):
        asked = {"name": "fx__ask_llm", "arguments": {"prompt": "hi"}}
        # One after the other: a shared stdio member's sampling request says nothing of whose call
        # it serves, so the gateway attributes it only while one client has calls in flight there.
        result_a = await a.call_tool("call_tool", asked)
        result_b = await b.call_tool("call_tool", asked)
    assert (text_of(result_a), text_of(result_b)) == ("from A", "from B")
    assert calls == ["from A", "from B"]
