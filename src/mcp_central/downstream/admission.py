"""Who may pass: the checks a request meets before any route, session or admin view sees it.

``Gatekeeper`` is the part of the ``Gateway`` (``downstream.app``) that decides, in this order:
a foreign ``Origin`` or rebound ``Host`` → 403 (``_from_here``); who is calling
(``downstream.oauth.gate.authenticate``: an identity's token, a route's static token, an OAuth
access token) → 401, or 403 for a missing scope; whether the caller's identity may use the route →
403 naming it (``admit``). Admin views (``/status``, ``/metrics``, ``/ui`` data) take an admin's
token or an ``admin: true`` identity (``admitted_admin``, ``admitted_metrics``). Every refusal and
admin read is reported to the observers as a call. RFC 9728 metadata is served here too.

It routes nothing and holds no session: the gateway owns the routes it reads.
"""

from __future__ import annotations

from mcp_central.config.model import Config
from mcp_central.core import jsonrpc
from mcp_central.downstream import auth
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.http import header, respond, respond_json
from mcp_central.downstream.identities import Identities
from mcp_central.downstream.oauth.gate import JWT_SHAPE, OAuthCaller, Refusal, ResourceServer, authenticate
from mcp_central.downstream.origin import OriginPolicy
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.downstream.session import Route, report
from mcp_central.errors import INVALID_REQUEST
from mcp_central.ops.observers import Observers
from mcp_central.types import Scope, Send


class Gatekeeper:
    """The gateway's checks; the gateway sets these attributes."""

    config: Config
    identities: Identities
    oauth: ResourceServer | None
    origins: OriginPolicy
    observers: Observers
    routes: dict[str, ServerRoute]
    groups: dict[str, GroupRoute]

    def all_routes(self) -> list[Route]:
        return [*self.routes.values(), *self.groups.values()]

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

    async def identify(self, scope: Scope) -> auth.Caller | Refusal:
        """Who is asking for an admin view: an identity's static token, an OAuth access token (its
        identity), or an anonymous token judged by ``status_tokens`` afterwards."""
        caller = self.identities.caller(scope)
        token = auth.presented_token(scope)
        if caller.access is not None or self.oauth is None or token is None:
            return caller
        admin_tokens = self.status_tokens()
        if not JWT_SHAPE.match(token) or (admin_tokens and caller.accepted_by(admin_tokens)):
            return caller  # a static admin token (one that looks like a JWT is still compared first)
        return await authenticate(scope, "", (), self.oauth, self.identities)

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
            await self._forbidden(route, resource, caller, send, transport)
            return None
        return caller

    async def _forbidden(
        self, route: Route, resource: str, caller: auth.Caller, send: Send, transport: str
    ) -> None:
        """403 for an identity's valid token on a route it may not use (nothing goes upstream)."""
        key = "groups" if route.path.startswith("/groups") or not route.path else "servers"
        detail = (
            f"identity '{caller.identity}' may not use route '{resource}' "
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
            await self._unauthorized(scope, send)
            return False
        report(self.observers, "admin", caller, "http", method, "ok")
        return True

    async def _unauthorized(self, scope: Scope, send: Send) -> None:
        """401 from an admin view; with OAuth its challenge names the gateway's resource metadata,
        so an OAuth client knows where to get a token."""
        metadata = self.oauth.metadata.url("") if self.oauth is not None else None
        await auth.reject(scope, send, metadata)

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
        await self._unauthorized(scope, send)
        return False


def transport_of(leaf: str) -> str:
    return "streamable-http" if leaf == "mcp" else "sse"
