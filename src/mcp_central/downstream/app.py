"""The gateway's ASGI application: maps paths under ``baseURL`` to health views and MCP routes.

    GET /                      200 while serving (the seed's container health check)
    /healthz /readyz /status   liveness, readiness, JSON status of every upstream
    /{name}/mcp                streamable HTTP for one upstream
    /{name}/sse /{name}/message  legacy HTTP+SSE for one upstream

For MCP routes the order is: unknown route → 404, foreign ``Origin`` → 403, bad token → 401;
only then does a request reach a session, so nothing unauthenticated ever reaches an upstream.
The ASGI lifespan starts and stops the upstream links. While draining (shutdown), new sessions
get 503 and ``drain`` waits for requests in flight, up to ``shutdownGrace``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mcp_central.config.model import Config
from mcp_central.downstream import auth, sse, streamable_http
from mcp_central.downstream.http import header, respond, respond_json
from mcp_central.downstream.origin import OriginPolicy
from mcp_central.downstream.session import ServerRoute
from mcp_central.ops import health
from mcp_central.types import Receive, Scope, Send
from mcp_central.upstream.link import UpstreamLink
from mcp_central.upstream.manager import UpstreamManager
from mcp_central.upstream.pool import IsolatedPool

log = logging.getLogger("mcp_central")


class Gateway:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.manager = UpstreamManager(config)
        self.base_path = config.proxy.base_path
        self.origins = OriginPolicy(config.proxy.base_url, config.proxy.allowed_origins)
        self.routes = {
            name: ServerRoute(
                name,
                server,
                self.manager.links.get(name),
                self.manager.pools.get(name),
                server.auth_tokens,
                max_sessions=config.proxy.max_sessions,
            )
            for name, server in config.enabled_servers.items()
        }
        self._reaper: asyncio.Task[None] | None = None
        self.draining = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if self.base_path:
            if not (path == self.base_path or path.startswith(self.base_path + "/")):
                await respond(send, 404, b"Not Found")
                return
            path = path[len(self.base_path) :]
        parts = [part for part in path.split("/") if part]
        if not parts:
            await health.root(self.manager, send)
            return
        if len(parts) == 1:
            await self._ops(parts[0], scope, send)
            return
        route = self.routes.get(parts[0]) if len(parts) == 2 else None
        if route is None:
            await respond(send, 404, b"Not Found")
            return
        if not self.origins.allows(header(scope, b"origin")):
            await respond_json(send, 403, {"error": "forbidden", "detail": "Origin not allowed"})
            return
        if not auth.authorized(scope, route.auth_tokens):
            await auth.reject(scope, send)
            return
        leaf = parts[1]
        if self.draining and _opens_session(scope, leaf):
            await respond_json(send, 503, {"error": "unavailable", "detail": "mcp-central is shutting down"})
            return
        if leaf == "mcp":
            await streamable_http.handle(route, scope, receive, send)
        elif leaf == "sse":
            await sse.handle_stream(route, self.base_path, scope, receive, send)
        elif leaf == "message":
            await sse.handle_post(route, scope, receive, send)
        else:
            await respond(send, 404, b"Not Found")

    async def _ops(self, name: str, scope: Scope, send: Send) -> None:
        if name == "healthz":
            await health.healthz(send)
        elif name == "readyz":
            await health.readyz(self.manager, send)
        elif name == "status":
            # Status names internal URLs and errors: it is guarded by the global tokens.
            if not auth.authorized(scope, self.config.proxy.auth_tokens):
                await auth.reject(scope, send)
                return
            await health.status(self.manager, send)
        else:
            await respond(send, 404, b"Not Found")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.manager.start()
                except Exception as exc:
                    log.error("start-up failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self._reaper = asyncio.get_running_loop().create_task(self._expire_idle_sessions())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _links(self) -> list[UpstreamLink | IsolatedPool]:
        return [*self.manager.links.values(), *self.manager.pools.values()]

    def in_flight(self) -> int:
        """Requests sent upstream and not answered yet, over every link."""
        return sum(link.in_flight for link in self._links())

    async def drain(self, grace: float) -> None:
        """Refuse new sessions and let requests in flight finish for up to ``grace`` seconds; then
        answer the rest with an error, so no client is left waiting on a stream that just ends."""
        self.draining = True
        deadline = time.monotonic() + grace
        # Answers arrive through other tasks and links; counting them is simpler than an event each.
        while self.in_flight() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if left := self.in_flight():
            log.warning("shutdown: %d request(s) still in flight after %gs get an error", left, grace)
            for link in self._links():
                link.fail_in_flight("mcp-central is shutting down")

    async def close_sessions(self) -> None:
        """End every downstream session (their streams finish); upstream links stay up."""
        for route in self.routes.values():
            await route.close()

    async def _expire_idle_sessions(self) -> None:
        """Close sessions that went quiet: no request in flight, no stream open, for ``idleTimeout``."""
        timeouts = [route.server.idle_timeout for route in self.routes.values()] or [60.0]
        period = min(max(min(timeouts) / 4, 0.05), 30.0)  # also the pace of dropped-stream expiry
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for route in self.routes.values():
                for session in list(route.sessions.values()):
                    session.expire_detached(now)
                    if not session.busy and now - session.last_active > route.server.idle_timeout:
                        log.info("session %s… on '%s' closed after idling", session.id[:8], route.name)
                        session.close()

    async def aclose(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        await self.close_sessions()
        await self.manager.close()


def _opens_session(scope: Scope, leaf: str) -> bool:
    """A request that would start a new session (or a stateless exchange): refused while draining."""
    if leaf == "sse":
        return True
    return leaf == "mcp" and scope["method"] == "POST" and header(scope, b"mcp-session-id") is None
