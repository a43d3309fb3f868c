"""A burst of ``tools/list_changed`` from an upstream: every client hears each one, and the upstream
is asked for its tools once or twice, not once per notification.

The upstream is tests/servers/echo_server.py over stdio (a real process): its ``list_changed_burst``
tool sends the notifications and its ``tools_list_count`` tool says how many ``tools/list`` requests
it received since. The client is a raw streamable-HTTP session with its GET stream open, so that
nothing but the gateway itself lists tools.
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest

from conftest import echo_stdio, http_client, make_config, route_url, serve
from mcp_central.core.sse_parser import SSEParser
from raw_http import Session
from test_supervision import wait_status

pytestmark = pytest.mark.anyio

BURST = 2000
NEW_TOOLS = 3
LIST_CHANGED = "notifications/tools/list_changed"


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


async def test_a_burst_of_list_changed_is_forwarded_whole_and_refreshed_once_or_twice() -> None:
    async with serve(make_config(echo_stdio("bursty"))) as (base, _app), http_client() as http:
        url = route_url(base, "bursty", "streamable-http")
        session = await Session(http, url).open()
        heard = 0
        listening, all_heard = anyio.Event(), anyio.Event()

        async def listen() -> None:
            nonlocal heard
            headers = {**session.headers, "Accept": "text/event-stream"}
            async with http.stream("GET", url, headers=headers) as stream:
                assert stream.status_code == 200
                listening.set()
                parser = SSEParser()
                async for chunk in stream.aiter_bytes():
                    for event in parser.feed(chunk):
                        if event.data and orjson.loads(event.data).get("method") == LIST_CHANGED:
                            heard += 1
                    if heard >= BURST:
                        all_heard.set()
                        return

        async with anyio.create_task_group() as group:
            group.start_soon(listen)
            with anyio.fail_after(10):
                await listening.wait()
            burst = tool_call("list_changed_burst", count=BURST, tools=NEW_TOOLS)
            answer, on_the_reply = await session.rpc(2, "tools/call", burst)
            assert "result" in answer and not on_the_reply
            with anyio.fail_after(30):
                await all_heard.wait()
        assert heard == BURST  # every notification reached the client, as before

        # the gateway's own count of the upstream's tools is right after the burst ...
        await wait_status(base, "bursty", lambda up: up["tools"] == 1 + NEW_TOOLS)
        # ... and cost the upstream one walk of its tools, or two when the burst outlasted the first
        answer, _ = await session.rpc(3, "tools/call", tool_call("tools_list_count"))
        assert int(answer["result"]["content"][0]["text"]) <= 2, answer
