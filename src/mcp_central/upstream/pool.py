"""Isolated links (``sessionMode: "isolated"``): one upstream link per downstream session.

Stateful servers (browsers, shells, anything keeping per-user state) must not be shared. Each
session gets its own link, initialized with that client's own capabilities (roots included), and
the link is closed when the session ends. ``maxSessions`` caps how many run at once. The pool
does not route messages; sessions talk to their link directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from mcp_central.config.model import ServerConfig
from mcp_central.core.calls import CallObserver
from mcp_central.core.pins import ServerPins
from mcp_central.errors import UpstreamError, UpstreamUnavailable
from mcp_central.upstream.known_tools import KnownTools
from mcp_central.upstream.link import UpstreamLink

log = logging.getLogger("mcp_central.upstream")


class IsolatedPool:
    def __init__(
        self,
        server: ServerConfig,
        *,
        client_name: str = "mcp-central",
        pins: ServerPins | None = None,
        known_tools: KnownTools | None = None,
    ) -> None:
        self.server = server
        self.known_tools = known_tools
        """Where each link's tool lists are remembered (``upstream.known_tools``)."""
        self.pins = pins
        """The server's pinned tool definitions (``pinTools``), handed to every link it opens."""
        self.client_name = client_name
        self.links: set[UpstreamLink] = set()
        self.last_error: str | None = None
        self.opened = 0
        self._closing: set[asyncio.Task[None]] = set()
        self.observer: CallObserver | None = None
        """Handed to every link the pool opens (``UpstreamLink.calls``)."""

    @property
    def name(self) -> str:
        return self.server.name

    async def open(self, client_capabilities: dict[str, Any]) -> UpstreamLink:
        """A new started link for one session; ``UpstreamUnavailable`` at the cap or if it cannot start."""
        cap = self.server.session_cap
        if cap is not None and len(self.links) >= cap:
            raise UpstreamUnavailable(self.name, f"all {cap} isolated sessions are in use (maxSessions)")
        link = UpstreamLink(
            self.server,
            client_name=self.client_name,
            client_capabilities=client_capabilities,
            pins=self.pins,
            known_tools=self.known_tools,
        )
        link.calls.observer = self.observer
        self.links.add(link)
        try:
            await link.start()
        except BaseException as exc:
            # Failed, or cancelled (a group list that stopped waiting, a client gone): no session
            # will use it, so its supervisor must not retry. Closed in the background, as this
            # task may be cancelled again.
            self.links.discard(link)
            if isinstance(exc, UpstreamError):
                self.last_error = exc.detail
            self._close_soon(link)
            raise
        self.opened += 1
        return link

    @property
    def in_flight(self) -> int:
        return sum(link.in_flight for link in self.links)

    def fail_in_flight(self, reason: str) -> None:
        for link in self.links:
            link.fail_in_flight(reason)

    def release(self, link: UpstreamLink) -> None:
        """The session is over: close its link (in the background; the caller may not wait)."""
        if link not in self.links:
            return
        self.links.discard(link)
        self._close_soon(link)

    def _close_soon(self, link: UpstreamLink) -> None:
        """Close ``link`` in a task the pool owns: ``close`` awaits it, its failure is logged."""
        task = asyncio.get_running_loop().create_task(link.close())
        self._closing.add(task)
        task.add_done_callback(self._closed)

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("upstream '%s': closing an isolated link failed", self.name, exc_info=error)

    async def close(self) -> None:
        links, self.links = list(self.links), set()
        for link in links:
            self._close_soon(link)
        await asyncio.gather(*list(self._closing), return_exceptions=True)  # failures: see _closed

    def set_tool_overrides(self, server: ServerConfig) -> None:
        """``server``'s ``toolOverrides`` for the links open now and those opened later (in place)."""
        self.server = server
        for link in self.links:
            link.set_tool_overrides(server)

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transport": self.server.transport,
            "target": self.server.display,
            "sessionMode": "isolated",
            "state": "isolated",
            "links": len(self.links),
            "linkStates": _count_states(self.links),
            "restarts": sum(link.lifecycle.restarts for link in self.links),
            "maxSessions": self.server.session_cap,
            "opened": self.opened,
            "lastError": self.last_error,
            "sessions": len(self.links),
            "inFlight": sum(link.status()["inFlight"] for link in self.links),
            "tools": next((link.tool_count for link in self.links if link.tool_count is not None), None),
            "toolOverrideProblems": next(
                (link.tools.problems for link in self.links if link.tools.problems), []
            ),
        }


def _count_states(links: Iterable[UpstreamLink]) -> dict[str, int]:
    """How many of the session links are in each state (``{"ready": 3, "restarting": 1}``)."""
    counts: dict[str, int] = {}
    for link in links:
        counts[link.state.value] = counts.get(link.state.value, 0) + 1
    return counts
