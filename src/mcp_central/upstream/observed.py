"""The client requests a link has in flight, as observers see them: stamped when they go
upstream, turned into a ``core.calls.CallRecord`` when answered, refused before sending, or
cancelled by the client. Only the link driver (``upstream.link``) uses this; it decides nothing
about routing and does no I/O besides reading the clock.
"""

from __future__ import annotations

import time
from typing import Any

from mcp_central.core.calls import CallContext, CallObserver, CallRecord, outcome_of, target_of
from mcp_central.types import Message


class ObservedCalls:
    """Requests in flight by (the owner's ``id()``, the client's request id)."""

    __slots__ = ("_pending", "observer", "server")

    def __init__(self, server: str) -> None:
        self.server = server
        self.observer: CallObserver | None = None
        """Told of every answered client request (metrics, audit, logs); ``None``: nobody listens."""
        self._pending: dict[tuple[int, Any], tuple[CallContext, Message, float, float]] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def sent(self, owner: object, message: Message) -> None:
        """A client request goes upstream (owners without a ``call_context`` are the link's own)."""
        if self.observer is None:
            return
        context = getattr(owner, "call_context", None)
        if context is not None:
            self._pending[id(owner), message.get("id")] = (context, message, time.time(), time.monotonic())

    def answered(self, owner: object, answer: Message) -> None:
        """``answer`` (a response) is about to reach ``owner``: record how its request ended."""
        pending = self._pending.pop((id(owner), answer.get("id")), None)
        if pending is None or self.observer is None:
            return
        context, request, started, since = pending
        outcome, error = outcome_of(answer)
        method = request.get("method", "")
        params = request.get("params")
        self.observer.call_finished(
            CallRecord(
                context,
                self.server,
                method,
                target_of(method, params),
                outcome,
                started,
                time.monotonic() - since,
                error,
                params.get("arguments") if isinstance(params, dict) else None,
            )
        )

    def failed(self, owner: object, request_id: Any, error: dict[str, Any]) -> None:
        """The request never went (the upstream could not be started): record it with ``error``."""
        if (id(owner), request_id) in self._pending:
            self.answered(owner, {"id": request_id, "error": error})

    def cancelled(self, owner: object, notification: Message) -> None:
        """The client cancelled a request (``notifications/cancelled``): no answer will come."""
        params = notification.get("params")
        request_id = params.get("requestId") if isinstance(params, dict) else None
        self.failed(owner, request_id, {"message": "cancelled by the client"})

    def forget(self, owner: object) -> None:
        """``owner`` ended: what it left unanswered is nobody's call any more."""
        gone = id(owner)
        for key in [key for key in self._pending if key[0] == gone]:
            del self._pending[key]
