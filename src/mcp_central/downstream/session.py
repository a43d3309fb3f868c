"""Downstream sessions and the routes that own them.

A ``Route`` is what one URL serves and decides where a session's messages go: a ``ServerRoute``
(``downstream.server_route``: ``/{name}/mcp``, ``/{name}/sse``) talks to one upstream link; a
``GroupRoute`` (``downstream.group``: ``/mcp``, ``/groups/{name}/…``) to several. A ``Session`` is
one connected client on a route; how messages reach that client (a POST's own stream, the GET
stream, the legacy SSE stream) is the transport subclass's business, in ``deliver``. Sessions never
talk to upstreams themselves.

Below the transports: nothing here writes HTTP or imports a transport or the stateless modules.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from typing import Any, Protocol

import orjson

from mcp_central.config.model import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_QUEUED_MESSAGES,
    DEFAULT_MAX_SESSIONS_PER_CLIENT,
    DEFAULT_ROUTE_MAX_SESSIONS,
)
from mcp_central.core import jsonrpc
from mcp_central.core.calls import CallContext, CallObserver, CallRecord
from mcp_central.core.filters import ToolCheck
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.channel import Channel, QueueBudget
from mcp_central.downstream.sharing import SessionShare
from mcp_central.errors import (
    INVALID_REQUEST,
    LIMIT_EXCEEDED,
    LimitExceeded,
    error_response,
)
from mcp_central.ops.tally import Tally
from mcp_central.types import Message, RequestId
from mcp_central.upstream.link import UpstreamLink

log = logging.getLogger("mcp_central.downstream")

MAX_CLIENT_DESCRIPTION_BYTES = 16 * 1024
"""The most of ``clientInfo``, and of ``capabilities``, a session keeps (as JSON): larger → 400."""


class Endable(Protocol):
    """Something a route ends when it closes (a parked stateless call, a ``subscriptions/listen``
    stream): kept as this protocol so routes do not import the stateless modules built on them."""

    @property
    def caller(self) -> Caller:
        """Who opened it (a reload that takes the route from its identity ends it)."""
        ...

    def end(self) -> None: ...


class Route:
    """What every route has: a name, its tokens, its sessions, and where their messages go."""

    link: UpstreamLink | None = None
    """The one shared link stateless (2026-07-28) requests use; ``None`` where they cannot be served."""
    stateless_refusal = "this route needs a session: connect with initialize (protocol 2025-11-25 or earlier)"
    observers: CallObserver | None = None
    """Where refusals made before any link are reported (the gateway's ``Observers``)."""
    share: SessionShare | None = None
    """The store replicas share sessions through (``sessionStore``); ``None``: this process only."""

    def __init__(
        self,
        name: str,
        path: str,
        auth_tokens: tuple[str, ...],
        idle_timeout: float,
        max_sessions: int = DEFAULT_ROUTE_MAX_SESSIONS,
    ) -> None:
        self.name = name
        self.path = path
        """Where the route lives under ``baseURL``: ``/NAME``, ``/groups/NAME``, or ``""`` (group ``all``)."""
        self.label = path.lstrip("/") or "all"
        """The route in metrics, the audit trail and logs: ``NAME``, ``groups/NAME`` or ``all``."""
        self.auth_tokens = auth_tokens
        self.idle_timeout = idle_timeout
        self.sessions: dict[str, Session] = {}
        self.parked: dict[str, Endable] = {}
        """Stateless requests waiting for the client's input, by their ``requestState``
        (``downstream.stateless.exchange.Exchange``)."""
        self.listeners: set[Endable] = set()
        """Open ``subscriptions/listen`` streams."""
        self.max_sessions = max_sessions
        """``mcpProxy.options.maxSessions``: client sessions this route holds at once."""
        self.max_body_bytes = DEFAULT_MAX_BODY_BYTES
        """The largest request body a client may POST here."""
        self.max_sessions_per_client = DEFAULT_MAX_SESSIONS_PER_CLIENT
        """``mcpProxy.options.maxSessionsPerClient``: sessions one client (address + token) holds here."""
        self.max_queued_messages = DEFAULT_MAX_QUEUED_MESSAGES
        """``mcpProxy.options.maxQueuedMessages``: what one session's streams may have waiting, together."""
        self.per_client: Counter[tuple[str, bytes | str | None]] = Counter()
        """Open sessions by ``Caller.key``."""
        self.tallies: dict[str, Tally] = {}
        """Refusals by the limit's config key: logged without flooding, counted for ``/status``."""

    def admits(self, caller: Caller) -> bool:
        """Whether this route serves ``caller`` (its tokens, or its identity's grants)."""
        return caller.accepted_by(self.auth_tokens)

    def record_refusal(self, caller: Caller | None, method: str, error: str, transport: str) -> None:
        """Report a request refused before any link (401, 403, 429, a session limit) as a call."""
        if self.observers is not None:
            report(self.observers, self.label, caller, transport, method, "refused", error)

    def throttled(self, caller: Caller, message: Message, transport: str) -> tuple[Message, int] | None:
        """Count a JSON-RPC request (not a notification or response) against its identity's rate
        limit; when over it, the error answer (``error.data.retryAfter``) and the seconds to wait."""
        access = caller.access
        if access is None or "id" not in message or "method" not in message:
            return None
        wait = access.throttled()
        if wait is None:
            return None
        detail = (
            f"identity '{access.name}' is over its rate limit ({access.describe_limit()}, "
            f"identities.{access.name}.rateLimit): retry in {wait} s"
        )
        self.record_refusal(caller, str(message["method"]), detail, transport)
        error = {"code": LIMIT_EXCEEDED, "message": detail, "data": {"retryAfter": wait}}
        return error_response(message["id"], error), wait

    def refuse_new_session(self, caller: Caller) -> LimitExceeded | None:
        """Why ``caller`` cannot open a new session on this route now, if it cannot (counted)."""
        if len(self.sessions) >= self.max_sessions:
            detail = f"route '{self.name}' already serves {self.max_sessions} sessions: end one, retry later"
            return self.refused(LimitExceeded("mcpProxy.options.maxSessions", detail))
        if self.per_client[caller.key] >= self.max_sessions_per_client:
            detail = (
                f"this client already holds {self.max_sessions_per_client} sessions on route "
                f"'{self.name}': end one (DELETE it) or retry later"
            )
            return self.refused(LimitExceeded("mcpProxy.options.maxSessionsPerClient", detail))
        return None

    def refused(self, refusal: LimitExceeded) -> LimitExceeded:
        """Count a refusal by its limit and log it (the first of a burst, then counts)."""
        tally = self.tallies.get(refusal.limit)
        if tally is None:
            message = f"route '{self.name}' refused a client ({refusal.limit})"
            tally = self.tallies[refusal.limit] = Tally(log, logging.WARNING, message)
        tally.add(refusal.detail)
        return refusal

    @property
    def refusals(self) -> Counter[str]:
        """How many clients each limit has refused (for ``/status``)."""
        return Counter({limit: tally.total for limit, tally in self.tallies.items()})

    def new_session_id(self) -> str:
        # token_urlsafe: visible ASCII only, as Mcp-Session-Id requires, and unguessable.
        return secrets.token_urlsafe(24)

    async def initialize(self, session: Session, message: Message) -> Message:
        """Answer a session's ``initialize`` (the route connects what the session needs)."""
        raise NotImplementedError

    async def submit(self, session: Session, message: Message) -> None:
        """Route a client message that is not ``initialize``; answers come back through ``deliver``."""
        raise NotImplementedError

    def end(self, session: Session) -> None:
        """The session is over: let go of what it held upstream."""

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            session.close()
        for listener in list(self.listeners):
            listener.end()
        for exchange in list(self.parked.values()):
            exchange.end()
        self.parked.clear()


def report(
    observer: CallObserver,
    route: str,
    caller: Caller | None,
    transport: str,
    method: str,
    outcome: str,
    error: str | None = None,
) -> None:
    """One ``CallRecord`` of the gateway's own answer (a refusal, an admin read): no upstream, so
    server "" and no duration. Built only when it happens: the hot path pays nothing."""
    identity = caller.identity if caller is not None else None
    context = CallContext(route, identity, "", transport)
    observer.call_finished(CallRecord(context, "", method, None, outcome, time.time(), 0.0, error))


def initialize_problem(message: Message) -> str | None:
    """What makes an ``initialize`` request unacceptable before any session exists (HTTP 400)."""
    params = message.get("params")
    if not isinstance(params, dict):
        return None
    for key in ("clientInfo", "capabilities"):
        if key in params and len(orjson.dumps(params[key])) > MAX_CLIENT_DESCRIPTION_BYTES:
            return f"initialize params.{key} is larger than {MAX_CLIENT_DESCRIPTION_BYTES} bytes"
    return None


class Session:
    transport_name = "?"

    def __init__(self, route: Route, session_id: str, caller: Caller) -> None:
        self.route = route
        self.id = session_id
        self.caller = caller
        """Who opened it: only the same identity (anonymous callers: the same token) may use it
        (``Caller.same_caller``)."""
        self.protocol_version: str | None = None
        self.client_info: Any = None
        self.client_capabilities: dict[str, Any] = {}
        self.link: UpstreamLink | None = None
        """The upstream link of a session on a ``ServerRoute`` (group routes keep their own state)."""
        self.closed = False
        self.last_active = time.monotonic()
        self.used = False
        """Whether the client has made a request or opened a stream since ``initialize`` (a session
        that never does is closed after ``unusedSessionTimeout``)."""
        self.initializing = False
        self._context: CallContext | None = None
        self.outbox = QueueBudget(route.max_queued_messages, self.overflowed)
        """The bound all of this session's stream queues share (``maxQueuedMessages``)."""
        route.sessions[session_id] = self
        route.per_client[caller.key] += 1

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        raise NotImplementedError

    @property
    def tool_access(self) -> ToolCheck | None:
        """The caller's identity's ``tools`` check, applied by the link core (``None``: no filter)."""
        return self.caller.tool_check

    @property
    def call_context(self) -> CallContext:
        """Where this session's requests come from, for metrics, the audit trail and logs."""
        context = self._context
        if context is None:
            context = self._context = CallContext(
                self.route.label, self.caller.identity, self.id[:8], self.transport_name
            )
        return context

    def channel(self) -> Channel:
        """A queue for one of this session's streams; all of them share ``outbox``."""
        return Channel(self.outbox)

    def overflowed(self) -> None:
        """The client stopped reading and its streams hold ``maxQueuedMessages``: drop what waits for
        it and end the session (counted in ``/status``, logged); its next request gets 404."""
        limit = self.outbox.limit
        detail = f"session {self.id[:8]}… stopped reading ({limit} messages waiting): it is closed"
        self.route.refused(LimitExceeded("mcpProxy.options.maxQueuedMessages", detail))
        self.discard_queues()
        self.close()

    def discard_queues(self) -> None:
        """Drop every message waiting in this session's stream queues (transports that have them)."""

    def expire_detached(self, now: float) -> None:
        """Forget streams the client dropped and did not resume in time (transports that have them)."""

    @property
    def busy(self) -> bool:
        """Whether the client is visibly still there (initializing, a request in flight, a stream open)."""
        return self.initializing

    async def initialize(self, message: Message) -> Message:
        self.last_active = time.monotonic()
        params = message.get("params") or {}
        capabilities = params.get("capabilities")
        self.client_capabilities = capabilities if isinstance(capabilities, dict) else {}
        self.client_info = params.get("clientInfo")
        answer = await self.route.initialize(self, message)
        result = answer.get("result")
        if isinstance(result, dict):
            self.protocol_version = result.get("protocolVersion")
        self.last_active = time.monotonic()  # starting an upstream may take a while
        return answer

    async def submit(self, message: Message) -> None:
        """Forward a client message that is not ``initialize``; answers come back through ``deliver``."""
        self.last_active = time.monotonic()
        if "id" in message:
            self.used = True
        await self.route.submit(self, message)

    def refuse_uninitialized(self, message: Message) -> None:
        if "method" in message and "id" in message:
            self.deliver(
                jsonrpc.error_response(message["id"], INVALID_REQUEST, "the session is not initialized"),
                message["id"],
            )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.route.sessions.pop(self.id, None)
        per_client = self.route.per_client
        per_client[self.caller.key] -= 1
        if per_client[self.caller.key] <= 0:
            del per_client[self.caller.key]
        self.route.end(self)
        log.debug("session %s on '%s' closed", self.id[:8], self.route.name)
