"""The gateway's background work while it serves: the idle-session reaper, the pin file's poll, the
config file's watch and SIGHUP (live reload), and with a Redis session store the cluster upkeep.

``Housekeeping.start`` runs at the ASGI lifespan's start-up and ``stop`` at its shutdown, before
sessions and links are closed (``downstream.app``). It reaches the gateway only through
``Housed``, a protocol of its own; it serves no request and does not change the config.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import TYPE_CHECKING, Protocol

from mcp_central.config.model import Config
from mcp_central.downstream.session import Route
from mcp_central.ops.pin_keeper import PinKeeper
from mcp_central.ops.reload import Reloader

if TYPE_CHECKING:
    from mcp_central.cluster.store import RedisShare

log = logging.getLogger("mcp_central")


class Housed(Protocol):
    """What the background work reads of the gateway (``downstream.app.Gateway``)."""

    @property
    def config(self) -> Config: ...

    @property
    def pins(self) -> PinKeeper: ...

    @property
    def share(self) -> RedisShare | None: ...

    @property
    def reloader(self) -> Reloader | None: ...

    def all_routes(self) -> list[Route]: ...


class Housekeeping:
    def __init__(self, gateway: Housed) -> None:
        self.gateway = gateway
        self._reaper: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._pin_watcher: asyncio.Task[None] | None = None
        self._upkeep: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background tasks (the upstream links have started)."""
        gateway = self.gateway
        loop = asyncio.get_running_loop()
        self._reaper = loop.create_task(self._expire_idle_sessions())
        self._pin_watcher = loop.create_task(gateway.pins.watch())
        if gateway.share is not None:
            from mcp_central.cluster import upkeep

            gateway.share.start()
            self._upkeep = loop.create_task(upkeep.refresh_forever(gateway.share, gateway.all_routes))
        self._start_reloading()

    def stop(self) -> None:
        """Cancel the background tasks; pins not yet written are written now."""
        if self.gateway.reloader is not None:
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._watcher is not None:
            self._watcher.cancel()
        if self._reaper is not None:
            self._reaper.cancel()
        if self._pin_watcher is not None:
            self._pin_watcher.cancel()
            self.gateway.pins.flush()
        if self._upkeep is not None:
            self._upkeep.cancel()

    async def _expire_idle_sessions(self) -> None:
        """Close sessions that went quiet: no request in flight, no stream open, for ``idleTimeout``
        — or for ``unusedSessionTimeout`` when they never made a request after ``initialize``."""
        while True:
            unused = self.gateway.config.proxy.unused_session_timeout
            timeouts = [unused, *(route.idle_timeout for route in self.gateway.all_routes())]
            await asyncio.sleep(min(max(min(timeouts) / 4, 0.05), 30.0))  # also paces stream expiry
            now = time.monotonic()
            for route in self.gateway.all_routes():
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
        reloader = self.gateway.reloader
        if reloader is None:
            return
        loop = asyncio.get_running_loop()
        if reloader.watching:
            self._watcher = loop.create_task(reloader.watch())
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reloader.reload("SIGHUP")))
