"""Who a link's requests belong to, and the messages a link builds for them.

``Downstream`` is all a link knows of a downstream session; ``Waiter`` owns the link's own
requests (``initialize``, the tool count, re-subscriptions after a restart). No I/O and no routing
decisions here: ``upstream.link`` makes those.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from mcp_central.core.requests import Pending
from mcp_central.types import Message, RequestId


class Downstream(Protocol):
    """What a link needs of a downstream session: somewhere to put messages, and what it can answer."""

    @property
    def client_capabilities(self) -> dict[str, Any]:
        """What the client declared (server→client requests are refused for what it did not)."""
        ...

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        """Queue ``message`` for the client; ``related_request_id`` names the client request it belongs to."""
        ...


class Waiter:
    """The owner of the link's own requests (initialize, tools/list for the tool count)."""

    client_capabilities: dict[str, Any] = {}

    def __init__(self) -> None:
        self.future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        if "method" not in message and not self.future.done():
            self.future.set_result(message)


def answer_with_error(pending: Pending[Downstream], error: dict[str, Any]) -> None:
    """Answer the downstream request behind ``pending`` with a JSON-RPC ``error`` object."""
    pending.owner.deliver(
        {"jsonrpc": "2.0", "id": pending.downstream_id, "error": error}, pending.downstream_id
    )


def cancelled(upstream_id: int, reason: str) -> Message:
    """The ``notifications/cancelled`` that tells the upstream to stop working on ``upstream_id``."""
    return {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": upstream_id, "reason": reason},
    }
