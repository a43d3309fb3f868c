"""What other replicas send this one, carried out on this replica's routes and sessions.

- ``answer``: the client's answer to a server→client request this replica asked (its id already
  untagged): submitted to the session here, which passes it to the upstream that asked.
- ``post``: a legacy SSE POST for a session whose stream is here: handled as if POSTed here.
- ``state``: another replica's copy of a session changed its log level or subscriptions: the copy
  here repeats the request on this replica's links.
- ``ended``: the client ended the session (DELETE, or its SSE stream closed): the copy here closes.

Messages for a session this replica does not hold are dropped: there is nothing here to update.
Must not: talk to Redis (``store`` does) or decide MCP questions (``downstream.replicated``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mcp_central.cluster.forward import Forwarder
from mcp_central.core.replica_ids import RESTORE_PREFIX
from mcp_central.downstream import sse, streamable_http
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.http import respond
from mcp_central.downstream.session import Route, Session
from mcp_central.types import Receive, Scope, Send

log = logging.getLogger("mcp_central.cluster")

_restores = itertools.count(1)


class Bus:
    def __init__(
        self, route_of: Callable[[str], Route | None], caller_of: Callable[[dict[str, Any]], Caller | None]
    ) -> None:
        self._route_of = route_of
        self._caller_of = caller_of
        self.forwarder: Forwarder | None = None
        """Serves requests other replicas forward here (set once the store exists)."""

    async def handle(self, event: dict[str, Any]) -> None:
        if event.get("kind") == "http" and self.forwarder is not None:
            await self.forwarder.serve(event, self._serve_forwarded(str(event.get("route"))))
            return
        route = self._route_of(str(event.get("route")))
        session = route.sessions.get(str(event.get("session"))) if route is not None else None
        if session is None:
            return
        kind = event.get("kind")
        message = event.get("message")
        if kind == "answer" and isinstance(message, dict):
            await session.submit(message)
        elif kind == "post" and isinstance(message, dict) and isinstance(session, sse.SSESession):
            await sse.accept(session, session.caller, message)
        elif kind == "state":
            await _repeat_state(session, str(event.get("key")), event.get("params"))
        elif kind == "ended":
            session.close()

    def _serve_forwarded(
        self, label: str
    ) -> Callable[[dict[str, Any], Scope, Receive, Send], Awaitable[None]]:
        async def app(who: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
            route = self._route_of(label)
            caller = self._caller_of(who)
            if route is None or caller is None:  # a reload here removed the route or the identity
                await respond(send, 404, b"Not Found")
                return
            await streamable_http.handle(route, caller, scope, receive, send)

        return app


async def _repeat_state(session: Session, key: str, params: Any) -> None:
    """Repeat another replica's state change on this replica's links (the answer is swallowed)."""
    request_id = f"{RESTORE_PREFIX}{next(_restores)}"
    if key == "level" and isinstance(params, dict):
        message = {"jsonrpc": "2.0", "id": request_id, "method": "logging/setLevel", "params": params}
    elif key.startswith("task:"):
        homes = getattr(session, "task_homes", None)
        if isinstance(homes, dict) and isinstance(params, dict) and isinstance(params.get("replica"), str):
            homes[key[5:]] = params["replica"]
        return
    elif key.startswith("sub:"):
        method = "resources/subscribe" if isinstance(params, dict) else "resources/unsubscribe"
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {"uri": key[4:]}}
    else:
        return
    await Session.submit(session, message)  # the plain path: not recorded or announced again
