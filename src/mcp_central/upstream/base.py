"""The one seam every upstream transport sits behind.

A transport moves raw JSON-RPC messages (dicts) between mcp-central and one MCP server. It knows
only what its wire needs (process pipes, an SSE endpoint, an HTTP session header, the negotiated
protocol version header); it never interprets MCP methods, never remaps ids and never retries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Protocol

from mcp_central.types import Message


class OnMessage(Protocol):
    """Called once per message received from the upstream, in arrival order, on the event loop.
    ``related`` is the upstream id of the request whose reply stream carried the message (streamable
    HTTP says so); transports whose wire says nothing (stdio, legacy SSE) leave it out."""

    def __call__(self, message: Message, related: int | None = None) -> None: ...


OnClose = Callable[[BaseException | None], None]
"""Called at most once when the transport stops for good: ``None`` for a clean close, else why."""


class UpstreamTransport(Protocol):
    """What ``upstream.link`` needs from stdio, SSE and streamable HTTP alike.

    Contract:
    - ``start`` returns once ``send`` may be called; it raises ``UpstreamError`` when the server
      cannot be reached (process fails to spawn, HTTP connection refused, SSE endpoint event missing).
    - ``send`` does not wait for an answer, and never raises. If a *request* cannot be delivered
      (HTTP error status, connection dropped), the transport answers it itself by calling
      ``on_message`` with a JSON-RPC error response carrying the same id, so a caller never waits
      forever.
    - ``send`` returns within the server's ``timeout`` (the transport is built with it) even when
      the server stops reading: a stdio server that has not taken the message off its stdin by
      then, or an HTTP server that has not accepted the request body, gets the request answered
      with an error as above. A stdio message is not withdrawn (that would break the framing); when
      more than ``maxMessageBytes`` wait unread, the transport reports itself lost (``on_close``).
    - ``on_close`` fires once when the transport ends for any reason other than ``close()``.
    - ``close`` is idempotent and releases everything (kills the child process, ends HTTP sessions).
    """

    dropped: Counter[str]
    """Messages from the server the transport dropped itself, by reason (``over-limit``: past
    ``maxMessageBytes``; ``malformed``: not JSON). The link hands it its core's counter, so the
    counts outlive restarts and reach ``/status`` and ``/metrics`` with the core's own."""

    async def start(self, on_message: OnMessage, on_close: OnClose) -> None: ...

    async def send(self, message: Message) -> None: ...

    def set_protocol_version(self, version: str) -> None:
        """Tell HTTP transports the negotiated revision to send as ``MCP-Protocol-Version``."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> str:
        """A short human description for logs and ``/status`` (command line or URL, no secrets)."""
        ...
