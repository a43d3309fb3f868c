"""CORS for browser clients (``mcpProxy.options.cors.origins``): which origins may read answers,
the headers they may read, and preflights.

A browser MCP client (the inspector's web UI, a web app) or a browser tool server (Open-WebUI's
per-user tools) on another origin needs two things: ``Access-Control-Allow-Origin`` on every
answer, with the MCP headers it must read exposed (``Mcp-Session-Id`` to go on with its session,
``MCP-Protocol-Version``, and ``WWW-Authenticate`` to find the authorization server), and an
answer to the preflight its ``Authorization``, ``Mcp-Session-Id`` or JSON ``Content-Type``
triggers. Origins listed here also pass the gateway's ``Origin`` check (``downstream.app``); any
other origin is refused there before this module is asked. Pure ASGI helpers: no routing.
"""

from __future__ import annotations

import re
from typing import Any

from mcp_central.downstream.http import header, respond
from mcp_central.types import Scope, Send

MCP_METHODS = b"GET, POST, DELETE, OPTIONS"
"""What the MCP endpoints answer (``…/mcp``: all three; ``…/sse`` GET, ``…/message`` POST)."""
MCP_EXPOSED = b"Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate, Retry-After"
MCP_REQUEST_HEADERS = (
    b"Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, "
    b"Mcp-Method, Mcp-Name"
)
"""Allowed when a preflight does not list the headers it wants (browsers always do)."""
PREFLIGHT_MAX_AGE = b"600"
_HEADER_LIST = re.compile(r"^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+)*$")


def allowed_origin(scope: Scope, origins: tuple[str, ...]) -> str | None:
    """The request's ``Origin`` if ``origins`` (``cors.origins``) lets browsers on it read answers."""
    origin = header(scope, b"origin")
    if origin is None or not origins:
        return None
    if "*" in origins or origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in origins}:
        return origin
    return None


def with_cors(scope: Scope, send: Send, origins: tuple[str, ...], exposed: bytes) -> Send:
    """``send`` that adds the CORS headers to the answer, when the request's origin is allowed."""
    origin = allowed_origin(scope, origins)
    if origin is None:
        return send
    extra = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", exposed),
        (b"vary", b"Origin"),
    ]

    async def with_headers(message: Any) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return with_headers


async def preflight(scope: Scope, send: Send, methods: bytes, default_headers: bytes) -> None:
    """Answer a CORS preflight: the methods and the request headers asked for (204 either way; the
    allow-origin header, added by ``with_cors``, is missing for an origin not allowed, so the
    browser stops there)."""
    headers = [
        (b"access-control-allow-methods", methods),
        (b"access-control-max-age", PREFLIGHT_MAX_AGE),
    ]
    asked = header(scope, b"access-control-request-headers")
    if asked and _HEADER_LIST.match(asked.strip()):
        headers.append((b"access-control-allow-headers", asked.strip().encode("latin-1")))
    else:
        headers.append((b"access-control-allow-headers", default_headers))
    await respond(send, 204, b"", b"text/plain; charset=utf-8", headers)
