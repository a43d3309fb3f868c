"""RFC 9728 protected-resource metadata: where each route's document lives and what it says.

A route's resource identifier is its URL under ``baseURL`` (``https://gw.example/a/mcp``); its
metadata is served at two paths, so MCP clients find it whether or not a reverse proxy forwards the
host root to the gateway:

    /.well-known/oauth-protected-resource{basePath}{route}   the RFC 9728 path-inserted form, which
                                                              clients build when no challenge names one
    {basePath}/.well-known/oauth-protected-resource{route}   under the base path (only with one):
                                                              the URL every 401 names

and ``/.well-known/oauth-protected-resource`` (and ``{basePath}/.well-known/…``) for the gateway
as a whole, whose resource is ``baseURL``. Documents name the issuer as the one authorization
server, ``scopes_supported`` and ``bearer_methods_supported: ["header"]``.
This module builds URLs and documents; it checks nothing and writes no HTTP.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mcp_central.config.oauth import OAuthConfig

WELL_KNOWN = "/.well-known/oauth-protected-resource"
LEAVES = ("mcp", "sse", "message")


class ResourceMetadata:
    def __init__(self, config: OAuthConfig, base_path: str) -> None:
        self.config = config
        self.base_path = base_path
        parts = urlsplit(config.resource)
        self.origin = f"{parts.scheme}://{parts.netloc}"

    def resource(self, route_path: str) -> str:
        """The resource identifier of the route at ``route_path`` (``/a/mcp``; ``""``: the gateway)."""
        return self.config.resource + route_path

    def audiences(self, route_path: str) -> tuple[str, ...]:
        """The ``aud`` values a token presented at ``route_path`` may carry: the configured audience
        or the URL of the route's endpoints (a legacy-SSE client's token names ``…/sse`` and is also
        sent to ``…/message``), each with or without a trailing slash (clients normalise URLs)."""
        route = route_path.rpartition("/")[0]
        values = {self.config.audience, *(self.resource(f"{route}/{leaf}") for leaf in LEAVES)}
        return tuple(sorted(values | {value.rstrip("/") for value in values} | {v + "/" for v in values}))

    def url(self, route_path: str) -> str:
        """The absolute URL of the metadata of ``route_path``: the one a 401 challenge names."""
        return f"{self.origin}{self.base_path}{WELL_KNOWN}{route_path}"

    def route_path(self, path: str) -> str | None:
        """For a request path (with the base path), the route path whose metadata it asks for
        (``""``: the gateway's), or ``None`` when it is no metadata path."""
        for prefix in (f"{self.base_path}{WELL_KNOWN}", f"{WELL_KNOWN}{self.base_path}"):
            if path == prefix or path.startswith(prefix + "/"):
                return path[len(prefix) :].rstrip("/")
        if self.base_path and path == WELL_KNOWN:
            return ""
        return None

    def document(self, route_path: str) -> dict[str, Any]:
        document: dict[str, Any] = {
            "resource": self.resource(route_path),
            "authorization_servers": [self.config.issuer],
            "bearer_methods_supported": ["header"],
        }
        if self.config.scopes_supported:
            document["scopes_supported"] = list(self.config.scopes_supported)
        return document
