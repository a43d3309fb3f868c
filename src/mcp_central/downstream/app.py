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

For MCP routes the order is: unknown route → 404, then the checks of ``downstream.admission``
(``Gateway`` is a ``Gatekeeper``): foreign ``Origin`` or rebound ``Host`` → 403, bad token → 401,
an identity's token on a route it may not use → 403; only then does a request reach a session, so
nothing unauthenticated ever reaches an upstream. Admin views (``/status``, ``/metrics``, the
dashboard's data) pass ``admitted_admin``. Refusals and admin reads are reported to
``observers`` as calls (outcome ``refused``/``ok``).
The ASGI lifespan starts and stops the upstream links and the background work
(``downstream.housekeeping``: idle sessions, file watches, cluster upkeep). While draining
(shutdown), new sessions get 503 and ``drain`` waits for requests in flight, up to ``shutdownGrace``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp_central.config.model import ALL_GROUP, Config, ServerConfig
from mcp_central.downstream import cors, sse, streamable_http
from mcp_central.downstream.admission import Gatekeeper, transport_of
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.housekeeping import Housekeeping
from mcp_central.downstream.http import header, respond, respond_json
from mcp_central.downstream.identities import Identities
from mcp_central.downstream.oauth.gate import OAuthCaller, ResourceServer
from mcp_central.downstream.openapi.handlers import OpenAPIBridge
from mcp_central.downstream.origin import OriginPolicy
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.downstream.session import Route
from mcp_central.ops import dashboard, health
from mcp_central.ops.audit import AuditTrail
from mcp_central.ops.call_log import CallLog
from mcp_central.ops.metrics import CONTENT_TYPE, GatewayMetrics
from mcp_central.ops.observers import Observers
from mcp_central.ops.pin_keeper import PinKeeper
from mcp_central.ops.recent import RecentCalls
from mcp_central.ops.reload import Reloader
from mcp_central.types import Receive, Scope, Send
from mcp_central.upstream.known_tools import KnownTools
from mcp_central.upstream.link import UpstreamLink
from mcp_central.upstream.manager import UpstreamManager
from mcp_central.upstream.pool import IsolatedPool

if TYPE_CHECKING:
    from mcp_central.cluster.store import RedisShare

log = logging.getLogger("mcp_central")


class Gateway(Gatekeeper):
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
        self.pins = PinKeeper(config)
        """Pinned tool definitions (``pinTools``) and their file beside the config."""
        self.known_tools = KnownTools.beside(config.source)
        """The last tool list of every upstream (``<config>.tools.json``): search mode's stand-in
        for sleeping members, ``validate``'s check of ``toolOverrides``."""
        self.manager = UpstreamManager(
            config, self.observers if observing else None, self.pins.book, self.known_tools
        )
        self.pins.announce = self.manager.tools_changed
        self.identities = Identities(config.identities, config.proxy.separator)
        self.base_path = config.proxy.base_path
        self.origins = _origin_policy(config)
        self.routes = {name: self.server_route(server) for name, server in config.enabled_servers.items()}
        self.groups = {name: self._group_route(name) for name in config.group_names}
        self.oauth: ResourceServer | None = None
        """``mcpProxy.options.oauth``: access tokens, resource metadata (``None``: static tokens only)."""
        self.reloader: Reloader | None = None
        if load is not None:
            watched = config.source if watch and config.source and os.path.isfile(config.source) else None
            self.reloader = Reloader(self, load, watched)
        self.draining = False
        self.leaving = False
        """SIGTERM arrived and ``drainDelay`` runs: only ``/readyz`` says so (503)."""
        self.metrics = GatewayMetrics(self)
        self.observers.add(self.metrics.observer)
        self.openapi = OpenAPIBridge(self)
        """``/openapi/…``: every route as REST endpoints with an OpenAPI document."""
        self.share: RedisShare | None = None
        """``sessionStore`` in Redis: the store and bus this replica shares sessions through."""
        if config.proxy.session_store is not None:
            # Imported here: a gateway without a shared store never loads the Redis client.
            from mcp_central.cluster.bus import Bus
            from mcp_central.cluster.store import RedisShare

            bus = Bus(self.route_by_label, self.caller_from)
            self.share = share = RedisShare(config.proxy.session_store, bus.handle)
            bus.forwarder = share.forwarder
        self.housekeeping = Housekeeping(self)
        """The reaper, the pin and config watches, the cluster upkeep: started by the lifespan."""
        self.apply_limits()

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
            route.share = self.share
            for session in route.sessions.values():
                session.outbox.limit = proxy.max_queued_messages

    def caller_from(self, who: dict[str, Any]) -> Caller | None:
        """The caller another replica admitted, as it forwarded it (``cluster.forward``): the same
        identity (with this replica's grants for it), or the same anonymous token digest."""
        digest = bytes.fromhex(who["digest"]) if isinstance(who.get("digest"), str) else None
        address = str(who.get("address") or "")
        name = who.get("identity")
        if not isinstance(name, str):
            return Caller(digest, address)
        if (caller := self.identities.caller_for(name, digest or b"", address)) is not None:
            return caller
        return OAuthCaller(digest, address, name) if who.get("kind") == "OAuthCaller" else None

    def route_by_label(self, label: str) -> Route | None:
        """The route a label names (``NAME``, ``groups/NAME``, ``all``), as replicas name them."""
        if label == ALL_GROUP:
            return self.groups.get(ALL_GROUP)
        if label.startswith("groups/"):
            return self.groups.get(label[len("groups/") :])
        return self.routes.get(label)

    def _group_route(self, name: str) -> GroupRoute:
        group = self.config.group(name)
        assert group is not None
        members = {member: self.routes[member] for member in group.servers}
        return GroupRoute(group, members, self.config.proxy, self.known_tools)

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
                self.groups[name] = GroupRoute(group, members, self.config.proxy, self.known_tools)

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
            # Stateless clients hold no session, but may hold a listen stream or a parked call.
            for held in [*route.listeners, *route.parked.values()]:
                name = held.caller.identity
                if (
                    name is not None
                    and held.caller.access is not None
                    and (name in changes.removed or not route.admits(held.caller))
                ):
                    held.end()

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
        if origins := self.config.proxy.cors_origins:  # browser clients on other origins (CORS)
            send = cors.with_cors(scope, send, origins, cors.MCP_EXPOSED)
            if scope["method"] == "OPTIONS":  # a preflight carries no credentials: Origin/Host only
                if await self._from_here(scope, send):
                    await cors.preflight(scope, send, cors.MCP_METHODS, cors.MCP_REQUEST_HEADERS)
                return
        caller = await self.admit(route, scope, send, transport_of(leaf), leaf)
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

    async def _ops(self, name: str, scope: Scope, send: Send) -> None:
        if name == "healthz":
            await health.healthz(send)
        elif name == "readyz":
            if self.leaving:  # SIGTERM with drainDelay: the balancer must stop sending here
                await respond_json(
                    send, 503, {"status": "draining", "reasons": ["mcp-central is shutting down"]}
                )
                return
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
                self.housekeeping.start()
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

    async def aclose(self) -> None:
        self.housekeeping.stop()
        await self.close_sessions()
        if self.share is not None:
            await self.share.close()
        self.openapi.documents.close()
        await self.manager.close()
        self.audit.close()


def _origin_policy(config: Config) -> OriginPolicy:
    proxy = config.proxy
    # Origins CORS lets read the OpenAPI routes' answers are allowed origins too.
    origins = proxy.allowed_origins + proxy.cors_origins
    return OriginPolicy(proxy.base_url, origins, proxy.allowed_hosts, proxy.host)


def _opens_session(scope: Scope, leaf: str) -> bool:
    """A request that would start a new session (or a stateless exchange): refused while draining."""
    if leaf == "sse":
        return True
    return leaf == "mcp" and scope["method"] == "POST" and header(scope, b"mcp-session-id") is None
