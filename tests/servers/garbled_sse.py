"""A raw legacy-SSE (2024-11-05) MCP server whose stream carries garbage among its answers.

An ASGI app, served by the test in-process: ``GET /sse`` sends the ``endpoint`` event and then,
for every request POSTed to ``/message``, an event that is not JSON, an event of the wrong
shape, and the answer (``tools/call`` echoes its ``text``). For the upstream fuzz tests only.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

Scope = dict[str, Any]

TOOL = {"name": "echo", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}


class GarbledSSE:
    def __init__(self) -> None:
        self.streams: list[asyncio.Queue[bytes]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":
            await self._stream(send)
        else:
            await self._message(receive, send)

    async def _stream(self, send: Any) -> None:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.streams.append(queue)
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"event: endpoint\ndata: /message\n\n", "more_body": True}
        )
        while True:
            await send({"type": "http.response.body", "body": await queue.get(), "more_body": True})

    async def _message(self, receive: Any, send: Any) -> None:
        body = b""
        while True:
            part = await receive()
            body += part.get("body", b"")
            if not part.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        request = json.loads(body)
        if "id" not in request or "method" not in request:
            return
        method = request["method"]
        if method == "initialize":
            result: Any = {
                "protocolVersion": "2024-11-05",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "garbled", "version": "0"},
            }
        elif method == "tools/list":
            result = {"tools": [TOOL]}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": request["params"]["arguments"]["text"]}]}
        else:
            result = {}
        answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result})
        for queue in self.streams:
            queue.put_nowait(b"event: message\ndata: {not json\n\n")
            queue.put_nowait(b'event: message\ndata: {"jsonrpc": "2.0", "method": "x", "params": [1]}\n\n')
            queue.put_nowait(f"event: message\ndata: {answer}\n\n".encode())
