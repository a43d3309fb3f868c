"""The recent SSE events of one session, so a client can resume a dropped stream. Sans-IO.

Streamable HTTP (2025-03-26+) lets a client that lost a stream reconnect with ``GET`` and
``Last-Event-ID`` and receive what it missed on *that* stream. Event ids therefore name their
stream (``<stream>-<sequence>``) and are unique within the session. The log is bounded by count
and bytes; a client that was away too long gets no replay (and starts over).
"""

from __future__ import annotations

from collections import deque

DEFAULT_MAX_EVENTS = 256
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
"""Per session: enough for a client that lost its connection for a moment, small beside 100 sessions."""


class EventLog:
    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._events: deque[tuple[str, int, bytes]] = deque()
        self._bytes = 0
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._sequence = 0
        self._streams = 0

    def new_stream(self, prefix: str = "s") -> str:
        """A fresh stream name (``s1``, ``g2`` …); it must not contain ``-``."""
        self._streams += 1
        return f"{prefix}{self._streams}"

    def record(self, stream: str, data: bytes) -> str:
        """Remember ``data`` as the next event of ``stream``; its event id."""
        self._sequence += 1
        self._events.append((stream, self._sequence, data))
        self._bytes += len(data)
        while len(self._events) > 1 and self._over_budget():
            self._bytes -= len(self._events.popleft()[2])
        return f"{stream}-{self._sequence}"

    def _over_budget(self) -> bool:
        return len(self._events) > self._max_events or self._bytes > self._max_bytes

    def after(self, event_id: str) -> tuple[str, list[tuple[str, bytes]]] | None:
        """The stream ``event_id`` belongs to and its later events; ``None`` if that is unknown or gone."""
        stream, _, number = event_id.rpartition("-")
        if not stream or not number.isdigit():
            return None
        sequence = int(number)
        if not self._events or sequence < self._events[0][1] - 1 or sequence > self._sequence:
            return None  # evicted (or never issued): replay would silently skip messages
        later = [(f"{s}-{n}", data) for s, n, data in self._events if s == stream and n > sequence]
        return stream, later
