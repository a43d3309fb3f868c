"""A lean load generator: raw HTTP/1.1 over asyncio streams, so the client costs little next to the
proxy it measures (an httpx client alone spends ~1 ms per call). Only what the benchmark needs:
keep-alive POSTs with Content-Length or chunked answers, and one SSE stream reader.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from mcp_central.core.sse_parser import SSEParser

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
}


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=16 * 1024 * 1024)
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        head += [f"{key}: {value}" for key, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status, response_headers = await self._read_head()
        return status, response_headers, await self._read_body(response_headers)

    async def _read_head(self) -> tuple[int, dict[str, str]]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        return status, headers

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        return b""

    async def open_stream(self, path: str, headers: dict[str, str]) -> dict[str, str]:
        """Send a GET for an SSE stream; return its headers (read events with ``events``)."""
        head = [f"GET {path} HTTP/1.1", f"Host: {self.host}", *(f"{k}: {v}" for k, v in headers.items())]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        _status, response_headers = await self._read_head()
        return response_headers

    async def events(self) -> Any:
        parser = SSEParser()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return
            for event in parser.feed(chunk[:-2]):
                yield event

    def close(self) -> None:
        self.writer.close()


def call(request_id: int, text: str = "x", tool: str = "echo", **arguments: Any) -> bytes:
    args = {"text": text, **arguments}
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": args},
        }
    )


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}


def modern_call(request_id: int, text: str = "x", tool: str = "echo", **arguments: Any) -> bytes:
    """A stateless (2026-07-28) ``tools/call``: the envelope rides in ``_meta``."""
    args = {"text": text, **arguments}
    params = {"name": tool, "arguments": args, "_meta": MODERN_META}
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})
