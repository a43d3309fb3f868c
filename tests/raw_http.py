"""A raw streamable-HTTP client for tests that must control the wire: when a connection drops,
which headers go, what each SSE event carries. Everything else uses the official SDK client."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from conftest import INIT_REQUEST
from mcp_central.core.sse_parser import Event, SSEParser

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class Session:
    def __init__(self, client: httpx.AsyncClient, url: str, version: str = "2025-11-25") -> None:
        self.client, self.url, self.version = client, url, version
        self.headers: dict[str, str] = {}

    async def open(self) -> Session:
        init = {**INIT_REQUEST, "params": {**INIT_REQUEST["params"], "protocolVersion": self.version}}
        response = await self.client.post(self.url, content=orjson.dumps(init), headers=HEADERS)
        assert response.status_code == 200, response.text
        self.headers = {
            "Mcp-Session-Id": response.headers["mcp-session-id"],
            "MCP-Protocol-Version": self.version,
        }
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    async def post(self, message: dict[str, Any]) -> httpx.Response:
        return await self.client.post(
            self.url, content=orjson.dumps(message), headers={**HEADERS, **self.headers}
        )

    def stream_call(self, request_id: int, tool: str, **arguments: Any) -> Any:
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": {"progressToken": f"p{request_id}"}},
        }
        return self.client.stream(
            "POST", self.url, content=orjson.dumps(body), headers={**HEADERS, **self.headers}
        )

    async def rpc(
        self, request_id: int, method: str, params: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Send a request; its answer and whatever came before it on its reply (JSON or SSE)."""
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        headers = {**HEADERS, **self.headers}
        async with self.client.stream("POST", self.url, content=orjson.dumps(body), headers=headers) as reply:
            assert reply.status_code == 200, await reply.aread()
            if reply.headers["content-type"].startswith("application/json"):
                return dict(orjson.loads(await reply.aread())), []
            events = await events_until(reply, lambda events: any("id" in m for m in messages(events)))
        got = messages(events)
        return got[-1], got[:-1]

    def resume(self, last_event_id: str) -> Any:
        headers = {**self.headers, "Accept": "text/event-stream", "Last-Event-ID": last_event_id}
        return self.client.stream("GET", self.url, headers=headers)


async def events_until(response: httpx.Response, stop: Any) -> list[Event]:
    """Read SSE events from ``response`` until ``stop(events)`` holds (or the stream ends)."""
    parser, events = SSEParser(), []
    async for chunk in response.aiter_bytes():
        events.extend(parser.feed(chunk))
        if stop(events):
            break
    return events


def messages(events: list[Event]) -> list[dict[str, Any]]:
    return [orjson.loads(event.data) for event in events if event.data]


async def call(session: Session, request_id: int, tool: str, **arguments: Any) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    response = await session.post(body)
    assert response.status_code == 200, response.text
    return dict(response.json())
