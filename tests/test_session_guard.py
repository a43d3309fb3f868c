"""Sessions belong to whoever opened them, and no one caller can fill a route or pin its memory.

Attacks from the audit, each against a real gateway on loopback: another token holder naming a
session id, one client opening sessions until everyone else gets 503, sessions opened and never
used, and ``initialize`` with a multi-megabyte ``clientInfo``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import orjson
import pytest

from conftest import INIT_REQUEST, echo_stdio, http_client, make_config, serve
from mcp_central.config.model import GroupConfig
from mcp_central.core.sse_parser import SSEParser

pytestmark = pytest.mark.anyio

A, B = "token-alice", "token-bob"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def message_url(stream: httpx.Response) -> tuple[str, AsyncIterator[bytes]]:
    """The POST URL a legacy SSE stream announces, and the stream's iterator: the caller keeps it,
    since a finalized iterator closes the stream (and so ends the session)."""
    parser, chunks = SSEParser(), stream.aiter_bytes()
    while not (events := parser.feed(await anext(chunks))):
        pass
    assert events[0].event == "endpoint" and "sessionId=" in events[0].data
    return f"http://{stream.url.netloc.decode()}{events[0].data}", chunks


async def open_session(http: httpx.AsyncClient, url: str, token: str) -> dict[str, str]:
    """A streamable-HTTP session opened with ``token``: the headers that name it."""
    reply = await http.post(url, content=orjson.dumps(INIT_REQUEST), headers={**HEADERS, **bearer(token)})
    assert reply.status_code == 200, reply.text
    return {"Mcp-Session-Id": reply.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}


@pytest.mark.parametrize("path", ["/shared", "", "/groups/team"])
async def test_a_session_named_with_another_token_is_unknown(path: str) -> None:
    config = make_config(
        echo_stdio("shared", auth_tokens=(A, B)),
        tokens=(A, B),
        groups={"team": GroupConfig("team", ("shared",), (A, B))},
    )
    async with serve(config) as (base, _app), http_client() as http:
        url = f"{base}{path}/mcp"
        session = await open_session(http, url, A)
        body = orjson.dumps(LIST)
        as_bob = {**HEADERS, **session, **bearer(B)}
        assert (await http.post(url, content=body, headers=as_bob)).status_code == 404
        assert (await http.get(url, headers={**as_bob, "Accept": "text/event-stream"})).status_code == 404
        assert (await http.delete(url, headers=as_bob)).status_code == 404
        # Alice's session is untouched by all that.
        reply = await http.post(url, content=body, headers={**HEADERS, **session, **bearer(A)})
        assert reply.status_code == 200
        assert reply.json()["result"]["tools"]


async def test_a_legacy_sse_session_takes_posts_only_from_its_own_token() -> None:
    config = make_config(echo_stdio("shared"), tokens=(A, B))
    async with (
        serve(config) as (base, _app),
        http_client(A) as http,
        http.stream("GET", f"{base}/shared/sse") as stream,
    ):
        url, _chunks = await message_url(stream)
        body = orjson.dumps(INIT_REQUEST)
        refused = await http.post(url, content=body, headers={**HEADERS, **bearer(B)})
        assert refused.status_code == 404
        accepted = await http.post(url, content=body, headers=HEADERS)
        assert accepted.status_code == 202


async def test_one_client_cannot_fill_a_route() -> None:
    config = make_config(echo_stdio("shared"), tokens=(A, B), max_sessions_per_client=3)
    async with serve(config) as (base, app), http_client() as http:
        url = f"{base}/shared/mcp"
        for _ in range(3):
            await open_session(http, url, A)
        refused = await http.post(url, content=orjson.dumps(INIT_REQUEST), headers={**HEADERS, **bearer(A)})
        assert refused.status_code == 503
        assert "maxSessionsPerClient" in refused.json()["error"]["message"]
        await open_session(http, url, B)  # another client still gets in
        status = (await http.get(f"{base}/status", headers=bearer(A))).json()
        assert status["refused"] == {"shared": {"mcpProxy.options.maxSessionsPerClient": 1}}
        assert len(app.routes["shared"].sessions) == 4


async def test_a_session_never_used_after_initialize_ends_soon() -> None:
    config = make_config(echo_stdio("shared"), unused_session_timeout=0.3)
    async with serve(config) as (base, app), http_client() as http:
        url = f"{base}/shared/mcp"
        idle = {**await open_session(http, url, A), **bearer(A)}
        await http.post(
            url,
            content=orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            headers={**HEADERS, **idle},
        )
        used = {**await open_session(http, url, A), **bearer(A)}
        assert (
            await http.post(url, content=orjson.dumps(LIST), headers={**HEADERS, **used})
        ).status_code == 200
        with anyio.fail_after(10):
            while idle["Mcp-Session-Id"] in app.routes["shared"].sessions:  # noqa: ASYNC110 - the reaper's pace
                await anyio.sleep(0.05)
        gone = await http.post(url, content=orjson.dumps(LIST), headers={**HEADERS, **idle})
        assert gone.status_code == 404
        # The session that made a request stays (its idleTimeout is the default 30 minutes).
        assert (
            await http.post(url, content=orjson.dumps(LIST), headers={**HEADERS, **used})
        ).status_code == 200


async def test_a_huge_client_info_is_refused_before_a_session_exists() -> None:
    config = make_config(echo_stdio("shared"))
    async with serve(config) as (base, app), http_client() as http:
        huge = {**INIT_REQUEST, "params": {**INIT_REQUEST["params"], "clientInfo": {"name": "x" * 4_000_000}}}
        reply = await http.post(f"{base}/shared/mcp", content=orjson.dumps(huge), headers=HEADERS)
        assert reply.status_code == 400
        assert "clientInfo" in reply.json()["error"]["message"]
        assert not app.routes["shared"].sessions
        caps = {
            **INIT_REQUEST,
            "params": {**INIT_REQUEST["params"], "capabilities": {"x": ["y" * 100] * 1000}},
        }
        reply = await http.post(f"{base}/shared/mcp", content=orjson.dumps(caps), headers=HEADERS)
        assert reply.status_code == 400
        assert "capabilities" in reply.json()["error"]["message"]
        async with http.stream("GET", f"{base}/shared/sse") as stream:
            url, _chunks = await message_url(stream)
            reply = await http.post(url, content=orjson.dumps(huge), headers=HEADERS)
            assert reply.status_code == 400
            assert "clientInfo" in reply.json()["error"]["message"]
            (sse_session,) = app.routes["shared"].sessions.values()
            assert sse_session.client_info is None
