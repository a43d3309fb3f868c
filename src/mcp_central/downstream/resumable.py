"""Resumable SSE streams of a streamable-HTTP session (event ids, ``Last-Event-ID``).

Every event on a session's SSE streams gets an id naming its stream (``core.replay``) and is kept
in the session's bounded event log. When a client drops a stream, the stream's channel is kept
("detached"): messages still arriving for it queue there. A ``GET`` with ``Last-Event-ID`` then
replays what the client missed on *that* stream and continues it — for a request stream, up to its
answer. A dropped stream is not a cancellation: the request stays in flight upstream.

This module writes SSE and owns the reader hand-over; it must not decide where messages go
(that is ``StreamableSession.deliver``) nor know about upstreams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from functools import partial

from mcp_central.core.replay import EventLog
from mcp_central.downstream.channel import Channel, ChannelInterrupted
from mcp_central.downstream.event_stream import EventStream, sse_frame, watch_disconnect
from mcp_central.types import Message, Receive, RequestId, Send

DETACHED_SECONDS = 300.0
"""How long a dropped stream waits for its client to resume it before it is forgotten."""
HANDOVER_SECONDS = 5.0
"""How long a resuming client waits for the connection it replaces to let go of the stream."""


class ResumableStream:
    """One SSE stream of a session: its channel, the request it answers (if any), and who reads it."""

    __slots__ = ("channel", "detached_at", "handing_over", "name", "reader_done", "request_id")

    def __init__(self, name: str, channel: Channel, request_id: RequestId | None) -> None:
        self.name = name
        self.channel = channel
        self.request_id = request_id
        self.detached_at: float | None = None
        """When its client left (``time.monotonic()``); ``None`` while a client reads it."""
        self.reader_done: asyncio.Event | None = None
        self.handing_over = False
        """A resuming client is taking the stream from the connection still reading it."""

    def is_answer(self, message: Message) -> bool:
        return (
            self.request_id is not None and "method" not in message and message.get("id") == self.request_id
        )

    async def take_over(self) -> None:
        """Stop the connection still reading this stream (its client has reconnected) and wait for it."""
        done = self.reader_done
        if done is None or done.is_set():
            return
        self.handing_over = True
        self.channel.interrupt()
        try:
            async with asyncio.timeout(HANDOVER_SECONDS):
                await done.wait()
        except TimeoutError:
            self.handing_over = False
            raise


class StreamRegistry:
    """A session's event log and resumable streams, created on first use (most calls never stream)."""

    __slots__ = ("_log", "priming", "streams", "tag")

    def __init__(self, priming: bool, tag: str = "") -> None:
        self._log: EventLog | None = None
        self.streams: dict[str, ResumableStream] = {}
        self.priming = priming
        """Send an id-only event first (2025-11-25): older clients may choke on an empty ``data``."""
        self.tag = tag
        """Prefixes every stream name (``r1b2.s3``) where replicas share sessions, so an event id
        from another replica's stream never matches one of ours."""

    def kind(self, name: str) -> str | None:
        """``s`` (a reply) or ``g`` (a GET stream) for a stream name of this registry; ``None`` for
        another replica's."""
        if not name.startswith(self.tag):
            return None
        return name[len(self.tag) : len(self.tag) + 1]

    @property
    def log(self) -> EventLog:
        if self._log is None:
            self._log = EventLog()
        return self._log

    def open(self, channel: Channel, request_id: RequestId | None, prefix: str = "s") -> ResumableStream:
        stream = ResumableStream(self.log.new_stream(self.tag + prefix), channel, request_id)
        self.streams[stream.name] = stream
        return stream

    def expire(self, now: float, max_age: float = DETACHED_SECONDS) -> list[ResumableStream]:
        """Forget streams whose client has been gone longer than ``max_age``; return them."""
        gone = [
            s for s in self.streams.values() if s.detached_at is not None and now - s.detached_at > max_age
        ]
        for stream in gone:
            del self.streams[stream.name]
        return gone


async def serve(
    registry: StreamRegistry,
    stream: ResumableStream,
    send: Send,
    receive: Receive,
    *,
    first: Message | None = None,
    replay: Iterable[tuple[str, bytes]] = (),
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> bool:
    """Write ``stream`` until it is done (True) or its client leaves (False: the stream is detached).

    ``replay`` (events the client missed) goes first, then ``first`` (the message that turned a
    reply into a stream), then whatever the channel brings.
    """
    events = EventStream(send, partial(registry.log.record, stream.name))
    done = stream.reader_done = asyncio.Event()
    stream.detached_at = None
    stream.handing_over = False
    stream.channel.clear_interrupt()  # meant for the reader this one replaces
    watcher = asyncio.get_running_loop().create_task(
        watch_disconnect(receive, stream.channel, interrupt=True)
    )
    try:
        await events.open(headers)
        await _send_replay(events, replay)
        if registry.priming:
            await events.priming()
        if first is not None:
            await events.event(first)
            if stream.is_answer(first):
                await events.end()
                registry.streams.pop(stream.name, None)
                return True
        await events.pump(stream.channel, last=stream.is_answer if stream.request_id is not None else None)
        registry.streams.pop(stream.name, None)
        return True
    except ChannelInterrupted:
        stream.detached_at = time.monotonic()
        return False
    finally:
        watcher.cancel()
        done.set()


async def replay_only(send: Send, replay: Iterable[tuple[str, bytes]]) -> None:
    """A stream that has finished: send what the client missed of it, then end."""
    events = EventStream(send)
    await events.open()
    await _send_replay(events, replay)
    await events.end()


async def _send_replay(events: EventStream, replay: Iterable[tuple[str, bytes]]) -> None:
    for event_id, data in replay:
        if data:  # a priming event carries no message
            await events.frame(sse_frame(data, event_id=event_id.encode()))
