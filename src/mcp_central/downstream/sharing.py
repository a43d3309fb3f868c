"""The seam between sessions and the store replicas share them through (``cluster/`` implements it).

A route whose gateway has a ``sessionStore`` gets a ``SessionShare`` in ``Route.share``; without one
(``None``, the default) nothing on any path looks further. Everything crossing this seam is plain
data (labels, ids, records, messages), so the downstream side never imports the cluster.

Must not: import anything from ``cluster/`` or a Redis client.
"""

from __future__ import annotations

from typing import Any, Protocol

from mcp_central.core.session_record import SessionRecord
from mcp_central.downstream.auth import Caller
from mcp_central.types import Message, Receive, Scope, Send


class SessionShare(Protocol):
    replica: str
    """This replica's name in tagged ids and on the bus (short, ``[a-z0-9]``)."""

    async def created(self, session_id: str, record: SessionRecord, ttl: float) -> None:
        """A session was initialized here: store it (``StoreUnavailable`` if the store is down)."""
        ...

    async def lookup(self, route: str, session_id: str) -> SessionRecord | None:
        """The stored session (``None``: unknown, ended or expired; ``StoreUnavailable``)."""
        ...

    def changed(
        self, route: str, session_id: str, key: str, params: dict[str, Any] | None, ttl: float
    ) -> None:
        """A session set (``params``) or removed (``None``) state every replica must repeat."""
        ...

    def ended(self, route: str, session_id: str) -> None:
        """The client ended its session (DELETE): forget it everywhere."""
        ...

    def answer_elsewhere(self, replica: str, route: str, session_id: str, message: Message) -> None:
        """The client's answer to a server→client request that ``replica`` asked: send it there."""
        ...

    async def forward(
        self,
        replica: str,
        route: str,
        caller: Caller,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> bool:
        """Serve this HTTP request on ``replica``, which holds what it needs (a task, a parked
        stateless round, a reply stream), writing its answer here; ``False`` when that replica is
        gone (nothing was sent). The caller travels as who it is, never as its token."""
        ...

    async def relay(self, holder: str, route: str, session_id: str, message: Message) -> bool:
        """A legacy SSE POST for a session whose stream ``holder`` holds: pass it there (``False``
        when that replica is gone)."""
        ...
