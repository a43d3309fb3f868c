"""``sessionMode: "isolated"``: each client session gets its own upstream process, closed with it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from conftest import INIT_REQUEST, fixture_stdio, make_config, mcp_client, route_url, serve

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    config = make_config(
        fixture_stdio("iso", session_mode="isolated", max_sessions=3),
        fixture_stdio("quick", session_mode="isolated", idle_timeout=0.3),
        fixture_stdio("shared"),
    )
    async with serve(config) as (url, _app):
        yield url


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_gone(pid: int) -> None:
    with anyio.fail_after(15):
        while alive(pid):  # noqa: ASYNC110 - another process: nothing to await but its exit
            await anyio.sleep(0.05)


async def pid_of(client: Any) -> int:
    return int((await client.call_tool("pid", {})).content[0].text)


async def test_each_session_gets_its_own_upstream_process(gateway: str, downstream: str) -> None:
    async with mcp_client(route_url(gateway, "iso", downstream), downstream) as a:
        async with mcp_client(route_url(gateway, "iso", downstream), downstream) as b:
            pid_a, pid_b = await pid_of(a), await pid_of(b)
            assert pid_a != pid_b
            assert await pid_of(a) == pid_a  # and keeps it
        await wait_gone(pid_b)  # b's session ended: its process is stopped
        assert alive(pid_a)
    await wait_gone(pid_a)


async def test_shared_sessions_share_one_process(gateway: str) -> None:
    async with (
        mcp_client(route_url(gateway, "shared", "streamable-http"), "streamable-http") as a,
        mcp_client(route_url(gateway, "shared", "sse"), "sse") as b,
    ):
        assert await pid_of(a) == await pid_of(b)


async def test_isolated_sessions_pass_their_own_roots(gateway: str, downstream: str) -> None:
    def roots_of(name: str) -> Any:
        async def list_roots(context: Any) -> types.ListRootsResult:
            return types.ListRootsResult(roots=[types.Root(uri=f"file:///home/{name}", name=name)])

        return list_roots

    url = route_url(gateway, "iso", downstream)
    async with (
        mcp_client(url, downstream, list_roots_callback=roots_of("ada")) as a,
        mcp_client(url, downstream, list_roots_callback=roots_of("alan")) as b,
    ):
        assert (await a.call_tool("roots", {})).content[0].text == "file:///home/ada"
        assert (await b.call_tool("roots", {})).content[0].text == "file:///home/alan"


async def test_shared_links_do_not_leak_one_clients_roots(gateway: str) -> None:
    async def list_roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///private")])

    url = route_url(gateway, "shared", "streamable-http")
    async with mcp_client(url, "streamable-http", list_roots_callback=list_roots) as client:
        with pytest.raises(MCPError, match="roots"):
            await client.call_tool("roots", {})


async def test_max_sessions_is_a_clear_error(gateway: str) -> None:
    url = route_url(gateway, "iso", "streamable-http")
    async with (
        mcp_client(url, "streamable-http"),
        mcp_client(url, "streamable-http"),
        mcp_client(url, "streamable-http"),
    ):
        with pytest.raises((MCPError, ExceptionGroup)) as info:
            async with mcp_client(url, "streamable-http"):
                pass
    assert "maxSessions" in repr(info.value)


async def test_idle_sessions_expire_with_their_upstream(gateway: str) -> None:
    url = route_url(gateway, "quick", "streamable-http")
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(url, json=INIT_REQUEST, headers=headers)
        session = {**headers, "Mcp-Session-Id": answer.headers["mcp-session-id"]}
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "pid", "arguments": {}}}
        upstream_pid = int(
            (await http.post(url, json=call, headers=session)).json()["result"]["content"][0]["text"]
        )
        await wait_gone(upstream_pid)  # idleTimeout 0.3 s: the session and its process go away
        after = await http.post(url, json=call, headers=session)
    assert after.status_code == 404
