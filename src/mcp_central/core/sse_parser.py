"""Incremental Server-Sent Events parser (the WHATWG event-stream format), sans-IO.

Feed it bytes as they arrive, in chunks cut anywhere; it returns the complete events. Handles
``\\n``, ``\\r\\n`` and ``\\r`` line ends, multi-line ``data``, comments, ``id`` and ``retry``.
It knows nothing of MCP or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEParser:
    def __init__(self) -> None:
        self._partial: list[bytes] = []
        """The chunks of a line not finished yet, joined only once its end arrives: a long ``data``
        line fed in many chunks costs linear time, not quadratic."""
        self._partial_bytes = 0
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._pending_cr = False

    @property
    def pending_bytes(self) -> int:
        """Bytes held for an event not complete yet (lets a reader bound the size of one event)."""
        return self._partial_bytes + sum(len(part) for part in self._data)

    def feed(self, chunk: bytes) -> list[Event]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the \n of a \r\n split across chunks
        self._pending_cr = False
        if b"\n" not in chunk and b"\r" not in chunk:
            self._partial.append(chunk)
            self._partial_bytes += len(chunk)
            return []
        buffer = b"".join((*self._partial, chunk)) if self._partial else chunk
        events: list[Event] = []
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find(b"\r", start)
            lf = buffer.find(b"\n", start)
            if cr < 0 and lf < 0:
                break
            if cr >= 0 and (lf < 0 or cr < lf):
                end, next_start = cr, cr + 1
                if next_start < length and buffer[next_start : next_start + 1] == b"\n":
                    next_start += 1
                elif next_start == length:
                    self._pending_cr = True
            else:
                end, next_start = lf, lf + 1
            event = self._line(buffer[start:end].decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
            start = next_start
        rest = buffer[start:]
        self._partial = [rest] if rest else []
        self._partial_bytes = len(rest)
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id = value
        elif field == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> Event | None:
        if not self._data and not self._event and self._retry is None:
            return None
        event = Event(self._event or "message", "\n".join(self._data), self._id, self._retry)
        self._data = []
        self._event = ""
        self._retry = None
        return event
