"""The gateway's ASGI application: maps paths under ``baseURL`` to health views and MCP routes.

    GET /                      200 while serving (the seed's container health check)
    /healthz /readyz /status   liveness, readiness, JSON status of every upstream
    /metrics                   Prometheus metrics (ops/metrics.py)
    /{name}/mcp                streamable HTTP for one upstream
    /{name}/sse /{name}/message  legacy HTTP+SSE for one upstream
    /mcp /sse /message         every enabled upstream as one server (group ``all``)
    /groups/{group}/mcp …      a named group of upstreams as one server
    /ui /ui/…                  the dashboard (``ops.dashboard``: its data behind the /status checks)
    /openapi/…                 the MCP→OpenAPI bridge of every route (downstream/openapi/)

For MCP routes the order is: unknown route → 404, foreign ``Origin`` or rebound ``Host`` → 403,
bad token → 401, an identity's token on a route it may not use → 403; only then does a request
reach a session, so nothing unauthenticated ever reaches an upstream. Authentication is
``identify`` (the bearer token → a ``Caller``, with its identity if the token names one). ``/status``
gets the same checks, with the admin tokens (``status_tokens``) or an ``admin`` identity;
``/metrics`` too, or with ``metricsTokens`` when they are set.
Refusals and admin reads are reported to ``observers`` as calls (outcome ``refused``/``ok``).
The ASGI lifespan starts and stops the upstream links. While draining (shutdown), new sessions
get 503 and ``drain`` waits for requests in flight, up to ``shutdownGrace``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

from mcp_central.config.model import ALL_GROUP, Config, ServerConfig
from mcp_central.core import jsonrpc
from mcp_central.downstream import auth, sse, streamable_http
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.http import header, respond, respond_json
from mcp_central.downstream.identities import Identities
from mcp_central.downstream.oauth.gate import JWT_SHAPE, OAuthCaller, Refusal, ResourceServer, authenticate
from mcp_central.downstream.openapi.handlers import OpenAPIBridge
from mcp_central.downstream.origin import OriginPolicy
from mcp_central.downstream.session import Route, ServerRoute, report
from mcp_central.errors import INVALID_REQUEST
from mcp_central.ops import dashboard, health
from mcp_central.ops.audit import AuditTrail
from mcp_central.ops.call_log import CallLog
from mcp_central.ops.metrics import CONTENT_TYPE, GatewayMetrics
from mcp_central.ops.observers import Observers
from mcp_central.ops.recent import RecentCalls
from mcp_central.ops.reload import Reloader
from mcp_central.types import Receive, Scope, Send
from mcp_central.upstream.link import UpstreamLink
from mcp_central.upstream.manager import UpstreamManager
from mcp_central.upstream.pool import IsolatedPool

log = logging.getLogger("mcp_central")


class Gateway:
    def __init__(
        self, config: Config, *, load: Callable[[], Config] | None = None, watch: bool = False
    ) -> None:
        """``load`` re-reads the config for live reload (SIGHUP); with ``watch`` the file is watched too."""
        self.config = config
        self.observers = Observers()
        """Everything that wants to hear of each answered or refused call registers here."""
        self.recent = RecentCalls()
        """The dashboard's last calls and per-server rates (``/ui``)."""
        self.observers.add(self.recent)
        self.audit = AuditTrail(lambda: self.config)
        self.observers.add(CallLog(lambda: self.config))  # call lines, for servers with logEnabled
        self.observers.add(self.audit)
        # The benchmark's switch (bench/run.py --observers-off): links stamp and report no calls.
        observing = not os.environ.get("MCP_CENTRAL_BENCH_NO_OBSERVERS")
        self.manager = UpstreamManager(config, self.observers if observing else None)
        self.identities = Identities(config.identities, config.proxy.separator)
        self.base_path = config.proxy.base_path
        self.origins = _origin_policy(config)
        self.routes = {name: self.server_route(server) for name, server in config.enabled_servers.items()}
        self.groups = {name: self._group_route(name) for name in config.group_names}
        self.oauth: ResourceServer | None = None
        """``mcpProxy.options.oauth``: access tokens, resource metadata (``None``: static tokens only)."""
        self.apply_limits()
        self._reaper: asyncio.Task[None] | None = None
        self.reloader: Reloader | None = None
        if load is not None:
            watched = config.source if watch and config.source and os.path.isfile(config.source) else None
            self.reloader = Reloader(self, load, watched)
        self._watcher: asyncio.Task[None] | None = None
        self.draining = False
        self.metrics = GatewayMetrics(self)
        self.observers.add(self.metrics.observer)
        self.openapi = OpenAPIBridge(self)
        """``/openapi/…``: every route as REST endpoints with an OpenAPI document."""

    def server_route(self, server: ServerConfig) -> ServerRoute:
        """The route ``/{name}/…`` of ``server`` over its link or pool (which must exist)."""
        name = server.name
        return ServerRoute(
            name, server, self.manager.links.get(name), self.manager.pools.get(name), server.auth_tokens
        )

    def apply_limits(self) -> None:
        """Give every route the proxy-wide limits and checks of the current config."""
        proxy = self.config.proxy
        self.origins = _origin_policy(self.config)
        if proxy.oauth is None:
            self.oauth = None
        elif self.oauth is None or (self.oauth.config, self.oauth.metadata.base_path) != (
            proxy.oauth,
            proxy.base_path,
        ):
            self.oauth = ResourceServer(proxy.oauth, proxy.base_path)
        for route in self.all_routes():
            route.max_sessions = proxy.max_sessions
            route.max_sessions_per_client = proxy.max_sessions_per_client
            route.max_queued_messages = proxy.max_queued_messages
            route.observers = self.observers
            for session in route.sessions.values():
                session.outbox.limit = proxy.max_queued_messages

    def status_tokens(self) -> tuple[str, ...] | None:
        """Who may read ``/status``: ``adminTokens``, else the global tokens; ``None``: nobody, when
        tokens guard something but none is an admin's; ``()``: anyone, when no token exists."""
        proxy = self.config.proxy
        tokens = proxy.admin_tokens if proxy.admin_tokens is not None else proxy.auth_tokens
        if tokens:
            return tokens
        if self.identities or any(route.auth_tokens for route in self.all_routes()):
            return None
        return ()

    def _group_route(self, name: str) -> GroupRoute:
        group = self.config.group(name)
        assert group is not None
        return GroupRoute(group, {member: self.routes[member] for member in group.servers}, self.config.proxy)

    def update_groups(self) -> None:
        """After a reload: groups take their new members; removed groups end, new ones appear."""
        for name in list(self.groups):
            if name not in self.config.group_names:
                route = self.groups.pop(name)
                for session in list(route.sessions.values()):
                    session.close()
        for name in self.config.group_names:
            group = self.config.group(name)
            assert group is not None
            members = {member: self.routes[member] for member in group.servers}
            if name in self.groups:
                self.groups[name].update(group, members, self.config.proxy)
            else:
                self.groups[name] = GroupRoute(group, members, self.config.proxy)

    def apply_identities(self) -> None:
        """After a reload, before groups update: identities take their new grants in place. Sessions
        of a removed identity, or on a route it may no longer use, are closed (their next request
        gets 404); those whose grants changed are told their lists changed."""
        changes = self.identities.update(self.config.identities, self.config.proxy.separator)
        if not (changes.removed or changes.regranted):
            return
        for route in self.all_routes():
            for session in list(route.sessions.values()):
                name = session.caller.identity
                if name is None or session.caller.access is None:
                    continue
                if name in changes.removed or not route.admits(session.caller):
                    log.info(
                        "session %s… of identity '%s' on '%s' closed: its access changed",
                        session.id[:8],
                        name,
                        route.name,
                    )
                    session.close()
                elif name in changes.regranted:
                    for kind in ("tools", "prompts", "resources"):
                        session.deliver(
                            {"jsonrpc": "2.0", "method": f"notifications/{kind}/list_changed"}, None
                        )

    async def identify(self, scope: Scope) -> auth.Caller | Refusal:
        """Who is asking for an admin view: an identity's static token, an OAuth access token (its
        identity), or an anonymous token judged by ``status_tokens`` afterwards."""
        caller = self.identities.caller(scope)
        token = auth.presented_token(scope)
        if caller.access is not None or self.oauth is None or token is None:
            return caller
        if not JWT_SHAPE.match(token) or caller.accepted_by(self.status_tokens() or ()):
            return caller
        return await authenticate(scope, "", (), self.oauth, self.identities)

    def all_routes(self) -> list[Route]:
        return [*self.routes.values(), *self.groups.values()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if self.oauth is not None and (resource := self.oauth.metadata.route_path(path)) is not None:
            await self._resource_metadata(resource, scope, send)
            return
        if self.base_path:
            if not (path == self.base_path or path.startswith(self.base_path + "/")):
                await respond(send, 404, b"Not Found")
                return
            path = path[len(self.base_path) :]
        parts = [part for part in path.split("/") if part]
        if not parts:
            await health.root(self.manager, send)
            return
        if parts[0] == "ui":
            await dashboard.handle(self, parts[1:], scope, send)
            return
        if parts[0] == "openapi":
            await self.openapi.handle(parts[1:], scope, receive, send)
            return
        route: Route | None
        if len(parts) == 1 and parts[0] in ("mcp", "sse", "message"):
            route, leaf = self.groups[ALL_GROUP], parts[0]
        elif len(parts) == 1:
            await self._ops(parts[0], scope, send)
            return
        elif len(parts) == 2:
            route, leaf = self.routes.get(parts[0]), parts[1]
        elif len(parts) == 3 and parts[0] == "groups":
            route, leaf = self.groups.get(parts[1]), parts[2]
        else:
            route, leaf = None, ""
        if route is None:
            await respond(send, 404, b"Not Found")
            return
        caller = await self.admit(route, scope, send, _transport(leaf), leaf)
        if caller is None:
            return
        if self.draining and _opens_session(scope, leaf):
            await respond_json(send, 503, {"error": "unavailable", "detail": "mcp-central is shutting down"})
            return
        if leaf == "mcp":
            await streamable_http.handle(route, caller, scope, receive, send)
        elif leaf == "sse":
            await sse.handle_stream(route, caller, self.base_path, scope, receive, send)
        elif leaf == "message":
            await sse.handle_post(route, caller, scope, receive, send)
        else:
            await respond(send, 404, b"Not Found")

    async def admit(
        self, route: Route, scope: Scope, send: Send, transport: str = "openapi", leaf: str = "mcp"
    ) -> auth.Caller | None:
        """The checks every MCP (and OpenAPI) request passes before its route: ``Origin``/``Host``
        (403), then who is calling (``authenticate``: identity tokens, static tokens, OAuth access
        tokens — for the resource ``route.path/leaf``; 401, or 403 for a missing scope), then
        whether the caller's identity may use the route (403, naming it). The caller, or ``None``
        once refused (the refusal is recorded). OpenAPI requests are judged as the route's
        ``…/mcp`` resource."""
        if not await self._from_here(scope, send):
            return None
        resource = f"{route.path}/{leaf}"
        caller = await authenticate(scope, resource, route.auth_tokens, self.oauth, self.identities)
        if isinstance(caller, Refusal):
            route.record_refusal(auth.Caller.of(scope), "http", f"{caller.status} {caller.detail}", transport)
            await caller.respond(send)
            return None
        if caller.access is not None and not route.admits(caller):
            await self._forbidden(route, caller, send, transport)
            return None
        return caller

    async def _forbidden(self, route: Route, caller: auth.Caller, send: Send, transport: str) -> None:
        """403 for an identity's valid token on a route it may not use (nothing goes upstream)."""
        key = "groups" if route.path.startswith("/groups") or not route.path else "servers"
        detail = (
            f"identity '{caller.identity}' may not use route '{route.path or '/'}' "
            f"(see identities.{caller.identity}.{key})"
        )
        route.record_refusal(caller, "http", detail, transport)
        await respond_json(send, 403, jsonrpc.error_response(None, INVALID_REQUEST, detail))

    async def _resource_metadata(self, route_path: str, scope: Scope, send: Send) -> None:
        """RFC 9728 metadata of the gateway (``route_path`` ``""``) or of one MCP route: open to
        anyone (clients read it to learn where to get a token) but with the Origin/Host checks."""
        assert self.oauth is not None
        *where, leaf = [part for part in route_path.split("/") if part] or [""]
        known = leaf == "" or (
            leaf in ("mcp", "sse", "message")
            and (
                not where
                or (len(where) == 1 and where[0] in self.routes)
                or (len(where) == 2 and where[0] == "groups" and where[1] in self.groups)
            )
        )
        if not known:
            await respond(send, 404, b"Not Found")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b"Method Not Allowed", headers=[(b"allow", b"GET, HEAD")])
            return
        if not await self._from_here(scope, send):
            return
        await respond_json(send, 200, self.oauth.metadata.document(route_path))

    async def _from_here(self, scope: Scope, send: Send) -> bool:
        """The DNS-rebinding checks (``Origin``, ``Host``); ``False`` after answering 403."""
        origin = header(scope, b"origin")
        if not self.origins.allows(origin):
            await respond_json(send, 403, {"error": "forbidden", "detail": "Origin not allowed"})
            return False
        browser = origin is not None or header(scope, b"sec-fetch-site") is not None
        if not self.origins.allows_host(header(scope, b"host"), browser):
            detail = "Host not allowed: add it to mcpProxy.options.allowedHosts (or set baseURL)"
            await respond_json(send, 403, {"error": "forbidden", "detail": detail})
            return False
        return True

    async def admitted_admin(self, scope: Scope, send: Send) -> bool:
        """The checks of every admin view (``/status`` and those that show as much): ``Origin`` and
        ``Host``, then an admin's token (``status_tokens``) or an ``admin: true`` identity's;
        ``False`` after answering 403 or 401. Each read and refusal is reported as a call
        (method ``admin/<view>``: ``admin/status``, ``admin/metrics``, …)."""
        method = "admin/" + scope["path"].rstrip("/").rpartition("/")[2]
        if not await self._from_here(scope, send):
            report(self.observers, "admin", None, "http", method, "refused", "403 Origin or Host not allowed")
            return False
        caller = await self.identify(scope)
        if isinstance(caller, Refusal):
            report(self.observers, "admin", None, "http", method, "refused", caller.detail)
            await caller.respond(send)
            return False
        if isinstance(caller, OAuthCaller) and caller.access is None:
            detail = "this access token's identity is not an admin (give it one with admin: true)"
            report(self.observers, "admin", caller, "http", method, "refused", detail)
            await respond_json(send, 403, {"error": "forbidden", "detail": detail})
            return False
        if caller.access is not None:
            if self.identities.by_name[caller.access.name].admin:
                report(self.observers, "admin", caller, "http", method, "ok")
                return True
            detail = f"identity '{caller.identity}' is not an admin (identities.{caller.identity}.admin)"
            report(self.observers, "admin", caller, "http", method, "refused", detail)
            await respond_json(send, 403, {"error": "forbidden", "detail": detail})
            return False
        tokens = self.status_tokens()
        if tokens is None and not self.identities.any_admin:
            detail = "set mcpProxy.options.adminTokens to read this (tokens guard other routes)"
            report(self.observers, "admin", caller, "http", method, "refused", detail)
            await respond_json(send, 403, {"error": "forbidden", "detail": detail})
            return False
        if tokens is None or not caller.accepted_by(tokens):
            report(self.observers, "admin", caller, "http", method, "refused", "401 unauthorized")
            await auth.reject(scope, send)
            return False
        report(self.observers, "admin", caller, "http", method, "ok")
        return True

    async def admitted_metrics(self, scope: Scope, send: Send) -> bool:
        """``/metrics``: ``metricsTokens`` when set (``[]``: anyone), and admins too; else the admin
        checks of ``/status``. ``False`` after answering 403 or 401."""
        tokens = self.config.proxy.metrics_tokens
        if tokens is None:
            return await self.admitted_admin(scope, send)
        if not await self._from_here(scope, send):
            return False
        if not tokens or auth.Caller.of(scope).accepted_by(tokens):
            return True
        if self.status_tokens() or self.identities.any_admin or self.oauth is not None:
            # admins exist (or may, by OAuth): their tokens open it too
            return await self.admitted_admin(scope, send)
        await auth.reject(scope, send)
        return False

    async def _ops(self, name: str, scope: Scope, send: Send) -> None:
        if name == "healthz":
            await health.healthz(send)
        elif name == "readyz":
            await health.readyz(self.manager, send)
        elif name == "status":
            # Status names upstreams, internal URLs and errors: admins only, wherever tokens exist.
            if not await self.admitted_admin(scope, send):
                return
            reload = self.reloader.last if self.reloader is not None else None
            await health.status(
                self.manager,
                send,
                [group.status() for group in self.groups.values()],
                reload,
                {route.name: dict(route.refusals) for route in self.all_routes() if route.refusals},
                self.identities.status(),
            )
        elif name == "metrics":
            if await self.admitted_metrics(scope, send):
                await respond(send, 200, self.metrics.render(), CONTENT_TYPE)
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
                self._start_reloading()
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
        for route in self.all_routes():
            await route.close()

    async def _expire_idle_sessions(self) -> None:
        """Close sessions that went quiet: no request in flight, no stream open, for ``idleTimeout``
        — or for ``unusedSessionTimeout`` when they never made a request after ``initialize``."""
        while True:
            unused = self.config.proxy.unused_session_timeout
            timeouts = [unused, *(route.idle_timeout for route in self.all_routes())]
            await asyncio.sleep(min(max(min(timeouts) / 4, 0.05), 30.0))  # also paces stream expiry
            now = time.monotonic()
            for route in self.all_routes():
                for session in list(route.sessions.values()):
                    session.expire_detached(now)
                    if session.busy:
                        continue
                    idle = now - session.last_active
                    if idle > route.idle_timeout or (not session.used and idle > unused):
                        why = "after idling" if session.used else "unused since initialize"
                        log.info("session %s… on '%s' closed %s", session.id[:8], route.name, why)
                        session.close()

    def _start_reloading(self) -> None:
        reloader = self.reloader
        if reloader is None:
            return
        loop = asyncio.get_running_loop()
        if reloader.watching:
            self._watcher = loop.create_task(reloader.watch())
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reloader.reload("SIGHUP")))

    async def aclose(self) -> None:
        if self.reloader is not None:
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._watcher is not None:
            self._watcher.cancel()
        if self._reaper is not None:
            self._reaper.cancel()
        await self.close_sessions()
        self.openapi.documents.close()
        await self.manager.close()
        self.audit.close()


def _origin_policy(config: Config) -> OriginPolicy:
    proxy = config.proxy
    # Origins CORS lets read the OpenAPI routes' answers are allowed origins too.
    origins = proxy.allowed_origins + proxy.cors_origins
    return OriginPolicy(proxy.base_url, origins, proxy.allowed_hosts, proxy.host)


def _transport(leaf: str) -> str:
    return "streamable-http" if leaf == "mcp" else "sse"


def _opens_session(scope: Scope, leaf: str) -> bool:
    """A request that would start a new session (or a stateless exchange): refused while draining."""
    if leaf == "sse":
        return True
    return leaf == "mcp" and scope["method"] == "POST" and header(scope, b"mcp-session-id") is None
