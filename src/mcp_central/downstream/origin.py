"""``Origin`` and ``Host`` checks against DNS rebinding: a browser page on a foreign site must not
reach us, not even by pointing its own name at our address.

``Origin``: a request without it (every non-browser client) passes. A present ``Origin`` passes
only if its host is loopback, the host of ``baseURL``, or it is listed in ``allowedOrigins``
(``"*"`` turns the check off). Matching the request's own ``Host`` is deliberately not enough:
in a rebinding attack Host and Origin are both the attacker's name.

``Host``: a rebinding page's same-origin requests carry no ``Origin`` at all, only the attacker's
name in ``Host``. An IP literal cannot be rebound, so it always passes, and so do ``localhost``,
``baseURL``'s host, the hosts of ``allowedOrigins`` and ``allowedHosts`` (``"*"``: any). Another
name is refused when the gateway listens on loopback only (nobody else can name it), and on other
interfaces only for requests a browser sent (``Sec-Fetch-Site``), so LAN and container clients
that reach it by a name nobody listed keep working.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
HOSTS_REMEMBERED = 256


class OriginPolicy:
    def __init__(
        self,
        base_url: str,
        allowed_origins: tuple[str, ...],
        allowed_hosts: tuple[str, ...] = (),
        listen_host: str = "127.0.0.1",
    ) -> None:
        self.allow_any = "*" in allowed_origins
        self.origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)
        hosts = set(LOOPBACK_HOSTS)
        base_host = urlsplit(base_url).hostname if base_url else None
        if base_host:
            hosts.add(base_host.lower())
        self.hosts = frozenset(hosts)
        self.any_host = "*" in allowed_hosts
        named = {host.lower() for host in allowed_hosts}
        for origin in self.origins:
            try:
                origin_host = urlsplit(origin).hostname
            except ValueError:
                continue
            if origin_host:
                named.add(origin_host)
        self.host_names = frozenset(hosts | named)
        self.loopback_only = _is_loopback(listen_host)
        self._decided: dict[tuple[str, bool], bool] = {}
        """Answers already worked out (clients send the same few Host values on every request)."""

    def allows_host(self, host_header: str | None, browser: bool) -> bool:
        """Whether a request naming us ``host_header`` may be served; ``browser``: it carried
        ``Sec-Fetch-Site`` (or ``Origin``), so a page in a browser sent it."""
        if host_header is None or self.any_host:
            return True
        decided = self._decided.get((host_header, browser))
        if decided is None:
            decided = self._allows_host(host_header, browser)
            if len(self._decided) < HOSTS_REMEMBERED:  # bounded: Host is the client's to choose
                self._decided[(host_header, browser)] = decided
        return decided

    def _allows_host(self, host_header: str, browser: bool) -> bool:
        try:
            name = urlsplit(f"//{host_header.strip()}").hostname
        except ValueError:
            return False
        if not name:
            return False
        if name in self.host_names or _is_ip(name):
            return True
        return not (self.loopback_only or browser)

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


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
