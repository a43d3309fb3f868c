"""Small raw-ASGI helpers shared by the downstream apps: headers, bodies, plain responses.

Kept framework-free on purpose: the hot path is one POST → one answer, and every layer costs.
SSE responses are written by ``downstream.event_stream``; nothing here knows about sessions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import orjson

from mcp_central.types import Receive, Scope, Send

JSON = b"application/json"


class BodyTooLarge(Exception):
    pass


HEADERS_BY_NAME = "mcp_central.headers"
"""Where ``header`` keeps a request's headers by name once it has looked at them (in the scope)."""


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes), decoded as latin-1, or ``None``."""
    by_name: dict[bytes, bytes] | None = scope.get(HEADERS_BY_NAME)
    if by_name is None:  # a request's headers are looked at ten times or so: index them once
        by_name = {}
        for key, value in scope["headers"]:
            by_name.setdefault(key, value)
        scope[HEADERS_BY_NAME] = by_name
    value = by_name.get(name)
    return None if value is None else value.decode("latin-1")


@functools.lru_cache(maxsize=64)
def accepts(accept: str | None, media_type: str) -> bool:
    """Whether an ``Accept`` value takes ``media_type`` (clients send the same few values: cached)."""
    if not accept:
        return False
    for part in accept.split(","):
        kind = part.split(";", 1)[0].strip().lower()
        if kind in (media_type, "*/*") or (kind.endswith("/*") and media_type.startswith(kind[:-1])):
            return True
    return False


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    content_type: bytes = b"text/plain; charset=utf-8",
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def respond_json(
    send: Send, status: int, value: object, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    await respond(send, status, orjson.dumps(value), JSON, headers)
