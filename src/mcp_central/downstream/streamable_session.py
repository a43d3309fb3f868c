"""The sessions of streamable HTTP (2025-03-26 … 2025-11-25): where each message to the client goes.

``StreamableSession`` holds a session's reply streams (one per request in flight, by the client's
request id), its GET stream and its resumable event log, and picks the stream for each message
(``deliver``). ``SharedStreamableSession`` is the same where replicas share sessions
(``sessionStore``): ids and state that cross replicas pass through ``replicated``.

Must not: read or write HTTP (``streamable_http`` does), or import the cluster.
"""

from __future__ import annotations

import time

from mcp_central.downstream import replicated
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.channel import Channel
from mcp_central.downstream.resumable import StreamRegistry
from mcp_central.downstream.session import Route, Session
from mcp_central.types import Message, RequestId

PRIMING_SINCE = "2025-11-25"
"""From this revision on, an SSE stream starts with an id-only event so the client can always resume."""


class StreamableSession(Session):
    transport_name = "streamable-http"

    def __init__(self, route: Route, session_id: str, caller: Caller) -> None:
        super().__init__(route, session_id, caller)
        self.request_streams: dict[RequestId, Channel] = {}
        """Open (or dropped but resumable) reply streams, by the client's request id."""
        self.standalone: Channel | None = None
        self.resumable = StreamRegistry(priming=False)

    def negotiated(self, version: str) -> None:
        self.protocol_version = version
        self.resumable.priming = version >= PRIMING_SINCE

    def expire_detached(self, now: float) -> None:
        """Forget reply streams whose client left and never came back for them."""
        for stream in self.resumable.expire(now):
            if (
                stream.request_id is not None
                and self.request_streams.get(stream.request_id) is stream.channel
            ):
                del self.request_streams[stream.request_id]
            stream.channel.discard()

    def end_stream(self, request_id: RequestId, channel: Channel) -> None:
        """A reply stream is over (answered, or its client gone for good): forget it, and drop what
        still waits in it (messages that came after the answer), which frees its share of ``outbox``."""
        if self.request_streams.get(request_id) is channel:
            del self.request_streams[request_id]
        channel.discard()

    @property
    def busy(self) -> bool:
        return super().busy or bool(self.request_streams) or self.standalone is not None

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        if related_request_id is not None:
            stream = self.request_streams.get(related_request_id)
            if stream is not None:
                stream.put(message)
                return
        if "method" not in message:
            return  # an answer whose request stream is gone: never send answers on the GET stream
        if self.standalone is not None:
            self.standalone.put(message)
        elif self.request_streams:
            # No GET stream: the newest open request stream is the only way left to reach the client.
            next(reversed(self.request_streams.values())).put(message)

    def discard_queues(self) -> None:
        for stream in self.request_streams.values():
            stream.discard()
        if self.standalone is not None:
            self.standalone.discard()

    def close(self) -> None:
        super().close()
        for stream in self.request_streams.values():
            stream.close()
        if self.standalone is not None:
            self.standalone.close()


class SharedStreamableSession(StreamableSession):
    """A session of a route whose replicas share sessions (``sessionStore``): the ids and state that
    must cross replicas pass through ``replicated``. Notifications tied to no request go out only
    on the replica holding the session's GET stream (each replica's links send their own copy)."""

    def __init__(self, route: Route, session_id: str, caller: Caller) -> None:
        super().__init__(route, session_id, caller)
        assert route.share is not None
        self.share = route.share
        self.resumable.tag = f"{self.share.replica}."
        self.task_homes: dict[str, str] = {}
        """Which replica's upstream holds each task this session created (``tasks/…`` go there)."""

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        outgoing = replicated.outgoing(self.share.replica, message)
        if outgoing is None:
            return
        if "result" in outgoing:
            replicated.note_task(self, self.share, self.task_homes, outgoing)
        if related_request_id is None and self.standalone is None and "id" not in outgoing:
            return  # a notification for the GET stream, which another replica holds (or none does)
        super().deliver(outgoing, related_request_id)

    async def submit(self, message: Message) -> None:
        incoming = replicated.incoming(self, self.share, message)
        if incoming is None:
            self.last_active = time.monotonic()
            return
        await super().submit(incoming)
        replicated.note_state(self, self.share, incoming)
