"""``Origin`` checks against DNS rebinding: a browser page on a foreign site must not reach us.

A request without ``Origin`` (every non-browser client) passes. A present ``Origin`` passes only
if its host is loopback, the host of ``baseURL``, or it is listed in ``allowedOrigins``
(``"*"`` turns the check off). Matching the request's own ``Host`` is deliberately not enough:
in a rebinding attack Host and Origin are both the attacker's name.
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class OriginPolicy:
    def __init__(self, base_url: str, allowed_origins: tuple[str, ...]) -> None:
        self.allow_any = "*" in allowed_origins
        self.origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)
        hosts = set(LOOPBACK_HOSTS)
        base_host = urlsplit(base_url).hostname if base_url else None
        if base_host:
            hosts.add(base_host.lower())
        self.hosts = frozenset(hosts)

    def allows(self, origin: str | None) -> bool:
        if origin is None or self.allow_any:
            return True
        normalized = origin.strip().rstrip("/").lower()
        if normalized in self.origins:
            return True
        try:
            host = urlsplit(normalized).hostname
        except ValueError:
            return False
        return host is not None and host in self.hosts
