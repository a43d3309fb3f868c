"""The client requests a link has in flight, as observers see them: stamped when they go
upstream, turned into a ``core.calls.CallRecord`` when answered, refused before sending, or
cancelled by the client. Only the link driver (``upstream.link``) uses this; it decides nothing
about routing and does no I/O besides reading the clock.

``tracer`` (module-wide, like OpenTelemetry's own tracer provider) is set once at start when
tracing is on (``ops.tracing``): each request then gets a span from the moment it goes upstream
to its answer, and the request carries the span's ``traceparent`` in ``params._meta``. Unset, it
costs one ``if`` per request.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from mcp_central.core.calls import CallContext, CallObserver, CallRecord, outcome_of, target_of
from mcp_central.types import Message


class CallTracer(Protocol):
    def start(self, context: CallContext, server: str, message: Message) -> object:
        """A span for ``message`` (a client request about to go upstream); may set its
        ``params._meta.traceparent``. Returns the span."""
        ...

    def finish(self, span: object, record: CallRecord | None) -> None:
        """End ``span`` with ``record``'s outcome (``None``: its client went away unanswered)."""
        ...


tracer: CallTracer | None = None
"""Spans for calls, when tracing is on (``ops.tracing.install``); ``None``: none, and no cost."""


def trace_headers(message: Message) -> dict[str, str]:
    """The W3C trace context headers of ``message`` (from its ``params._meta``), for HTTP upstreams."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict):
        return {}
    return {key: value for key in ("traceparent", "tracestate") if isinstance(value := meta.get(key), str)}


class ObservedCalls:
    """Requests in flight by (the owner's ``id()``, the client's request id)."""

    __slots__ = ("_pending", "observer", "server")

    def __init__(self, server: str) -> None:
        self.server = server
        self.observer: CallObserver | None = None
        """Told of every answered client request (metrics, audit, logs); ``None``: nobody listens."""
        self._pending: dict[tuple[int, Any], tuple[CallContext, Message, float, float, object]] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def sent(self, owner: object, message: Message) -> None:
        """A client request goes upstream (owners without a ``call_context`` are the link's own)."""
        if self.observer is None:
            return
        context = getattr(owner, "call_context", None)
        if context is not None:
            span = tracer.start(context, self.server, message) if tracer is not None else None
            self._pending[id(owner), message.get("id")] = (
                context,
                message,
                time.time(),
                time.monotonic(),
                span,
            )

    def answered(self, owner: object, answer: Message) -> None:
        """``answer`` (a response) is about to reach ``owner``: record how its request ended."""
        pending = self._pending.pop((id(owner), answer.get("id")), None)
        if pending is None or self.observer is None:
            return
        context, request, started, since, span = pending
        outcome, error = outcome_of(answer)
        method = request.get("method", "")
        params = request.get("params")
        record = CallRecord(
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
        if span is not None and tracer is not None:
            tracer.finish(span, record)
        self.observer.call_finished(record)

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
            span = self._pending.pop(key)[4]
            if span is not None and tracer is not None:
                tracer.finish(span, None)
