"""The one SSE writer: every event stream the gateway sends goes through ``EventStream``.

Legacy SSE sessions, streamable-HTTP reply and GET streams (resumable or not), stateless
2026-07-28 replies and ``subscriptions/listen`` all write the same way: open the response, write
events from a ``Channel`` with a keep-alive comment after each idle ``KEEPALIVE_SECONDS``, and end
when the channel closes or the caller's ``stop`` message arrives. What a message means (an answer
that ends a reply, an input request that parks a stateless call) is the caller's business; this
module only frames and writes, and must not decide where messages go nor know about upstreams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import orjson

from mcp_central.downstream.channel import Channel, ChannelClosed
from mcp_central.types import Message, Receive, Send

EVENT_STREAM = b"text/event-stream"
KEEPALIVE_SECONDS = 15.0
"""An idle stream gets an SSE comment this often, so proxies and clients do not time it out."""
KEEPALIVE = b": keepalive\n\n"
RETRY_MS = b"2000"
"""How long a client should wait before resuming a dropped stream."""

Record = Callable[[bytes], str]
"""Stores one event's data for replay and returns its event id (see ``core.replay``)."""


def sse_frame(data: bytes, event: bytes = b"message", event_id: bytes | None = None) -> bytes:
    head = b"event: " + event + b"\n"
    if event_id is not None:
        head += b"id: " + event_id + b"\n"
    return head + b"data: " + data + b"\n\n"


class EventStream:
    """One SSE response: ``open``, then events (recorded for replay when ``record`` is given), ``end``."""

    __slots__ = ("_record", "_send")

    def __init__(self, send: Send, record: Record | None = None) -> None:
        self._send = send
        self._record = record

    async def open(self, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        raw = [
            (b"content-type", EVENT_STREAM),
            (b"cache-control", b"no-cache, no-transform"),
            (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream (the seed's reverse-proxy note)
            *headers,
        ]
        await self._send({"type": "http.response.start", "status": 200, "headers": raw})

    async def frame(self, frame: bytes) -> None:
        """Write a ready-made frame (an ``endpoint`` event, a replayed event) as it is."""
        await self._send({"type": "http.response.body", "body": frame, "more_body": True})

    async def event(self, message: Message) -> None:
        """Write ``message`` as a ``message`` event (with an event id when the stream is recorded)."""
        data = orjson.dumps(message)
        event_id = self._record(data).encode() if self._record is not None else None
        await self.frame(sse_frame(data, event_id=event_id))

    async def priming(self) -> None:
        """An event with an id and no data: lets the client resume even if nothing else arrives."""
        assert self._record is not None, "only recorded streams can be resumed"
        event_id = self._record(b"").encode()
        await self.frame(b"id: " + event_id + b"\nretry: " + RETRY_MS + b"\ndata: \n\n")

    async def relay(self, channel: Channel, stop: Callable[[Message], bool] | None = None) -> Message | None:
        """Write ``channel``'s messages as events until it closes (``None``) or ``stop(message)``
        holds: then that message, not written. Idle stretches get keep-alive comments.
        ``ChannelInterrupted`` propagates (the client left; the caller decides about the channel)."""
        while True:
            try:
                message = await channel.get(timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                await self.frame(KEEPALIVE)
                continue
            except ChannelClosed:
                return None
            if stop is not None and stop(message):
                return message
            await self.event(message)

    async def end(self) -> None:
        await self._send({"type": "http.response.body", "body": b""})

    async def pump(self, channel: Channel, last: Callable[[Message], bool] | None = None) -> None:
        """Relay ``channel`` until it closes or ``last(message)`` holds (that message written), then end."""
        final = await self.relay(channel, last)
        if final is not None:
            await self.event(final)
        await self.end()


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
