"""``/{name}/mcp`` and ``/{name}/sse``: the route of one upstream server.

A ``ServerRoute`` gives each session the server's shared link (``maxSessions`` checked) or, for
``sessionMode: "isolated"``, a link of its own from the pool, answers ``initialize`` from that
link's handshake and hands every other message to it. Like the other routes it writes no HTTP and
imports no transport; what a session is, and what every route has, is ``downstream.session``'s.
"""

from __future__ import annotations

from typing import Any

from mcp_central.config.model import ServerConfig
from mcp_central.core import jsonrpc, protocol
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.session import Route, Session
from mcp_central.errors import INVALID_REQUEST, LimitExceeded, UpstreamError, to_jsonrpc_error
from mcp_central.types import Message
from mcp_central.upstream.link import UpstreamLink
from mcp_central.upstream.pool import IsolatedPool


class ServerRoute(Route):
    """``/{name}/mcp`` and ``/{name}/sse``: one upstream, shared by its sessions or one link each."""

    def __init__(
        self,
        name: str,
        server: ServerConfig,
        link: UpstreamLink | None,
        pool: IsolatedPool | None,
        auth_tokens: tuple[str, ...],
    ) -> None:
        super().__init__(name, f"/{name}", auth_tokens, server.idle_timeout)
        self.server = server
        self.max_body_bytes = server.max_body_bytes
        self.link = link
        self.pool = pool
        """Isolated servers: each session gets its own link from the pool (then ``link`` is ``None``)."""
        if link is None:
            self.stateless_refusal = (
                f"'{name}' gives each client session its own upstream (sessionMode 'isolated'): "
                "connect with initialize (protocol 2025-11-25 or earlier)"
            )

    def admits(self, caller: Caller) -> bool:
        return caller.may_use_server(self.name, self.auth_tokens)

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

    async def initialize(self, session: Session, message: Message) -> Message:
        """Answer ``initialize`` from the upstream link's own handshake (starting it if needed)."""
        params = message.get("params") or {}
        if session.link is None:
            session.initializing = True
            try:
                session.link = await self.open_link(session.client_capabilities)
            except (UpstreamError, LimitExceeded) as exc:
                return {"jsonrpc": "2.0", "id": message["id"], "error": to_jsonrpc_error(exc)}
            finally:
                session.initializing = False
            if session.closed:  # ended (shutdown, DELETE) while its isolated link started
                self._release(session.link)
                return jsonrpc.error_response(
                    message["id"], INVALID_REQUEST, "the session ended while starting"
                )
        result = protocol.initialize_result(session.link.init_result or {}, params.get("protocolVersion"))
        session.link.attach(session)
        return jsonrpc.result_response(message["id"], result)

    async def submit(self, session: Session, message: Message) -> None:
        link = session.link
        if link is None:
            session.refuse_uninitialized(message)
            return
        if "method" in message:
            if "id" in message:
                try:
                    await link.forward_request(session, message)
                except UpstreamError as exc:
                    session.deliver(
                        {"jsonrpc": "2.0", "id": message["id"], "error": to_jsonrpc_error(exc)}, message["id"]
                    )
            else:
                await link.forward_notification(session, message)
        else:
            await link.forward_response(session, message)

    def end(self, session: Session) -> None:
        if session.link is not None:
            session.link.detach(session)
            self._release(session.link)

    def _release(self, link: UpstreamLink) -> None:
        if self.pool is not None:
            self.pool.release(link)
