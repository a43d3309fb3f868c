"""Upstreams that speak the stateless 2026-07-28 revision, served to clients of every revision.

Three ways to reach one: the SDK fixture server (dual-era) with ``protocolVersion: "2026-07-28"``
over stdio and over streamable HTTP, and a modern-only server (the fixture behind a shim that
refuses ``initialize``; see tests/servers/modern_only.py), which the gateway must detect by itself.
Clients are the official SDK: handshake-era sessions over both transports, and a 2026-07-28 client.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import (
    TESTS,
    fixture_stdio,
    http_client,
    make_config,
    mcp_client,
    route_url,
    serve,
    start_fixture,
    stop_process,
)
from mcp_central.config.model import ServerConfig
from test_features import Inbox, llm

pytestmark = pytest.mark.anyio

UPSTREAMS = ["pinned-stdio", "pinned-http", "modern-only"]


@pytest.fixture(scope="module")
def http_fixture() -> Iterator[str]:
    proc, port = start_fixture("streamable-http", "pinned-http")
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
async def gateway(http_fixture: str) -> AsyncIterator[str]:
    modern = "2026-07-28"
    config = make_config(
        dataclasses.replace(fixture_stdio("pinned-stdio"), protocol_version=modern),
        ServerConfig(
            name="pinned-http",
            transport="streamable-http",
            url=http_fixture,
            timeout=30,
            protocol_version=modern,
        ),
        ServerConfig(
            name="modern-only",
            transport="stdio",
            command=sys.executable,
            args=(str(TESTS / "servers" / "modern_only.py"), "--name", "modern-only"),
            timeout=30,
        ),
    )
    async with serve(config) as (url, _app):
        yield url


@pytest.fixture(params=UPSTREAMS)
def upstream(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def text(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


async def test_the_link_speaks_stateless_upstream(gateway: str, upstream: str) -> None:
    async with httpx.AsyncClient() as http:
        status = (await http.get(f"{gateway}/status")).json()
    link = next(entry for entry in status["upstreams"] if entry["name"] == upstream)
    assert link["state"] == "ready" and link["protocolVersion"] == "2026-07-28"


async def test_handshake_era_clients_get_everything(gateway: str, upstream: str, downstream: str) -> None:
    inbox, asked, steps = Inbox(), [], []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append(progress)

    url = route_url(gateway, upstream, downstream)
    async with (
        mcp_client(url, downstream, sampling_callback=llm("Paris", asked),
                   logging_callback=inbox.on_log, message_handler=inbox.on_message) as client,
        mcp_client(url, downstream) as other,
    ):  # fmt: skip
        assert client.server_info is not None and client.server_info.name == upstream
        assert "ask_llm_stateless" in {tool.name for tool in (await client.list_tools()).tools}
        assert text(await client.call_tool("add", {"a": 40, "b": 2})) == "42"
        # The upstream answers input_required; the gateway asks this client and retries the call.
        assert text(await client.call_tool("ask_llm_stateless", {"prompt": "capital?"})) == "llm said: Paris"
        assert (
            text(await client.call_tool("progress", {"steps": 3}, progress_callback=on_progress)) == "3 steps"
        )

        await client.set_logging_level("warning")
        await client.call_tool("log_each_level", {})
        await client.subscribe_resource("fixture://hello")
        await other.call_tool("touch", {"uri": "fixture://hello"})
        name = f"grown_{upstream.replace('-', '_')}_{downstream.replace('-', '_')}"
        await other.call_tool("grow", {"name": name})
        await inbox.wait_for(
            lambda: len(inbox.logs) >= 2 and bool(inbox.updated) and inbox.tools_changed >= 1
        )
        assert name in {tool.name for tool in (await client.list_tools()).tools}
        await client.send_ping()  # no ping upstream any more: answered by the gateway
    assert asked == ["Paris"] and steps == [1, 2, 3]
    assert inbox.logs == ["warning", "error"] and inbox.updated == ["fixture://hello"]


async def test_a_cancelled_call_is_cancelled_upstream(gateway: str, upstream: str) -> None:
    url = route_url(gateway, upstream, "streamable-http")
    gate = f"cancel-{upstream}"
    watcher = Inbox()
    async with (
        mcp_client(url, "streamable-http", message_handler=watcher.on_message) as observer,
        mcp_client(url, "streamable-http") as caller,
    ):
        await observer.subscribe_resource(f"gate://{gate}")
        started = anyio.Event()

        async def on_progress(*_: Any) -> None:
            started.set()

        with anyio.move_on_after(20):
            async with anyio.create_task_group() as calls:
                calls.start_soon(
                    lambda: caller.call_tool("gated", {"gate": gate}, progress_callback=on_progress)
                )
                await started.wait()  # the upstream is running the call: now the client gives up
                calls.cancel_scope.cancel()
        await watcher.wait_for(lambda: f"gate://{gate}" in watcher.updated)


async def test_a_2026_client_through_a_stateless_upstream(gateway: str, upstream: str) -> None:
    asked: list[str] = []
    url = route_url(gateway, upstream, "streamable-http")
    async with (
        http_client() as http,
        Client(streamable_http_client(url, http_client=http), sampling_callback=llm("Rome", asked)) as client,
    ):
        assert client.session.protocol_version == "2026-07-28"
        assert text(await client.call_tool("ask_llm_stateless", {"prompt": "capital?"})) == "llm said: Rome"
    assert asked == ["Rome"]
