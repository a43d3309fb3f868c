"""The HTTP edge: uvicorn's httptools protocol with the limits a client meets before any request
reaches the gateway, and so before any token is checked.

- A request's line and headers (its *head*) are at most ``maxHeaderBytes``: past it the client
  gets HTTP 431 and the connection closes, and the parser never holds more than the limit.
- A head must be complete within ``headerTimeout`` of its first byte (a new connection's first
  head: of the connection), else HTTP 408 (or, if nothing came, a plain close). Idle kept-alive
  connections stay bounded by uvicorn's ``timeout_keep_alive``.
- At most ``maxConnections`` connections are open; one more gets HTTP 503 at once, before it has
  sent anything. uvicorn's own ``limit_concurrency`` is not used: it answers only once a full head
  has arrived (a slow head still holds its socket) and counts ASGI tasks too, so open SSE streams
  would refuse quick requests. Here an SSE stream counts as the one connection it is.

Every refusal is counted and logged (``Tally``): the first at once, then a total every
``REPORT_SECONDS`` while they go on, so a flood shows in the log without flooding it.

This module must not look at what a request says (only how many bytes its head has), and must add
no per-request work on the hot path beyond a byte count and one timer per head.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from uvicorn.config import Config as UvicornConfig
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from mcp_central.ops.tally import Tally

log = logging.getLogger("mcp_central.edge")

LINGER_SECONDS = 2.0
"""After a refusal the connection's write side is shut and what the client still sends is read
and dropped for this long, so that the client reads the answer instead of a reset."""
MAX_LINGERING_REFUSED = 32
"""Connections refused at the cap that may linger at once (they hold a descriptor beyond
``maxConnections``); past that, a refused connection is closed right after its 503."""


@dataclass
class Edge:
    """The limits of one listener and what they refused (shared by all its connections)."""

    max_header_bytes: int
    header_timeout: float
    max_connections: int
    lingering_refused: int = 0
    over_capacity: Tally = field(
        default_factory=lambda: Tally(
            log,
            logging.WARNING,
            "connection limit reached (mcpProxy.options.maxConnections): new connections get 503",
        )
    )
    head_too_large: Tally = field(
        default_factory=lambda: Tally(
            log, logging.INFO, "request head over mcpProxy.options.maxHeaderBytes refused with 431"
        )
    )
    head_too_slow: Tally = field(
        default_factory=lambda: Tally(
            log,
            logging.INFO,
            "connection closed: request head not complete within mcpProxy.options.headerTimeout",
        )
    )


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol behind the ``Edge`` limits; ``edge_protocol`` binds the limits."""

    edge: ClassVar[Edge]

    def __init__(
        self,
        config: UvicornConfig,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_pending = True
        """Between the end of one request and the end of the next one's head."""
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._discarding = False
        """Refused: what the client still sends is dropped until the connection closes."""
        self._linger_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        edge = self.edge
        if len(self.connections) >= edge.max_connections:
            # Not added to the connections: a flood of refused ones must not keep counting.
            self.transport = transport
            edge.over_capacity.add(f"{len(self.connections)} open, maxConnections {edge.max_connections}")
            may_linger = edge.lingering_refused < MAX_LINGERING_REFUSED
            self._refuse(503, b"Too many connections; try again shortly.\n", linger=may_linger)
            return
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(edge.header_timeout, self._head_timed_out)

    def data_received(self, data: bytes) -> None:
        if not self._head_pending:  # the hot path: a body, or a response under way
            super().data_received(data)
            return
        if self._discarding:
            return
        if self._head_bytes + len(data) <= self.edge.max_header_bytes:
            self._head_bytes += len(data)
            super().data_received(data)
        else:
            self._feed_up_to_limit(data)
        if self._head_pending and self._head_bytes and self._head_timer is None:
            # A head that did not come whole (a kept-alive connection's next request): from its first
            # bytes it has headerTimeout to end. A head that came in one piece never needs a timer.
            self._head_timer = self.loop.call_later(self.edge.header_timeout, self._head_timed_out)

    def _feed_up_to_limit(self, data: bytes) -> None:
        """Feed ``data`` in pieces so that the parser never gets more than ``maxHeaderBytes`` of one
        head: a head that has not ended by then is refused; whatever follows an ended one (its body,
        a pipelined request) is fed as usual."""
        limit = self.edge.max_header_bytes
        while data and not self.transport.is_closing():
            if not self._head_pending:
                super().data_received(data)
                return
            room = limit - self._head_bytes
            if room <= 0:
                self.edge.head_too_large.add(
                    f"more than {limit} bytes from {self._peer()} (maxHeaderBytes {limit})"
                )
                self._refuse(431, b"Request header fields too large.\n", linger=True)
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)

    def on_headers_complete(self) -> None:
        self._head_pending = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_pending, self._head_bytes = True, 0

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._discarding:
            return
        timeout = self.edge.header_timeout
        self.edge.head_too_slow.add(
            f"{self._head_bytes} bytes in {timeout:g} s from {self._peer()} (headerTimeout {timeout:g}s)"
        )
        if self._head_bytes and (self.cycle is None or self.cycle.response_complete):
            self._refuse(408, b"Request headers not received in time.\n", linger=True)
        else:  # nothing came (or a response is under way): nothing to answer
            self.transport.close()

    def _refuse(self, status: int, reason: bytes, *, linger: bool) -> None:
        """Answer ``status`` and close: at once, or after shutting the write side and dropping what
        the client still sends for ``LINGER_SECONDS`` (a close with unread input would reset the
        connection and could destroy the answer before the client reads it)."""
        self._head_pending, self._discarding = True, True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        retry = b"retry-after: 1\r\n" if status == 503 else b""
        self.transport.write(
            b"".join(
                (
                    STATUS_LINE[status],
                    b"content-type: text/plain; charset=utf-8\r\n",
                    b"content-length: %d\r\n" % len(reason),
                    retry,
                    b"connection: close\r\n\r\n",
                    reason,
                )
            )
        )
        if linger and self.transport.can_write_eof():
            self.transport.write_eof()
            if self not in self.connections:
                self.edge.lingering_refused += 1
            self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
            if self not in self.connections:
                self.edge.lingering_refused -= 1
        super().connection_lost(exc)


def edge_protocol(edge: Edge) -> type[EdgeProtocol]:
    """The protocol class to hand uvicorn (``uvicorn.Config(http=…)``), bound to ``edge``."""

    class BoundEdgeProtocol(EdgeProtocol):
        pass

    BoundEdgeProtocol.edge = edge
    return BoundEdgeProtocol
