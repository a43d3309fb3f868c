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
from dataclasses import dataclass, field
from typing import Any

from mcp_central.core import jsonrpc, protocol
from mcp_central.errors import UpstreamError, to_jsonrpc_error
from mcp_central.types import Message, RequestId
from mcp_central.upstream.link import UpstreamLink

log = logging.getLogger("mcp_central.downstream")


@dataclass(eq=False)
class ServerRoute:
    name: str
    link: UpstreamLink
    auth_tokens: tuple[str, ...]
    sessions: dict[str, Session] = field(default_factory=dict)

    def new_session_id(self) -> str:
        # token_urlsafe: visible ASCII only, as Mcp-Session-Id requires, and unguessable.
        return secrets.token_urlsafe(24)

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            session.close()


class Session:
    transport_name = "?"

    def __init__(self, route: ServerRoute, session_id: str) -> None:
        self.route = route
        self.id = session_id
        self.protocol_version: str | None = None
        self.client_info: Any = None
        self.client_capabilities: dict[str, Any] = {}
        self.closed = False
        route.sessions[session_id] = self

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        raise NotImplementedError

    async def initialize(self, message: Message) -> Message:
        """Answer ``initialize`` from the upstream link's own handshake (starting it if needed)."""
        link = self.route.link
        try:
            await link.ensure_ready()
        except UpstreamError as exc:
            return {"jsonrpc": "2.0", "id": message["id"], "error": to_jsonrpc_error(exc)}
        params = message.get("params") or {}
        result = protocol.initialize_result(link.init_result or {}, params.get("protocolVersion"))
        self.protocol_version = result["protocolVersion"]
        self.client_info = params.get("clientInfo")
        capabilities = params.get("capabilities")
        self.client_capabilities = capabilities if isinstance(capabilities, dict) else {}
        link.attach(self)
        return jsonrpc.result_response(message["id"], result)

    async def submit(self, message: Message) -> None:
        """Forward a client message that is not ``initialize``; answers come back through ``deliver``."""
        link = self.route.link
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
        self.route.link.detach(self)
        log.debug("session %s on '%s' closed", self.id[:8], self.route.name)
