"""Who a link's requests belong to, as the link's asyncio side sees them.

``Downstream`` is all a link knows of a downstream session (the core's ``Owner``); ``Waiter`` owns
the link's own requests (``initialize``, the tool count, re-subscriptions) and turns their answer
into a future. No routing decisions here: ``core.link`` makes those.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp_central.core.link.events import Owner as Downstream
from mcp_central.types import Message, RequestId

__all__ = ["Downstream", "Waiter"]


class Waiter:
    """The owner of one of the link's own requests: its answer resolves ``future``."""

    client_capabilities: dict[str, Any] = {}

    def __init__(self, *, upstream_names: bool = False) -> None:
        self.future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.upstream_names = upstream_names
        """Its ``tools/list`` answers keep the upstream's own names (``toolOverrides`` not applied)."""

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        if "method" not in message and not self.future.done():
            self.future.set_result(message)
