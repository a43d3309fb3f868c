"""How many tools an upstream has (for ``/status``) and their names (the tool labels metrics may
use), counted again when it says its list changed.

A walk over every ``tools/list`` page (the server's ``toolFilter`` applied), at most one at a time:
however many ``list_changed`` arrive during a walk, one more walk follows it (``core.coalesce``).
It only asks through the link's own-request function; it routes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from mcp_central.config.model import NameFilter
from mcp_central.core.coalesce import Coalesced
from mcp_central.core.filters import filter_listed
from mcp_central.errors import UpstreamError
from mcp_central.types import Message

Ask = Callable[[str, dict[str, Any]], Awaitable[Message]]
MAX_PAGES = 100


class ToolCount:
    def __init__(self, ask: Ask, tool_filter: NameFilter | None, timeout: float) -> None:
        self.value: int | None = None
        self.names: frozenset[str] = frozenset()
        """The listed tools' names (after ``toolFilter``): what a metric may name, never more."""
        self._ask = ask
        self._filter = tool_filter
        self._timeout = timeout
        self._refresh = Coalesced()

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
                    names.update(
                        tool["name"]
                        for tool in tools
                        if isinstance(tool, dict) and isinstance(tool.get("name"), str)
                    )
                    cursor = result.get("nextCursor")
                    if not cursor:
                        break
        except (TimeoutError, UpstreamError):
            return
        self.value = count
        self.names = frozenset(names)
