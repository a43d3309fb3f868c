"""One upstream link: an initialized MCP session with one server, shared by downstream sessions.

This is the asyncio driver of the link's sans-IO core (``core.link``): it runs the transport,
the handshake (``upstream.handshake``) and the link's lifecycle, turns what happens into events for
``LinkCore.handle`` and carries out the commands it returns through its ``CommandRunner``
(``upstream.commands``: sending upstream, delivering to sessions, arming and cancelling timers,
logging). Every routing decision (ids and tokens, deadlines, fan-out, tasks,
attribution of what the upstream starts) is the core's. When the connection is lost, everything
in flight is answered with an error at once and ``upstream.supervisor`` brings it back; sessions
stay attached.

It must not know about HTTP or any downstream transport: sessions are reached only through
``Downstream.deliver``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from mcp_central import __version__
from mcp_central.config.model import ServerConfig
from mcp_central.core.link.core import LinkCore
from mcp_central.core.link.endings import deadline_key
from mcp_central.core.link.events import (
    ClientMessage,
    Detached,
    OwnRequest,
    TimerFired,
    TransportLost,
    UpstreamMessage,
)
from mcp_central.core.pins import ServerPins
from mcp_central.core.supervision import Lifecycle, LinkState
from mcp_central.core.tool_overrides import ToolOverrides
from mcp_central.errors import UpstreamError, UpstreamUnavailable, to_jsonrpc_error
from mcp_central.types import Message
from mcp_central.upstream.base import UpstreamTransport
from mcp_central.upstream.commands import CommandRunner
from mcp_central.upstream.factory import create_transport
from mcp_central.upstream.handshake import SHARED_CLIENT_CAPABILITIES, handshake, initialize_params
from mcp_central.upstream.known_tools import KnownTools
from mcp_central.upstream.observed import ObservedCalls
from mcp_central.upstream.owners import Downstream, Waiter
from mcp_central.upstream.supervisor import Supervisor, describe_failure
from mcp_central.upstream.tasks import OwnedTasks
from mcp_central.upstream.tool_count import ToolCount

__all__ = ["Downstream", "LinkState", "UpstreamLink"]

log = logging.getLogger("mcp_central.upstream")

STARTUP_SECONDS = 60.0
"""Spawning and initializing may take longer than a request (``npx`` and ``uvx`` fetch packages):
start-up gets the server's ``timeout`` or this, whichever is longer."""


class UpstreamLink:
    def __init__(
        self,
        server: ServerConfig,
        *,
        client_name: str = "mcp-central",
        client_capabilities: dict[str, Any] | None = None,
        transport_factory: Callable[[ServerConfig], UpstreamTransport] = create_transport,
        pins: ServerPins | None = None,
        known_tools: KnownTools | None = None,
    ) -> None:
        """``pins``: the server's pinned tool definitions (``pinTools``), shared by its links;
        ``known_tools``: where each full list the tool count walks is remembered."""
        self.server = server
        self.lifecycle = Lifecycle(server.restart)
        self.init_result: dict[str, Any] | None = None
        self.ready_since: float | None = None
        self.starts = 0
        self.client_name = client_name
        declared = SHARED_CLIENT_CAPABILITIES if client_capabilities is None else client_capabilities
        self._client_capabilities = declared
        self.core = LinkCore(server, declared, {"name": client_name, "version": __version__})
        self.core.pins = pins
        self._transport_factory = transport_factory
        self._transport: UpstreamTransport | None = None
        self._ended: str | None = None
        """Why the current attempt's transport ended by itself (the process exited, the connection
        failed): what a failed start reports, rather than what the handshake saw afterwards."""
        self._start_lock = asyncio.Lock()
        self._tasks = OwnedTasks(log, f"upstream '{server.name}'")
        self._last_activity = time.monotonic()
        self.tools = ToolCount(self._upstream_call, server.tool_filter, server.timeout, server.name)
        """How many tools the upstream offers (``/status``), counted again on ``list_changed``."""
        self.tools.use(self.core.overrides)
        if pins is not None:
            self.tools.held = pins.held.keys
        if known_tools is not None:
            self.tools.on_listed = functools.partial(known_tools.remember, server.name)
        self.closed = False
        self.supervisor = Supervisor(self)
        self.calls = ObservedCalls(server.name)
        """Client requests in flight, for whoever observes calls (``calls.observer``)."""
        self.commands = CommandRunner(
            self.core,
            server.name,
            lifecycle=self.lifecycle,
            calls=self.calls,
            tools=self.tools,
            tasks=self._tasks,
            transport=lambda: self._transport,
        )

    @property
    def tool_count(self) -> int | None:
        return self.tools.value

    @property
    def state(self) -> LinkState:
        return self.lifecycle.state

    @property
    def last_error(self) -> str | None:
        return self.lifecycle.last_error

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def startup_deadline(self) -> float:
        return max(self.server.timeout, STARTUP_SECONDS)

    @property
    def stateless(self) -> bool:
        """Whether the upstream speaks only the stateless 2026-07-28 revision."""
        return self.core.stateless is not None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Connect and initialize (one attempt); ``UpstreamUnavailable`` if that fails, and the
        supervisor plans the next attempt."""
        async with self._start_lock:
            if self.lifecycle.serving or self.closed:
                return
            self.lifecycle.attempting()
            self.starts += 1
            self._ended = None
            transport = self._transport_factory(self.server)
            transport.dropped = self.core.dropped
            try:
                async with asyncio.timeout(self.startup_deadline):
                    await transport.start(self._on_message, lambda error: self._on_close(transport, error))
                    self._transport = transport
                    init = await self._handshake(transport)
                    self._check_alive(transport)
            except BaseException as exc:
                self._transport = None
                await transport.close()
                self.lifecycle.attempt_failed(self._ended or describe_failure(exc, self.startup_deadline))
                self.fail_in_flight(self.last_error or "start failed")
                self.supervisor.attempt_finished()
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise UpstreamUnavailable(self.name, self.last_error or "start failed") from exc
            self.init_result = init
            restarts = self.lifecycle.restarts
            self.lifecycle.ready(time.monotonic())
            self.ready_since = time.time()
            self._last_activity = time.monotonic()
            log.info("upstream '%s' ready (%s, restarts: %d)", self.name, self.server.display, restarts)
            self.tools.refresh(self._spawn)
            self.commands.run_soon(self.core.restored())
            self.supervisor.attempt_finished()

    async def _handshake(self, transport: UpstreamTransport) -> dict[str, Any]:
        """``initialize`` (``server/discover`` if stateless): how the upstream describes itself."""
        return await handshake(
            transport,
            name=self.name,
            pinned=self.server.protocol_version,
            params=initialize_params(
                self.client_name, self._client_capabilities, self.server.protocol_version
            ),
            ask=lambda method, params: self._call(method, params, self.startup_deadline),
            check_alive=lambda: self._check_alive(transport),
            go_stateless=self.core.go_stateless,
        )

    def _check_alive(self, transport: UpstreamTransport) -> None:
        """Raise why ``transport`` ended if it has: nothing more can be learnt through it."""
        if self._transport is not transport:
            raise UpstreamUnavailable(self.name, self._ended or "the connection ended during start-up")

    async def ensure_ready(self) -> None:
        """Return once the link serves (starting or waiting for it as the supervisor allows)."""
        if not self.lifecycle.serving:
            await self.supervisor.ensure_ready()

    async def stop(self) -> None:
        """Stop the upstream for now (``idleStop``); the next client to need it starts it again."""
        async with self._start_lock:
            transport, self._transport = self._transport, None
            self.lifecycle.stopped()
            self.fail_in_flight("the upstream was stopped while idle")
            if transport is not None:
                await transport.close()

    async def close(self) -> None:
        self.closed = True
        self.supervisor.close()
        self.lifecycle.stopped()
        self.fail_in_flight("upstream link closed")
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
        await self._tasks.cancel_all()

    @property
    def in_flight(self) -> int:
        return len(self.core.table)

    @property
    def session_count(self) -> int:
        """Client sessions attached (what ``maxSessions`` caps): owners that only watch for list
        changes (the OpenAPI bridge's document cache) are not clients."""
        return sum(1 for owner in self.core.sessions if not getattr(owner, "watches_only", False))

    def idle_for(self, now: float) -> float:
        """Seconds since the last traffic; 0 while a request or a resource subscription is open."""
        if len(self.core.table) or self.core.subscriptions.uris():
            return 0.0
        return now - self._last_activity

    def status(self) -> dict[str, Any]:
        info = (self.init_result or {}).get("serverInfo") or {}
        return {
            "name": self.name,
            "transport": self.server.transport,
            "target": self.server.display,
            "state": self.state.value,
            "tools": self.tools.value,
            "server": {"name": info.get("name"), "version": info.get("version")} if info else None,
            "protocolVersion": (self.init_result or {}).get("protocolVersion"),
            "lastError": self.last_error,
            "starts": self.starts,
            **self.supervisor.status(),
            "readySince": self.ready_since,
            "inFlight": len(self.core.table),
            "sessions": len(self.core.sessions),
            **self.core.status(),
            "toolOverrideProblems": self.tools.problems,
        }

    def set_tool_overrides(self, server: ServerConfig) -> None:
        """Serve ``server``'s ``toolOverrides`` from now on (live reload, in place): every session
        hears that its tool list changed, and the tools are counted and checked again."""
        self.server = server
        self.core.overrides = ToolOverrides(server.tool_overrides)
        self.tools.use(self.core.overrides)
        changed: Message = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
        for owner in list(self.core.sessions):
            owner.deliver(dict(changed), None)
        if self.lifecycle.serving:
            self.tools.refresh(self._spawn)

    # ----------------------------------------------------------------- downstream → upstream

    def attach(self, session: Downstream) -> None:
        self.core.attach(session)

    def detach(self, session: Downstream) -> None:
        """The session ended: cancel what it still has in flight and refuse requests sent to it."""
        self.commands.run_soon(self.core.handle(Detached(session)))
        if self.calls:
            self.calls.forget(session)

    async def forward_request(self, session: Downstream, message: Message, *, own: bool = False) -> None:
        """Send a client request upstream; its answer arrives later through ``session.deliver``.
        ``own``: the gateway asks on its own account (a group's merged list), for no client's call."""
        if not own:
            self.calls.sent(session, message)
        if not self.lifecycle.serving:
            try:
                await self.ensure_ready()
            except BaseException as exc:  # the caller answers it: record it here, as it never went
                error = exc if isinstance(exc, UpstreamError) else UpstreamUnavailable(self.name, repr(exc))
                self.calls.failed(session, message.get("id"), to_jsonrpc_error(error))
                raise
        self._last_activity = time.monotonic()
        await self.commands.run(self.core.handle(ClientMessage(session, message, own)))

    async def forward_notification(self, session: Downstream, message: Message) -> None:
        if self.calls and message.get("method") == "notifications/cancelled":
            self.calls.cancelled(session, message)
        await self.commands.run(self.core.handle(ClientMessage(session, message)))

    async def forward_response(self, session: Downstream, message: Message) -> None:
        """A client's answer to a server→client request (sampling, elicitation, roots)."""
        await self.commands.run(self.core.handle(ClientMessage(session, message)))

    def follow_logs(self, owner: Downstream, level: str) -> None:
        """Let ``owner`` hear log messages at ``level`` and up (attached; the upstream's level follows)."""
        self.commands.run_soon(self.core.follow_logs(owner, level))

    async def subscribe(self, owner: Downstream, uris: list[str]) -> list[str]:
        """Subscribe ``owner`` to resource updates for ``uris``; the ones the upstream accepted."""
        await self.ensure_ready()
        books = self.core.subscriptions
        if self.core.stateless is not None:
            for uri in uris:
                books.subscribe(owner, uri)
            await self.commands.run(self.core.stateless.listen(books.uris()))
            return list(uris)
        accepted = []
        for uri in uris:
            if books.subscribe(owner, uri):
                try:
                    reply = await self._call("resources/subscribe", {"uri": uri})
                except UpstreamError:
                    reply = {"error": {}}
                if "error" in reply:
                    books.unsubscribe(owner, uri)
                    continue
            accepted.append(uri)
        return accepted

    def fail_in_flight(self, reason: str) -> None:
        """Answer every request in flight with an error now (lost connection, stop, shutdown)."""
        self.commands.run_soon(self.core.handle(TransportLost(reason)))

    def tools_changed(self) -> None:
        """What clients may see of the tools changed here (held tools released): tell them."""
        self.commands.run_soon(self.core.tools_changed())

    # ----------------------------------------------------------------- upstream → downstream

    def _on_message(self, message: Message, related: int | None = None) -> None:
        """What the transport received; ``related``: the request whose reply stream carried it."""
        if self.lifecycle.state is LinkState.DEGRADED:
            self.lifecycle.heard_from()
            log.info("upstream '%s' answers again", self.name)
        try:
            commands = self.core.handle(UpstreamMessage(message, related))
        except Exception:  # a bug must cost one message, never the transport's reader
            self.core.dropped["error"] += 1
            log.exception("upstream '%s': a message could not be handled and was dropped", self.name)
            return
        self.commands.run_soon(commands)

    def _on_close(self, transport: UpstreamTransport, error: BaseException | None) -> None:
        """The transport ended by itself: answer everything in flight now, and let it be restarted."""
        if self.closed or transport is not self._transport:
            return  # an old transport, or one that never got going (its start attempt fails instead)
        self._transport = None
        self._spawn(transport.close())  # its HTTP client, or what a dead server left in its group
        why = error.detail if isinstance(error, UpstreamError) else str(error or "") or None
        self._ended = why or "the server closed the connection"
        reason = f"connection lost: {why}" if why else "connection closed by the server"
        self.fail_in_flight(reason)
        if self.lifecycle.serving:
            self.lifecycle.lost(reason, time.monotonic())
            self.supervisor.lost()

    # ----------------------------------------------------------------- the link's own requests

    async def _upstream_call(self, method: str, params: dict[str, Any]) -> Message:
        """``_call``, seeing tools by the upstream's own names (the tool count checks the overrides)."""
        return await self._call(method, params, upstream_names=True)

    async def _call(
        self,
        method: str,
        params: dict[str, Any],
        deadline: float | None = None,
        *,
        upstream_names: bool = False,
    ) -> Message:
        """A request of the link's own; answered with an error past ``deadline`` (default: ``timeout``)."""
        if self._transport is None:
            raise UpstreamUnavailable(self.name, self._ended or "not connected")
        waiter = Waiter(upstream_names=upstream_names)
        message: Message = {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}
        seconds = self.server.timeout if deadline is None else deadline
        try:
            await self.commands.run(self.core.handle(OwnRequest(waiter, message, seconds)))
            return await waiter.future
        finally:
            if not waiter.future.done():  # abandoned (the caller was cancelled): let it go upstream too
                self.commands.run_soon(self.core.handle(TimerFired(deadline_key(message["id"]))))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.commands.spawn(coro)
