"""Downstream sessions and the routes that own them.

A ``ServerRoute`` is what ``/{name}/mcp`` and ``/{name}/sse`` serve: one upstream link and the
tokens that guard it. A ``Session`` is one connected client on such a route; it answers
``initialize`` itself (from the link's handshake) and hands every other message to the link.
How answers reach the client (a POST's own stream, the GET stream, the legacy SSE stream) is the
transport subclass's business, in ``deliver``.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_central.config.model import DEFAULT_ROUTE_MAX_SESSIONS, ServerConfig
from mcp_central.core import jsonrpc, protocol
from mcp_central.errors import INVALID_REQUEST, LimitExceeded, UpstreamError, to_jsonrpc_error
from mcp_central.types import Message, RequestId
from mcp_central.upstream.link import UpstreamLink
from mcp_central.upstream.pool import IsolatedPool

if TYPE_CHECKING:
    from mcp_central.downstream.listen import Listener
    from mcp_central.downstream.modern import Exchange

log = logging.getLogger("mcp_central.downstream")


@dataclass(eq=False)
class ServerRoute:
    name: str
    server: ServerConfig
    link: UpstreamLink | None
    """The shared link; ``None`` when the server is isolated (then ``pool`` gives each session one)."""
    pool: IsolatedPool | None
    auth_tokens: tuple[str, ...]
    sessions: dict[str, Session] = field(default_factory=dict)
    parked: dict[str, Exchange] = field(default_factory=dict)
    """Stateless (2026-07-28) requests waiting for the client's input, by their ``requestState``."""
    listeners: set[Listener] = field(default_factory=set)
    """Open ``subscriptions/listen`` streams."""
    max_sessions: int = DEFAULT_ROUTE_MAX_SESSIONS
    """``mcpProxy.options.maxSessions``: client sessions this route holds at once."""

    def refuse_new_session(self) -> LimitExceeded | None:
        """Why a new session cannot be opened on this route now, if it cannot."""
        if len(self.sessions) >= self.max_sessions:
            detail = f"route '{self.name}' already serves {self.max_sessions} sessions: end one, retry later"
            return LimitExceeded("mcpProxy.options.maxSessions", detail)
        return None

    async def open_link(self, client_capabilities: dict[str, Any]) -> UpstreamLink:
        """The link a new session talks to; ``UpstreamError`` if there is none to be had, or
        ``LimitExceeded`` when the upstream already serves its ``maxSessions``."""
        if self.link is not None:
            cap = self.server.session_cap
            if cap is not None and self.link.session_count >= cap:
                detail = f"upstream '{self.name}' already serves {cap} sessions: end one or retry later"
                raise LimitExceeded(f"mcpServers.{self.name}.maxSessions", detail)
            await self.link.ensure_ready()
            return self.link
        assert self.pool is not None
        return await self.pool.open(client_capabilities)

    def release(self, link: UpstreamLink) -> None:
        if self.pool is not None:
            self.pool.release(link)

    def new_session_id(self) -> str:
        # token_urlsafe: visible ASCII only, as Mcp-Session-Id requires, and unguessable.
        return secrets.token_urlsafe(24)

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            session.close()
        for listener in list(self.listeners):
            listener.end()
        if self.link is not None:
            for exchange in list(self.parked.values()):
                exchange.end(self.link)
        self.parked.clear()


class Session:
    transport_name = "?"

    def __init__(self, route: ServerRoute, session_id: str) -> None:
        self.route = route
        self.id = session_id
        self.protocol_version: str | None = None
        self.client_info: Any = None
        self.client_capabilities: dict[str, Any] = {}
        self.link: UpstreamLink | None = None
        self.closed = False
        self.last_active = time.monotonic()
        self._initializing = False
        route.sessions[session_id] = self

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        raise NotImplementedError

    def expire_detached(self, now: float) -> None:
        """Forget streams the client dropped and did not resume in time (transports that have them)."""

    @property
    def busy(self) -> bool:
        """Whether the client is visibly still there (initializing, a request in flight, a stream open)."""
        return self._initializing

    async def initialize(self, message: Message) -> Message:
        """Answer ``initialize`` from the upstream link's own handshake (starting it if needed)."""
        self.last_active = time.monotonic()
        params = message.get("params") or {}
        capabilities = params.get("capabilities")
        self.client_capabilities = capabilities if isinstance(capabilities, dict) else {}
        self.client_info = params.get("clientInfo")
        if self.link is None:
            self._initializing = True
            try:
                self.link = await self.route.open_link(self.client_capabilities)
            except (UpstreamError, LimitExceeded) as exc:
                return {"jsonrpc": "2.0", "id": message["id"], "error": to_jsonrpc_error(exc)}
            finally:
                self._initializing = False
            if self.closed:  # ended (shutdown, DELETE) while its isolated link started
                self.route.release(self.link)
                return jsonrpc.error_response(
                    message["id"], INVALID_REQUEST, "the session ended while starting"
                )
        result = protocol.initialize_result(self.link.init_result or {}, params.get("protocolVersion"))
        self.protocol_version = result["protocolVersion"]
        self.link.attach(self)
        self.last_active = time.monotonic()  # starting an isolated link may take a while
        return jsonrpc.result_response(message["id"], result)

    async def submit(self, message: Message) -> None:
        """Forward a client message that is not ``initialize``; answers come back through ``deliver``."""
        self.last_active = time.monotonic()
        link = self.link
        if link is None:
            if "method" in message and "id" in message:
                error = jsonrpc.error_response(
                    message["id"], INVALID_REQUEST, "the session is not initialized"
                )
                self.deliver(error, message["id"])
            return
        if "method" in message:
            if "id" in message:
                try:
                    await link.forward_request(self, message)
                except UpstreamError as exc:
                    self.deliver(
                        {"jsonrpc": "2.0", "id": message["id"], "error": to_jsonrpc_error(exc)}, message["id"]
                    )
            else:
                await link.forward_notification(self, message)
        else:
            await link.forward_response(self, message)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.route.sessions.pop(self.id, None)
        if self.link is not None:
            self.link.detach(self)
            self.route.release(self.link)
        log.debug("session %s on '%s' closed", self.id[:8], self.route.name)
