"""Carry out the link core's commands on the event loop: sends upstream, deliveries to sessions,
timers, logs, the degraded mark and tool recounts.

``CommandRunner`` is the half of the link driver (``upstream.link``) that turns what ``LinkCore``
returns into effects. It decides nothing (the core did) and never starts, stops or hand-shakes a
transport: it only asks the link which transport is current when a send goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from mcp_central.core.link.core import LinkCore
from mcp_central.core.link.events import (
    ArmTimer,
    CancelTimer,
    Command,
    Deliver,
    Log,
    MissedDeadline,
    SendUpstream,
    TimerFired,
    ToolsChanged,
)
from mcp_central.core.supervision import Lifecycle, LinkState
from mcp_central.errors import UpstreamError, UpstreamUnavailable, to_jsonrpc_error
from mcp_central.types import Message
from mcp_central.upstream.base import UpstreamTransport
from mcp_central.upstream.observed import ObservedCalls
from mcp_central.upstream.tasks import OwnedTasks
from mcp_central.upstream.tool_count import ToolCount

log = logging.getLogger("mcp_central.upstream")


class CommandRunner:
    """One link's hands: what its core decided, done in order."""

    def __init__(
        self,
        core: LinkCore,
        name: str,
        *,
        lifecycle: Lifecycle,
        calls: ObservedCalls,
        tools: ToolCount,
        tasks: OwnedTasks,
        transport: Callable[[], UpstreamTransport | None],
    ) -> None:
        """``transport``: the link's current transport (``None`` while it has none)."""
        self.core = core
        self.name = name
        self.lifecycle = lifecycle
        self.calls = calls
        self.tools = tools
        self._tasks = tasks
        self._transport = transport
        self._timers: dict[tuple[str, Any], asyncio.TimerHandle] = {}

    async def run(self, commands: list[Command]) -> None:
        """Carry out ``commands`` in order, sending upstream before going on."""
        for command in commands:
            if type(command) is SendUpstream:
                await self._send(command.message)
            else:
                self._apply(command)

    def run_soon(self, commands: list[Command]) -> None:
        """Carry out ``commands`` from a callback: sends go out as tasks, in order."""
        for command in commands:
            if type(command) is SendUpstream:
                self.spawn(self._send(command.message))
            else:
                self._apply(command)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro)

    def _apply(self, command: Command) -> None:
        kind = type(command)
        if kind is Deliver:
            owner, message = command.owner, command.message  # type: ignore[union-attr]
            if self.calls and "method" not in message:
                self.calls.answered(owner, message)
            owner.deliver(message, command.related)  # type: ignore[union-attr]
        elif kind is ArmTimer:
            key = command.key  # type: ignore[union-attr]
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(command.seconds, self._fire, key)  # type: ignore[union-attr]
        elif kind is CancelTimer:
            handle = self._timers.pop(command.key, None)  # type: ignore[union-attr]
            if handle is not None:
                handle.cancel()
        elif kind is Log:
            log.log(command.level, "%s", command.text)  # type: ignore[union-attr]
        elif kind is MissedDeadline:
            if self.lifecycle.state is LinkState.READY:
                self.lifecycle.deadline_missed()
                log.warning("upstream '%s' degraded: %s", self.name, command.detail)  # type: ignore[union-attr]
        elif kind is ToolsChanged:
            self.tools.refresh(self.spawn)

    def _fire(self, key: tuple[str, Any]) -> None:
        self._timers.pop(key, None)
        self.run_soon(self.core.handle(TimerFired(key)))

    async def _send(self, message: Message) -> None:
        """Write ``message`` upstream; a request that cannot go is answered with the reason."""
        transport = self._transport()
        try:
            if transport is None:
                raise UpstreamUnavailable(self.name, self.lifecycle.last_error or "not connected")
            await transport.send(message)
        except Exception as exc:
            upstream_id = message.get("id")
            if "method" in message and isinstance(upstream_id, int):
                error = exc if isinstance(exc, UpstreamError) else UpstreamUnavailable(self.name, str(exc))
                self.run_soon(self.core.unsent(upstream_id, to_jsonrpc_error(error)))
            else:
                log.debug("upstream '%s': could not send %s: %s", self.name, message.get("method"), exc)
