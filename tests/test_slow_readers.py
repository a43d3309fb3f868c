"""A client that stops reading loses its session; the gateway does not queue for it without bound.

The audit fed an SSE client that never read with upstream messages: 300k of them took 237 MB,
freed only when it disconnected. Here the upstream (the SDK fixture) sends thousands of 10 kB
progress notifications to a client that reads nothing after the first event: far more than the
kernel's socket buffers hold, so the rest waits in the gateway — up to ``maxQueuedMessages``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import orjson
import pytest

from conftest import INIT_REQUEST, fixture_stdio, http_client, make_config, mcp_client, serve
from mcp_central.core.sse_parser import SSEParser
from mcp_central.downstream.app import Gateway

pytestmark = pytest.mark.anyio

LIMIT = 50
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
FLOOD = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {
        "name": "progress",
        "arguments": {"steps": 3000, "padding": 10_000},
        "_meta": {"progressToken": 7},
    },
}
OVERFLOW = "mcpProxy.options.maxQueuedMessages"


async def first_event(response: httpx.Response) -> tuple[str, AsyncIterator[bytes]]:
    """The data of the first SSE event, and the open iterator (kept: dropping it ends the stream)."""
    parser, chunks = SSEParser(), response.aiter_bytes()
    while not (events := parser.feed(await anext(chunks))):
        pass
    return events[0].data, chunks


async def until_closed(app: Gateway, session_id: str) -> None:
    with anyio.fail_after(60):
        while session_id in app.routes["fx"].sessions:  # noqa: ASYNC110 - closed by the gateway itself
            await anyio.sleep(0.05)


async def test_a_legacy_sse_client_that_stops_reading_loses_its_session() -> None:
    config = make_config(fixture_stdio("fx"), max_queued_messages=LIMIT)
    async with (
        serve(config) as (base, app),
        http_client() as http,
        http.stream("GET", f"{base}/fx/sse") as stream,
    ):
        endpoint, _chunks = await first_event(stream)  # and then it reads nothing more
        url = f"{base}{endpoint}"
        session_id = endpoint.partition("sessionId=")[2]
        for message in (INIT_REQUEST, {"jsonrpc": "2.0", "method": "notifications/initialized"}, FLOOD):
            assert (await http.post(url, content=orjson.dumps(message), headers=HEADERS)).status_code == 202
        await until_closed(app, session_id)
        assert app.routes["fx"].refusals[OVERFLOW] == 1
        assert (await http.post(url, content=orjson.dumps(FLOOD), headers=HEADERS)).status_code == 404
        # The upstream and everyone else carry on.
        async with mcp_client(f"{base}/fx/mcp", "streamable-http") as client:
            assert (await client.call_tool("echo", {"text": "still here"})).content[0].text == "still here"  # type: ignore[union-attr]


async def test_a_streamable_client_that_stops_reading_its_reply_loses_its_session() -> None:
    config = make_config(fixture_stdio("fx"), max_queued_messages=LIMIT)
    async with serve(config) as (base, app), http_client() as http:
        url = f"{base}/fx/mcp"
        opened = await http.post(url, content=orjson.dumps(INIT_REQUEST), headers=HEADERS)
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        async with http.stream(
            "POST", url, content=orjson.dumps(FLOOD), headers={**HEADERS, **session}
        ) as reply:
            _first, _chunks = await first_event(reply)  # one progress event, then nothing is read
            await until_closed(app, session["Mcp-Session-Id"])
        assert app.routes["fx"].refusals[OVERFLOW] == 1
        listed = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
        gone = await http.post(url, content=orjson.dumps(listed), headers={**HEADERS, **session})
        assert gone.status_code == 404
        other = await http.post(url, content=orjson.dumps(INIT_REQUEST), headers=HEADERS)
        assert other.status_code == 200


async def test_the_bound_is_per_session_whatever_the_number_of_streams() -> None:
    """Two replies the client dropped (and may resume) each hold fewer than ``maxQueuedMessages``,
    together more: the session ends, as one stream holding that many would end it."""
    config = make_config(fixture_stdio("fx"), max_queued_messages=LIMIT)
    async with serve(config) as (base, app), http_client() as http:
        url = f"{base}/fx/mcp"
        opened = await http.post(url, content=orjson.dumps(INIT_REQUEST), headers=HEADERS)
        session_id = opened.headers["mcp-session-id"]
        session = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
        gates = [f"per-session-{n}" for n in range(2)]
        for n, gate in enumerate(gates):
            call = {
                "jsonrpc": "2.0",
                "id": 10 + n,
                "method": "tools/call",
                "params": {
                    "name": "gated",
                    "arguments": {"gate": gate, "then_steps": LIMIT * 6 // 10},  # 30 < 50, twice 60
                    "_meta": {"progressToken": 10 + n},
                },
            }
            async with http.stream(
                "POST", url, content=orjson.dumps(call), headers={**HEADERS, **session}
            ) as reply:
                await first_event(reply)  # the reply is a stream now; then the client drops it
            streams = app.routes["fx"].sessions[session_id].resumable.streams  # type: ignore[attr-defined]
            with anyio.fail_after(30):
                while len(streams) < n + 1 or any(s.detached_at is None for s in streams.values()):  # noqa: ASYNC110
                    await anyio.sleep(0.02)
        async with mcp_client(url, "streamable-http") as other:
            for gate in gates:  # each dropped reply now gets 30 progress notifications and its answer
                await other.call_tool("open_gate", {"gate": gate})
        await until_closed(app, session_id)
        assert app.routes["fx"].refusals[OVERFLOW] == 1
        listed = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
        gone = await http.post(url, content=orjson.dumps(listed), headers={**HEADERS, **session})
        assert gone.status_code == 404


async def test_a_client_that_keeps_reading_keeps_its_session_however_many_streams_it_opens() -> None:
    """What a session's streams held is given back when they end: a long-lived session that reads
    everything never drifts towards its bound (here 8 messages; each call streams 6)."""
    config = make_config(fixture_stdio("fx"), max_queued_messages=8)
    async with serve(config) as (base, app), mcp_client(f"{base}/fx/mcp", "streamable-http") as client:
        heard: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            heard.append(progress)

        for _ in range(30):
            result = await client.call_tool("progress", {"steps": 5}, progress_callback=on_progress)
            assert result.content[0].text == "5 steps"  # type: ignore[union-attr]
        assert len(heard) == 150
        assert app.routes["fx"].refusals[OVERFLOW] == 0
        (session,) = app.routes["fx"].sessions.values()
        assert session.outbox.queued == 0
