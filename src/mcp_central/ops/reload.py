"""Live reload: when the config file changes (or on SIGHUP), serve the new config without a restart.

The new file is validated first; an invalid one is logged, shown in ``/status`` and ignored — the
running config keeps serving. A valid one is applied as a difference: added upstreams start,
removed ones stop (their sessions end), changed ones restart, groups take their new members, and
every other session is left alone. A change of only a server's tokens swaps them in place, and
so does a change of its ``toolOverrides`` (its sessions hear ``notifications/tools/list_changed``).
Identities change in place too: sessions of a removed identity, or on a route it may no longer
use, end; the others hear that their lists changed when the identity's grants did.

What cannot change without a restart (the listen address, ``baseURL``, the HTTP edge limits) is
logged and left as is.
This module reads the config file; the gateway's routes and the upstream manager do the rest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from mcp_central.config.model import Config, ServerConfig
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.errors import ConfigError
from mcp_central.upstream.manager import UpstreamManager

log = logging.getLogger("mcp_central.reload")

POLL_SECONDS = 1.0
"""How often the config file's identity (inode, size, mtime) is checked; its content only on change."""


@dataclasses.dataclass(frozen=True)
class ServerChanges:
    added: list[str]
    removed: list[str]
    restarted: list[str]
    retokened: list[str]
    reoverridden: list[str] = dataclasses.field(default_factory=list)
    """Servers whose ``toolOverrides`` changed (and nothing else but tokens): swapped in place."""

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.restarted or self.retokened or self.reoverridden)


def server_changes(old: dict[str, ServerConfig], new: dict[str, ServerConfig]) -> ServerChanges:
    """What a reload does to the enabled servers. Pure."""
    added = [name for name in new if name not in old]
    removed = [name for name in old if name not in new]
    restarted, retokened, reoverridden = [], [], []
    for name in new:
        if name in old and new[name] != old[name]:
            before, after = old[name], new[name]
            in_place = dataclasses.replace(
                before, auth_tokens=after.auth_tokens, tool_overrides=after.tool_overrides
            )
            if in_place != after:
                restarted.append(name)
                continue
            if before.auth_tokens != after.auth_tokens:
                retokened.append(name)
            if before.tool_overrides != after.tool_overrides:
                reoverridden.append(name)
    return ServerChanges(added, removed, restarted, retokened, reoverridden)


class Gateway(Protocol):
    """What a reload changes: the gateway's config, links and routes (``downstream.app.Gateway``).

    A protocol, not an import of the gateway: the gateway owns its ``Reloader``, so importing it
    here would put the two modules in a circle."""

    config: Config
    manager: UpstreamManager
    routes: dict[str, ServerRoute]

    def server_route(self, server: ServerConfig) -> ServerRoute: ...

    def update_groups(self) -> None: ...

    def apply_identities(self) -> None: ...

    def apply_limits(self) -> None: ...


class Reloader:
    def __init__(self, gateway: Gateway, load: Callable[[], Config], path: str | None) -> None:
        self.gateway = gateway
        self._load = load
        self._path = path
        self._lock = asyncio.Lock()
        self._fingerprint = _fingerprint(path)
        self._digest = _digest(path)
        self.last: dict[str, Any] | None = None
        """The outcome of the last reload, for ``/status``."""
        self.outcomes: Counter[str] = Counter()
        """Reloads by outcome (``ok``, ``invalid``), for ``/metrics``."""

    @property
    def watching(self) -> bool:
        return self._path is not None

    async def watch(self) -> None:
        """Poll the config file; reload when its content changes."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            fingerprint = _fingerprint(self._path)
            if fingerprint == self._fingerprint:
                continue
            self._fingerprint = fingerprint
            digest = await asyncio.to_thread(_digest, self._path)
            if digest is not None and digest != self._digest:
                self._digest = digest
                await self.reload("the config file changed")

    async def reload(self, reason: str) -> bool:
        """Load and apply the config; ``False`` (and the old config kept) if it is invalid."""
        async with self._lock:
            started = time.time()
            try:
                config = await asyncio.to_thread(self._load)
            except ConfigError as exc:
                problems = [str(problem) for problem in exc.problems]
                log.error(
                    "config reload (%s) refused, still serving the previous config: %s",
                    reason,
                    "; ".join(problems),
                )
                self.last = {"at": started, "ok": False, "reason": reason, "problems": problems}
                self.outcomes["invalid"] += 1
                return False
            summary = await apply(self.gateway, config)
            log.info("config reloaded (%s): %s", reason, summary)
            self.last = {"at": started, "ok": True, "reason": reason, "summary": summary}
            self.outcomes["ok"] += 1
            return True


async def apply(gateway: Gateway, new: Config) -> str:
    """Make the running gateway serve ``new``; a one-line summary of what changed."""
    old = gateway.config
    if (old.proxy.host, old.proxy.port, old.proxy.base_path) != (
        new.proxy.host,
        new.proxy.port,
        new.proxy.base_path,
    ):
        log.warning("addr and baseURL changes take effect only after a restart")
        new = dataclasses.replace(
            new,
            proxy=dataclasses.replace(
                new.proxy, host=old.proxy.host, port=old.proxy.port, base_path=old.proxy.base_path
            ),
        )
    edge = {key: getattr(old.proxy, key) for key in ("max_header_bytes", "header_timeout", "max_connections")}
    if any(getattr(new.proxy, key) != value for key, value in edge.items()):
        # The HTTP edge (cli/edge.py) holds them for the listener's lifetime.
        log.warning(
            "maxHeaderBytes, headerTimeout and maxConnections changes take effect only after a restart"
        )
        new = dataclasses.replace(new, proxy=dataclasses.replace(new.proxy, **edge))
    changes = server_changes(old.enabled_servers, new.enabled_servers)
    manager = gateway.manager
    manager.config = new
    gateway.config = new
    retired = []
    for name in changes.removed + changes.restarted:
        retired.append(gateway.routes.pop(name))
    for name in changes.added + changes.restarted:
        server = new.enabled_servers[name]
        if name in changes.restarted:
            await manager.remove(name)
        manager.add(server)
        gateway.routes[name] = gateway.server_route(server)
    for name in changes.retokened:
        gateway.routes[name].auth_tokens = new.enabled_servers[name].auth_tokens
    for name in changes.reoverridden:
        manager.set_tool_overrides(new.enabled_servers[name])  # sessions hear list_changed
    gateway.apply_identities()  # before groups: their members are then judged by the new grants
    gateway.update_groups()
    gateway.apply_limits()
    for route in retired:
        await route.close()
    for name in changes.removed:
        await manager.remove(name)
    parts = [f"{label} {', '.join(names)}" for label, names in (
        ("added", changes.added), ("removed", changes.removed),
        ("restarted", changes.restarted), ("new tokens for", changes.retokened),
        ("new tool overrides for", changes.reoverridden),
    ) if names]  # fmt: skip
    return "; ".join(parts) or "no upstream changed"


def _fingerprint(path: str | None) -> tuple[int, int, int] | None:
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _digest(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except OSError:
        return None
