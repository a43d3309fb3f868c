"""Small raw-ASGI helpers shared by the downstream apps: headers, bodies, plain responses, SSE frames.

Kept framework-free on purpose: the hot path is one POST → one answer, and every layer costs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import orjson

from mcp_central.downstream.channel import Channel, ChannelClosed
from mcp_central.types import Message, Receive, Scope, Send

JSON = b"application/json"
EVENT_STREAM = b"text/event-stream"
KEEPALIVE_SECONDS = 15.0
"""An idle stream gets an SSE comment this often, so proxies and clients do not time it out."""


class BodyTooLarge(Exception):
    pass


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes), decoded as latin-1, or ``None``."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def accepts(accept: str | None, media_type: str) -> bool:
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


async def start_event_stream(send: Send, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    raw = [
        (b"content-type", EVENT_STREAM),
        (b"cache-control", b"no-cache, no-transform"),
        (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream (the seed's reverse-proxy note)
        *headers,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": raw})


def sse_frame(data: bytes, event: bytes = b"message", event_id: bytes | None = None) -> bytes:
    head = b"event: " + event + b"\n"
    if event_id is not None:
        head += b"id: " + event_id + b"\n"
    return head + b"data: " + data + b"\n\n"


Record = Callable[[bytes], str]
"""Stores one event's data for replay and returns its event id (see ``core.replay``)."""

RETRY_MS = b"2000"
"""How long a client should wait before resuming a dropped stream."""


async def send_event(send: Send, message: Message, record: Record | None = None) -> None:
    data = orjson.dumps(message)
    event_id = record(data).encode() if record is not None else None
    await send({"type": "http.response.body", "body": sse_frame(data, event_id=event_id), "more_body": True})


async def send_priming(send: Send, record: Record) -> None:
    """An event with an id and no data: lets the client resume even if nothing else arrives."""
    event_id = record(b"").encode()
    frame = b"id: " + event_id + b"\nretry: " + RETRY_MS + b"\ndata: \n\n"
    await send({"type": "http.response.body", "body": frame, "more_body": True})


async def pump(
    send: Send, channel: Channel, last: Callable[[Message], bool] | None = None, record: Record | None = None
) -> None:
    """Write ``channel``'s messages as SSE ``message`` events until it closes or ``last(message)`` holds,
    then end the response. Idle stretches get keepalive comments. ``ChannelInterrupted`` propagates
    (the client left; the caller decides what becomes of the channel)."""
    while True:
        try:
            message = await channel.get(timeout=KEEPALIVE_SECONDS)
        except TimeoutError:
            await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})
            continue
        except ChannelClosed:
            break
        await send_event(send, message, record)
        if last is not None and last(message):
            break
    await send({"type": "http.response.body", "body": b""})


async def watch_disconnect(receive: Receive, channel: Channel, *, interrupt: bool = False) -> None:
    """When the client goes away, close ``channel`` (or only interrupt its reader, so it can be resumed)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if interrupt:
                channel.interrupt()
            else:
                channel.close()
            return
