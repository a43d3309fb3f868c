"""All upstream links of one running config: start them together, report on them, stop them.

A failing upstream is logged and left FAILED while the others serve; only a server with
``panicIfInvalid`` turns its failure into a start-up failure. The manager does not route
messages (that is the downstream's job through each link).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mcp_central.config.model import Config, ServerConfig
from mcp_central.core.calls import CallObserver
from mcp_central.core.pins import PinBook, ServerPins
from mcp_central.errors import UpstreamError
from mcp_central.upstream.known_tools import KnownTools
from mcp_central.upstream.link import LinkState, UpstreamLink
from mcp_central.upstream.pool import IsolatedPool

log = logging.getLogger("mcp_central.upstream")


class StartupFailed(Exception):
    """A ``panicIfInvalid`` upstream could not start."""


class UpstreamManager:
    def __init__(
        self,
        config: Config,
        observer: CallObserver | None = None,
        pins: PinBook | None = None,
        known_tools: KnownTools | None = None,
    ) -> None:
        self.config = config
        self.known_tools = known_tools
        """The last tool list of every server (``<config>.tools.json``), kept by each link."""
        self.observer = observer
        """Told of every client request any link answers (``ops.observers.Observers``)."""
        self.pins = pins
        """Pinned tool definitions of the servers with ``pinTools`` (``None``: nobody pins)."""
        servers = config.enabled_servers
        self.links: dict[str, UpstreamLink] = {
            name: UpstreamLink(server, **self._extras(server))
            for name, server in servers.items()
            if server.session_mode == "shared"
        }
        """Shared links, started with the gateway."""
        self.pools: dict[str, IsolatedPool] = {
            name: IsolatedPool(server, **self._extras(server))
            for name, server in servers.items()
            if server.session_mode == "isolated"
        }
        """Isolated servers: a link per session, started when the session initializes."""
        for link in self.links.values():
            link.calls.observer = observer
        for pool in self.pools.values():
            pool.observer = observer
        self.settled = asyncio.Event()
        """Set once every link's first start attempt has finished, well or badly."""
        self._starter: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start every link concurrently; wait only for those whose failure must stop us."""
        eager = [link for link in self.links.values() if not link.server.lazy_start]
        strict = [link for link in eager if link.server.panic_if_invalid]
        relaxed = [link for link in eager if not link.server.panic_if_invalid]
        self._starter = asyncio.get_running_loop().create_task(self._start_all(relaxed))
        results = await asyncio.gather(*(link.start() for link in strict), return_exceptions=True)
        failures = [
            f"{link.name}: {res}" for link, res in zip(strict, results, strict=True) if res is not None
        ]
        if failures:
            await self.close()
            raise StartupFailed("; ".join(failures))

    async def _start_all(self, links: list[UpstreamLink]) -> None:
        """Start ``links`` concurrently, logging failures; mark start-up settled when done."""

        async def one(link: UpstreamLink) -> None:
            try:
                await link.start()
            except UpstreamError as exc:
                log.error(
                    "upstream '%s' failed to start: %s (other upstreams keep serving)", link.name, exc.detail
                )

        await asyncio.gather(*(one(link) for link in links))
        self.settled.set()

    # ------------------------------------------------------------------ live reload

    def add(self, server: ServerConfig) -> None:
        """Take on a server while running (live reload): its link starts in the background."""
        extras = self._extras(server)
        if server.session_mode == "isolated":
            pool = self.pools[server.name] = IsolatedPool(server, **extras)
            pool.observer = self.observer
            return
        link = self.links[server.name] = UpstreamLink(server, **extras)
        link.calls.observer = self.observer
        if server.lazy_start:
            return  # started by the first client that needs it
        task = asyncio.get_running_loop().create_task(self._start_all([link]))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _extras(self, server: ServerConfig) -> dict[str, Any]:
        """What every link of ``server`` is made with besides its config."""
        return {
            "client_name": self.config.proxy.name,
            "pins": self._pins_of(server),
            "known_tools": self.known_tools,
        }

    def _pins_of(self, server: ServerConfig) -> ServerPins | None:
        if self.pins is None or not server.pin_tools:
            return None
        return self.pins.server(server.name, server.pin_new)

    def tools_changed(self, name: str) -> None:
        """Held tools of server ``name`` were released: its sessions hear their list changed."""
        link, pool = self.links.get(name), self.pools.get(name)
        for each in [*([link] if link is not None else []), *(pool.links if pool is not None else ())]:
            each.tools_changed()

    def set_tool_overrides(self, server: ServerConfig) -> None:
        """Serve a server's changed ``toolOverrides`` without restarting it (live reload)."""
        link, pool = self.links.get(server.name), self.pools.get(server.name)
        if link is not None:
            link.set_tool_overrides(server)
        if pool is not None:
            pool.set_tool_overrides(server)

    async def remove(self, name: str) -> None:
        """Stop a server's link (or its isolated pool) and forget it."""
        link, pool = self.links.pop(name, None), self.pools.pop(name, None)
        if link is not None:
            await link.close()
        if pool is not None:
            await pool.close()

    async def close(self) -> None:
        starting = list(self._background)
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)  # let each close what it spawned
        if self._starter is not None:
            self._starter.cancel()
        await asyncio.gather(
            *(link.close() for link in self.links.values()),
            *(pool.close() for pool in self.pools.values()),
            return_exceptions=True,
        )

    def ready(self) -> tuple[bool, list[str]]:
        """Readiness: start-up has settled and the upstreams that ``readiness`` asks for are ready
        (every ``required`` one; with ``any`` also one at least, with ``all`` every one); else why not.
        A ``lazyStart`` upstream not started yet counts for none of them."""
        policy = self.config.proxy.readiness
        reasons = []
        if not self.settled.is_set():
            reasons.append("upstreams are still starting")
        counted = [
            link
            for link in self.links.values()
            if not (link.server.lazy_start and link.state is LinkState.STOPPED)
        ]
        for link in counted:
            if link.lifecycle.serving:
                continue
            if link.server.required:
                reasons.append(f"required upstream '{link.name}' is {link.state.value}")
            elif policy == "all":
                reasons.append(f"upstream '{link.name}' is {link.state.value} (readiness: all)")
        if policy == "any" and counted and not any(link.lifecycle.serving for link in counted):
            reasons.append(f"none of {len(counted)} upstream(s) is ready (readiness: any)")
        return not reasons, reasons

    def down(self) -> list[tuple[str, str]]:
        """The upstreams not serving now, with their state (names and states only: no targets)."""
        return [(name, link.state.value) for name, link in self.links.items() if not link.lifecycle.serving]

    def status(self) -> list[dict[str, Any]]:
        by_name = {name: link.status() for name, link in self.links.items()}
        by_name.update({name: pool.status() for name, pool in self.pools.items()})
        for name, status in by_name.items():
            server = self.config.enabled_servers.get(name)
            if self.pins is not None and server is not None and server.pin_tools:
                status["quarantined"] = self.pins.status(name) or []
        return [by_name[name] for name in self.config.enabled_servers if name in by_name]
