"""The HTTP side of the MCP→OpenAPI bridge: ``/openapi/…`` under ``baseURL``'s path.

    /openapi/{server}/…          one server's route (as /{server}/mcp)
    /openapi/groups/{group}/…    a group's route (as /groups/{group}/mcp)
    /openapi/…                   the aggregated route (as /mcp); also /openapi/groups/all/…

and under each of these:

    GET  openapi.json           the route's OpenAPI 3.1 document (cached: ``downstream.openapi.cache``)
    GET  docs                   Swagger UI for it (public, as are its assets under docs/)
    POST {tool}                 call a tool: the body is its arguments (a JSON object)
    GET  prompts                list prompts;  GET prompts/{name}?arg=value…  get one
    GET  resources              list resources and templates;  GET resources?uri=…  read one
    OPTIONS *                   CORS preflight (``mcpProxy.options.cors.origins``)

A path's first segment names a server when one has that name and more segments follow; anything
else is the aggregated route's (a server named ``prompts``, ``resources`` or ``docs`` hides the
aggregated endpoint of that name: ``/openapi/groups/all/…`` always reaches them).

Every request but the docs page, its assets and preflights passes the MCP routes' own checks,
through the one ``Host.admit`` the MCP routes use (``Origin``/``Host`` 403, then the route's tokens
401), and reaches the upstreams only through ``downstream.openapi.calls``.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import parse_qsl

import orjson

from mcp_central import __version__
from mcp_central.config.model import ALL_GROUP, Config
from mcp_central.downstream import cors
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.http import BodyTooLarge, read_body, respond, respond_json
from mcp_central.downstream.openapi import calls, docs, results
from mcp_central.downstream.openapi.cache import DocumentCache
from mcp_central.downstream.openapi.document import Document, build
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.downstream.session import Route
from mcp_central.errors import LimitExceeded, UpstreamError, to_jsonrpc_error
from mcp_central.types import Receive, Scope, Send

JSON_TYPE = b"application/json"
ALLOWED_METHODS = b"GET, POST, OPTIONS"
EXPOSED_HEADERS = b"Retry-After, MCP-Progress"


class Host(Protocol):
    """What the bridge needs of the gateway (``downstream.app.Gateway``)."""

    config: Config
    base_path: str
    draining: bool
    routes: dict[str, ServerRoute]
    groups: dict[str, GroupRoute]

    async def admit(self, route: Route, scope: Scope, send: Send) -> Caller | None:
        """The MCP routes' checks for ``route``: the caller, or ``None`` after answering 403/401."""
        ...

    async def _from_here(self, scope: Scope, send: Send) -> bool: ...


class OpenAPIBridge:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.documents = DocumentCache(self._build)

    def resolve(self, parts: list[str]) -> tuple[Route | None, str, list[str]]:
        """The route a path under ``/openapi`` names, its prefix, and the rest of the path."""
        host = self.host
        if len(parts) >= 2 and parts[0] == "groups":
            return host.groups.get(parts[1]), f"/openapi/groups/{parts[1]}", parts[2:]
        if len(parts) >= 2 and parts[0] in host.routes:
            return host.routes[parts[0]], f"/openapi/{parts[0]}", parts[1:]
        return host.groups.get(ALL_GROUP), "/openapi", parts

    async def handle(self, parts: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        route, prefix, rest = self.resolve(parts)
        if route is None:
            await respond_json(send, 404, {"error": "not found", "detail": "no such route"})
            return
        method = scope["method"]
        if rest[:1] == ["docs"] and method in ("GET", "HEAD"):
            await self._docs(route, prefix, rest[1:], send)
            return
        send = cors.with_cors(scope, send, self.host.config.proxy.cors_origins, EXPOSED_HEADERS)
        if method == "OPTIONS":  # a preflight carries no credentials: the Origin/Host checks only
            if await self.host._from_here(scope, send):
                await cors.preflight(scope, send, ALLOWED_METHODS, b"Authorization, Content-Type")
            return
        caller = await self.host.admit(route, scope, send)
        if caller is None:
            return
        await self._serve(route, caller, prefix, rest, scope, receive, send)

    async def _serve(
        self,
        route: Route,
        caller: Caller,
        prefix: str,
        rest: list[str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        method = scope["method"]
        if rest == ["openapi.json"] and method in ("GET", "HEAD"):
            document = await self._document(route, caller, send)
            if document is not None:
                await respond(send, 200, document.body, JSON_TYPE)
            return
        if self.host.draining:
            await respond_json(send, 503, {"error": "unavailable", "detail": "mcp-central is shutting down"})
            return
        if method == "POST" and len(rest) == 1:
            await self._tool(route, caller, rest[0], receive, send)
        elif method == "GET" and rest == ["prompts"]:
            await self._ask(route, caller, "prompts/list", {}, send)
        elif method == "GET" and len(rest) == 2 and rest[0] == "prompts":
            arguments = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            await self._ask(route, caller, "prompts/get", {"name": rest[1], "arguments": arguments}, send)
        elif method == "GET" and rest == ["resources"]:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if "uri" in query:
                await self._ask(route, caller, "resources/read", {"uri": query["uri"]}, send)
            else:
                await self._resource_lists(route, caller, send)
        else:
            await respond_json(
                send, 404, {"error": "not found", "detail": f"no such endpoint under {prefix}"}
            )

    # ------------------------------------------------------------------ documents

    async def _build(self, route: Route, caller: Caller, watch: Any) -> Document:
        lists, described = await calls.route_lists(route, caller, watch)
        info = described.get("serverInfo") or {}
        proxy = self.host.config.proxy
        title = f"{proxy.name}: {route.label}"
        server_url = f"{self.host.base_path}/openapi{route.path}"
        description = described.get("instructions")
        return build(
            lists,
            title=title,
            version=str(info.get("version") or __version__),
            server_url=server_url,
            secured=bool(route.auth_tokens),
            description=description if isinstance(description, str) else None,
        )

    async def _document(self, route: Route, caller: Caller, send: Send) -> Document | None:
        """The route's document, or ``None`` after answering 503/504 (the lists could not be had)."""
        try:
            return await self.documents.document(route, caller)
        except (UpstreamError, LimitExceeded) as exc:
            status, body, headers = results.error_answer(to_jsonrpc_error(exc))
            await respond_json(send, status, body, headers)
        except ValueError as exc:  # an upstream answered its list with an error
            await respond_json(send, 503, {"error": "unavailable", "detail": str(exc)}, results.RETRY_AFTER)
        return None

    # ------------------------------------------------------------------ calls

    async def _tool(self, route: Route, caller: Caller, name: str, receive: Receive, send: Send) -> None:
        document = await self._document(route, caller, send)
        if document is None:
            return
        tool = document.tools.get(name)
        if tool is None:
            await respond_json(send, 404, {"error": f"Unknown tool: {name}"})
            return
        try:
            raw = await read_body(receive, route.max_body_bytes)
        except BodyTooLarge:
            detail = f"the body is larger than {route.max_body_bytes} bytes (maxBodyBytes)"
            await respond_json(send, 413, {"error": "too large", "detail": detail})
            return
        try:
            arguments = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            await respond_json(
                send, 400, {"error": "the body is not JSON: send the tool's arguments as an object"}
            )
            return
        if not isinstance(arguments, dict):
            await respond_json(send, 400, {"error": "the body must be a JSON object: the tool's arguments"})
            return
        answer, progress = await calls.request(
            route, caller, "tools/call", {"name": tool, "arguments": arguments}
        )
        status, body, headers = results.tool_answer(answer)
        if progress:
            headers = [*headers, (b"mcp-progress", str(progress).encode())]
        await respond_json(send, status, body, headers)

    async def _ask(
        self, route: Route, caller: Caller, method: str, params: dict[str, Any], send: Send
    ) -> None:
        answer, _progress = await calls.request(route, caller, method, params)
        status, body, headers = results.plain_answer(answer)
        await respond_json(send, status, body, headers)

    async def _resource_lists(self, route: Route, caller: Caller, send: Send) -> None:
        listed, _ = await calls.request(route, caller, "resources/list", {})
        if "error" in listed:
            status, body, headers = results.plain_answer(listed)
            await respond_json(send, status, body, headers)
            return
        templates, _ = await calls.request(route, caller, "resources/templates/list", {})
        result = {
            "resources": (listed.get("result") or {}).get("resources") or [],
            "resourceTemplates": (templates.get("result") or {}).get("resourceTemplates") or [],
        }
        await respond_json(send, 200, result)

    # ------------------------------------------------------------------ docs and CORS

    async def _docs(self, route: Route, prefix: str, rest: list[str], send: Send) -> None:
        base = self.host.base_path + prefix
        if not rest:
            title = f"{self.host.config.proxy.name}: {route.label}"
            body = docs.page(title, f"{base}/openapi.json", f"{base}/docs")
            await respond(send, 200, body, b"text/html; charset=utf-8", [(b"cache-control", b"no-cache")])
            return
        content = docs.asset(rest[0]) if len(rest) == 1 else None
        if content is None:
            await respond(send, 404, b"Not Found")
            return
        cache = [(b"cache-control", b"public, max-age=86400")]
        await respond(send, 200, content, docs.ASSETS[rest[0]], cache)
