"""How many tools an upstream has (for ``/status``) and their names (the tool labels metrics may
use), counted again when it says its list changed; and what is wrong with its ``toolOverrides``
given those tools.

A walk over every ``tools/list`` page (the server's ``toolFilter`` applied), at most one at a time:
however many ``list_changed`` arrive during a walk, one more walk follows it (``core.coalesce``).
The walk sees the upstream's own names (``ask`` must not apply the overrides); the names kept are
those clients see. A finished walk hands the whole list, in the upstream's names, to ``on_listed``
(``upstream.known_tools``: the last known list of every server). It only asks through the link's
own-request function; it routes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from mcp_central.config.model import NameFilter
from mcp_central.core.coalesce import Coalesced
from mcp_central.core.filters import filter_listed
from mcp_central.core.tool_overrides import ToolOverrides, override_problems
from mcp_central.errors import UpstreamError
from mcp_central.types import Message

log = logging.getLogger("mcp_central.upstream")

Ask = Callable[[str, dict[str, Any]], Awaitable[Message]]
MAX_PAGES = 100


class ToolCount:
    def __init__(self, ask: Ask, tool_filter: NameFilter | None, timeout: float, server: str = "") -> None:
        self._server = server
        self.value: int | None = None
        self.names: frozenset[str] = frozenset()
        """The listed tools' names as clients see them (after ``toolFilter`` and ``toolOverrides``):
        what a metric may name, never more."""
        self.upstream_names: frozenset[str] | None = None
        """The upstream's own names of those tools; ``None`` until a walk finished."""
        self.overrides = ToolOverrides()
        """The server's ``toolOverrides`` (the link swaps them on reload, then counts again)."""
        self.problems: list[str] = []
        """``override_problems`` of the last walk (``/status``, ``check``); each logged once."""
        self._logged: set[str] = set()
        self._ask = ask
        self._filter = tool_filter
        self._timeout = timeout
        self._refresh = Coalesced()
        self.held: Callable[[], Iterable[str]] = tuple
        """The upstream's tools held by ``pinTools`` (left out of lists, yet the server has them)."""
        self.on_listed: Callable[[list[dict[str, Any]]], None] | None = None
        """Told every finished walk's tools (all pages, the upstream's own names and definitions)."""

    def refresh(self, spawn: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        """Count again soon (``spawn`` runs the walk as a task), unless a walk already will."""
        if self._refresh.wanted():
            spawn(self._walks())

    async def _walks(self) -> None:
        try:
            await self._walk()
            while self._refresh.finished():
                await self._walk()
        except BaseException:
            self._refresh.abandoned()
            raise

    async def _walk(self) -> None:
        count, cursor = 0, None
        names: set[str] = set()
        listed: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(self._timeout):
                for _ in range(MAX_PAGES):
                    reply = await self._ask("tools/list", {"cursor": cursor} if cursor else {})
                    result = reply.get("result")
                    if not isinstance(result, dict):
                        return
                    filter_listed(result, "tools", self._filter)
                    tools = result.get("tools") or []
                    count += len(tools)
                    named = [
                        tool for tool in tools if isinstance(tool, dict) and isinstance(tool.get("name"), str)
                    ]
                    names.update(tool["name"] for tool in named)
                    listed += named
                    cursor = result.get("nextCursor")
                    if not cursor:
                        break
        except (TimeoutError, UpstreamError):
            return
        self.upstream_names = frozenset(names)
        if self.on_listed is not None:
            self.on_listed(listed)
        self.names = frozenset(self.overrides.exposed_names(names))
        self.value = count - (len(names) - len(self.names))  # less the tools a new name hides
        # A held tool is left out of the list, but an override of it is no mistake.
        self.problems = override_problems(self._server, self.overrides.overrides, names | set(self.held()))
        for problem in self.problems:
            if problem not in self._logged:
                self._logged.add(problem)
                log.warning("upstream '%s': %s", self._server, problem)

    def use(self, overrides: ToolOverrides) -> None:
        """Count and check with these overrides from the next walk on (their problems logged anew)."""
        self.overrides = overrides
        self._logged.clear()
