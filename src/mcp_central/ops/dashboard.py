"""``/ui``: the operator's dashboard — static assets served openly, data only to admins.

    GET /ui/ /ui/app.js /ui/app.css  the page: a login form and the script that draws the rest
                                     (``/ui`` redirects to ``/ui/``). Package files (``ops/ui/``),
                                     no data in them: served to anyone.
    GET /ui/api/state                everything the page shows, as JSON; the checks of ``/status``
                                     (``Gateway.admitted_admin``: Origin/Host, then an admin token).

The page keeps the token the operator typed in the browser's session storage and polls the state
every second with ``Authorization: Bearer``. Every answer carries a Content-Security-Policy that
allows scripts, styles and requests from this origin only (no inline script, no foreign origin).
Read-only: nothing here starts, stops or changes anything. What it shows is what ``/status``
shows (upstream errors are redacted there; ``redact.urls_in`` once more here for safety), plus
``ops.recent``: calls without their arguments.
"""

from __future__ import annotations

import importlib.resources
import time
from typing import Any, Protocol

from mcp_central import __version__
from mcp_central.config import redact
from mcp_central.downstream.http import respond, respond_json
from mcp_central.downstream.session import Route
from mcp_central.ops import health
from mcp_central.ops.recent import STEP_SECONDS, RecentCalls
from mcp_central.ops.reload import Reloader
from mcp_central.types import Scope, Send
from mcp_central.upstream.manager import UpstreamManager

POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", POLICY),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
ASSETS = {
    "": ("index.html", b"text/html; charset=utf-8"),
    "app.js": ("app.js", b"text/javascript; charset=utf-8"),
    "app.css": ("app.css", b"text/css; charset=utf-8"),
}
"""``/ui/<key>`` → the package file under ``ops/ui/`` and its content type."""


class Gateway(Protocol):
    """What the dashboard reads of ``downstream.app.Gateway`` (a protocol: the gateway imports this)."""

    manager: UpstreamManager
    reloader: Reloader | None
    recent: RecentCalls

    def all_routes(self) -> list[Route]: ...

    async def admitted_admin(self, scope: Scope, send: Send) -> bool: ...


_cache: dict[str, bytes] = {}


def _asset(file: str) -> bytes:
    body = _cache.get(file)
    if body is None:
        body = _cache[file] = (importlib.resources.files("mcp_central.ops") / "ui" / file).read_bytes()
    return body


async def handle(gateway: Gateway, rest: list[str], scope: Scope, send: Send) -> None:
    """A request for ``/ui`` + ``rest`` (the path segments after ``ui``)."""
    if scope["method"] not in ("GET", "HEAD"):
        await respond(send, 405, b"Method Not Allowed", headers=[(b"allow", b"GET, HEAD")])
        return
    if rest == ["api", "state"]:
        if not await gateway.admitted_admin(scope, send):
            return
        state = snapshot(gateway, time.time(), time.monotonic())
        await respond_json(send, 200, state, [(b"cache-control", b"no-store"), *SECURITY_HEADERS])
        return
    if not rest and not scope["path"].endswith("/"):
        # The page's URLs are relative (``app.js``, ``api/state``): they need the trailing slash.
        await respond(send, 308, b"", headers=[(b"location", b"ui/"), *SECURITY_HEADERS])
        return
    asset = ASSETS.get("/".join(rest))
    if asset is None:
        await respond(send, 404, b"Not Found", headers=SECURITY_HEADERS)
        return
    file, content_type = asset
    headers = [(b"cache-control", b"no-cache"), *SECURITY_HEADERS]
    await respond(send, 200, _asset(file), content_type, headers)


def snapshot(gateway: Gateway, now: float, monotonic: float) -> dict[str, Any]:
    """Everything the page shows, at wall time ``now`` (``monotonic``: the same instant)."""
    manager = gateway.manager
    return {
        "name": manager.config.proxy.name,
        "version": __version__,
        "now": now,
        "uptimeSeconds": round(now - health.STARTED, 1),
        "upstreams": [_upstream(manager, item, monotonic) for item in manager.status()],
        "routes": [_route(route) for route in gateway.all_routes()],
        "series": {"step": STEP_SECONDS, "servers": gateway.recent.series(now)},
        "recent": gateway.recent.recent(),
        "lastReload": gateway.reloader.last if gateway.reloader is not None else None,
    }


def _upstream(manager: UpstreamManager, status: dict[str, Any], monotonic: float) -> dict[str, Any]:
    name = status["name"]
    link = manager.links.get(name)
    in_state = round(monotonic - link.lifecycle.state_since, 1) if link is not None else None
    error = status.get("lastError")
    return {
        "name": name,
        "transport": status.get("transport"),
        "state": status.get("state"),
        "tools": status.get("tools"),
        "restarts": status.get("restarts", 0),
        "lastError": redact.urls_in(error) if isinstance(error, str) else None,
        "inStateSeconds": in_state,
        "sessions": status.get("sessions", 0),
        "inFlight": status.get("inFlight", 0),
    }


def _route(route: Route) -> dict[str, Any]:
    transports: dict[str, int] = {}
    for session in route.sessions.values():
        transports[session.transport_name] = transports.get(session.transport_name, 0) + 1
    return {"route": route.label, "sessions": len(route.sessions), "byTransport": transports}
