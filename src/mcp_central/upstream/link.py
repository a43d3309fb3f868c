"""One upstream link: an initialized MCP session with one server, shared by downstream sessions.

The link performs the upstream ``initialize`` handshake once, then forwards raw messages:
requests get fresh ids and progress tokens (``core.requests``) and a deadline; answers, progress
and server→client requests go back to the downstream session they belong to; other server
notifications go to every attached session. It never parses messages into models and never
blocks a caller beyond the server's ``timeout``. When its connection is lost, everything in flight
is answered with an error at once and ``upstream.supervisor`` brings it back; sessions stay attached.

Routing what the upstream sends lives in ``upstream.inbound``, the subscription and log-level
bookkeeping in ``upstream.fan_out``, the stateless (2026-07-28) upstream side in
``upstream.stateless``. It must not know about HTTP or any downstream transport: sessions are
reached only through ``Downstream.deliver``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from mcp_central import __version__
from mcp_central.config.model import ServerConfig
from mcp_central.core import jsonrpc, modern_client, protocol
from mcp_central.core.coalesce import Coalesced
from mcp_central.core.fanout import LogLevels, Subscriptions
from mcp_central.core.filters import ServerFilters, filter_listed
from mcp_central.core.modern import MODERN_VERSIONS
from mcp_central.core.requests import RequestTable
from mcp_central.core.server_requests import ServerRequests
from mcp_central.core.supervision import Lifecycle, LinkState
from mcp_central.core.tasks import BY_TASK_ID, TaskOwners, creates_task
from mcp_central.errors import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    to_jsonrpc_error,
)
from mcp_central.types import Message
from mcp_central.upstream.base import UpstreamTransport
from mcp_central.upstream.factory import create_transport
from mcp_central.upstream.fan_out import FanOut
from mcp_central.upstream.inbound import CREATES_TASK, InboundRouting
from mcp_central.upstream.owners import Downstream, Waiter, answer_with_error, cancelled
from mcp_central.upstream.stateless import StatelessUpstream, is_round_id
from mcp_central.upstream.supervisor import Supervisor, describe_failure

__all__ = ["Downstream", "LinkState", "UpstreamLink"]

log = logging.getLogger("mcp_central.upstream")

REQUEST_CANCELLED = -32800

SHARED_CLIENT_CAPABILITIES: dict[str, Any] = {"sampling": {}, "elicitation": {"form": {}, "url": {}}}
"""What a shared link declares upstream: the per-request server→client features it can route to the
client whose request is in flight. Not ``roots``: roots describe one client, and a shared upstream
session would apply one client's roots to all (``sessionMode: "isolated"`` passes a client's own)."""
STARTUP_SECONDS = 60.0
"""Spawning and initializing may take longer than a request (``npx`` and ``uvx`` fetch packages):
start-up gets the server's ``timeout`` or this, whichever is longer."""


_FANNED_OUT = frozenset({"resources/subscribe", "resources/unsubscribe", "logging/setLevel"})


class UpstreamLink(InboundRouting, FanOut):
    def __init__(
        self,
        server: ServerConfig,
        *,
        client_name: str = "mcp-central",
        client_capabilities: dict[str, Any] | None = None,
        transport_factory: Callable[[ServerConfig], UpstreamTransport] = create_transport,
    ) -> None:
        self.server = server
        self.lifecycle = Lifecycle(server.restart)
        self.init_result: dict[str, Any] | None = None
        self.tool_count: int | None = None
        self.ready_since: float | None = None
        self.starts = 0
        self.client_name = client_name
        self.stateless: StatelessUpstream | None = None
        """Set while the upstream speaks only the stateless 2026-07-28 revision."""
        self._client_capabilities = (
            SHARED_CLIENT_CAPABILITIES if client_capabilities is None else client_capabilities
        )
        self._transport_factory = transport_factory
        self._transport: UpstreamTransport | None = None
        self._ended: str | None = None
        """Why the current attempt's transport ended by itself (the process exited, the connection
        failed): what a failed start reports, rather than what the handshake saw afterwards."""
        self._table: RequestTable[Downstream] = RequestTable()
        self._sessions: set[Downstream] = set()
        self._server_requests: ServerRequests[Downstream] = ServerRequests()
        self._subscriptions: Subscriptions[Downstream] = Subscriptions()
        self._log_levels: LogLevels[Downstream] = LogLevels()
        self._task_owners: TaskOwners[Downstream] = TaskOwners()
        self._filters = ServerFilters(server.tool_filter, server.prompt_filter, server.resource_filter)
        self._start_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_activity = time.monotonic()
        self._tool_count_refresh = Coalesced()
        self.closed = False
        self.supervisor = Supervisor(self)

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
            self._refresh_tool_count_soon()
            if self.stateless is not None:
                self.stateless.listen()
            else:
                self._restore_fan_out()
            self.supervisor.attempt_finished()

    async def _handshake(self, transport: UpstreamTransport) -> dict[str, Any]:
        """``initialize`` (``server/discover`` if stateless): how the upstream describes itself."""
        self.stateless = None
        pinned = self.server.protocol_version
        if pinned not in MODERN_VERSIONS:
            result = await self._call("initialize", self._initialize_params())
            self._check_alive(transport)
            if "error" not in result:
                init = result.get("result")
                if not isinstance(init, dict):
                    raise UpstreamError(self.name, "initialize answered without a result object")
                transport.set_protocol_version(str(init.get("protocolVersion", protocol.LATEST_VERSION)))
                await transport.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
                return init
            refused = f"initialize failed: {result['error'].get('message')}"
        # A stateless upstream has no handshake: ask it what it is (also after initialize was refused).
        self.stateless = StatelessUpstream(self)
        transport.set_protocol_version(MODERN_VERSIONS[-1])
        discovered = (await self._call("server/discover", {})).get("result")
        self._check_alive(transport)
        if not modern_client.speaks_modern(discovered):
            self.stateless = None
            raise UpstreamError(self.name, refused if pinned is None else "server/discover failed")
        assert isinstance(discovered, dict)
        return modern_client.handshake_result(discovered)

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
        for task in list(self._tasks):
            task.cancel()
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    @property
    def in_flight(self) -> int:
        return len(self._table)

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def idle_for(self, now: float) -> float:
        """Seconds since the last traffic; 0 while a request or a resource subscription is open."""
        if len(self._table) or self._subscriptions.uris():
            return 0.0
        return now - self._last_activity

    def status(self) -> dict[str, Any]:
        info = (self.init_result or {}).get("serverInfo") or {}
        return {
            "name": self.name,
            "transport": self.server.transport,
            "target": self.server.display,
            "state": self.state.value,
            "tools": self.tool_count,
            "server": {"name": info.get("name"), "version": info.get("version")} if info else None,
            "protocolVersion": (self.init_result or {}).get("protocolVersion"),
            "lastError": self.last_error,
            "starts": self.starts,
            **self.supervisor.status(),
            "readySince": self.ready_since,
            "inFlight": len(self._table),
            "sessions": len(self._sessions),
        }

    # ----------------------------------------------------------------- downstream → upstream

    def attach(self, session: Downstream) -> None:
        self._sessions.add(session)

    def detach(self, session: Downstream) -> None:
        """The session ended: cancel what it still has in flight and refuse requests sent to it."""
        self._sessions.discard(session)
        for upstream_id in self._table.owned_by(session):
            pending = self._table.pop(upstream_id)
            if pending is not None and pending.timer is not None:
                pending.timer.cancel()
            self._send_soon(cancelled(upstream_id, "client session ended"))
        for uri in self._subscriptions.drop(session):
            self._spawn(self._call_quietly("resources/unsubscribe", {"uri": uri}))
        self._task_owners.drop(session)
        if (level := self._log_levels.drop(session)) is not None:
            self._spawn(self._call_quietly("logging/setLevel", {"level": level}))
        if self.stateless is not None:
            self.stateless.forget(session)
        for server_request_id in self._server_requests.drop(session):
            if is_round_id(server_request_id):
                continue  # asked on behalf of a stateless upstream, which waits for nothing
            self._send_soon(
                jsonrpc.error_response(server_request_id, METHOD_NOT_FOUND, "the client session ended")
            )

    async def forward_request(self, session: Downstream, message: Message) -> None:
        """Send a client request upstream; its answer arrives later through ``session.deliver``."""
        if not self.lifecycle.serving:
            await self.ensure_ready()
        self._last_activity = time.monotonic()
        method = message["method"]
        if method in _FANNED_OUT and self._answer_locally(session, message):
            return
        stateless = self.stateless
        if stateless is not None and stateless.answers_locally(method):
            session.deliver(jsonrpc.result_response(message["id"], {}), message["id"])
            return
        if method in BY_TASK_ID:
            task_id = (message.get("params") or {}).get("taskId")
            if not self._task_owners.allows(session, task_id):
                error = jsonrpc.error_response(message["id"], INVALID_PARAMS, f"Unknown task: {task_id}")
                session.deliver(error, message["id"])
                return
        if (refused := self._filters.refusal(method, message.get("params"))) is not None:
            session.deliver(jsonrpc.error_response(message["id"], INVALID_PARAMS, refused), message["id"])
            return
        if stateless is not None:
            remembered, message = stateless.outgoing(session, message)
        pending = self._table.outgoing(session, message)
        if stateless is not None:
            stateless.sent[message["id"]] = remembered
        if pending.method == "resources/subscribe":
            pending.context = (message.get("params") or {}).get("uri")
        elif creates_task(message):
            pending.context = CREATES_TASK
        upstream_id = message["id"]
        pending.timer = asyncio.get_running_loop().call_later(self.server.timeout, self._expire, upstream_id)
        await self._send_or_answer(message, upstream_id)

    async def forward_notification(self, session: Downstream, message: Message) -> None:
        method = message["method"]
        if method == "notifications/initialized":
            return  # the link sent its own when it initialized
        if method == "notifications/cancelled":
            params = message.get("params") or {}
            request_id = params.get("requestId")
            upstream_id = self._table.upstream_id_of(session, request_id) if request_id is not None else None
            if upstream_id is None:
                return  # already answered or never ours: nothing to cancel
            pending = self._table.pop(upstream_id)
            if pending is not None:
                if pending.timer is not None:
                    pending.timer.cancel()
                # The client ignores any answer now, but whoever waits on its behalf must be released.
                cancelled_error = {"code": REQUEST_CANCELLED, "message": "request cancelled by the client"}
                answer_with_error(pending, cancelled_error)
            message = {**message, "params": {**params, "requestId": upstream_id}}
        if self.lifecycle.serving and self._transport is not None:
            await self._transport.send(message)

    async def forward_response(self, session: Downstream, message: Message) -> None:
        """A client's answer to a server→client request (sampling, elicitation, roots)."""
        answer = self._server_requests.upstream(session, message)
        if answer is not None and is_round_id(answer.get("id")):
            if self.stateless is not None:
                self.stateless.answered(answer)
        elif answer is not None and self._transport is not None:
            await self._transport.send(answer)

    # ----------------------------------------------------------------- upstream → downstream

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

    # ----------------------------------------------------------------- internals

    def _initialize_params(self) -> dict[str, Any]:
        message = protocol.initialize_request(0, self.client_name, __version__, self._client_capabilities)
        params: dict[str, Any] = message["params"]
        if self.server.protocol_version is not None:
            params["protocolVersion"] = self.server.protocol_version
        return params

    async def _call(self, method: str, params: dict[str, Any]) -> Message:
        """A request of the link's own; the caller bounds the wait."""
        if self._transport is None:
            raise UpstreamUnavailable(self.name, "not connected")
        waiter = Waiter()
        message: Message = {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}
        if self.stateless is not None:
            message = self.stateless.envelope_for(None, message)
        self._table.outgoing(waiter, message)
        upstream_id = message["id"]
        try:
            await self._transport.send(message)
            return await waiter.future
        finally:
            self._table.pop(upstream_id)

    def _refresh_tool_count_soon(self) -> None:
        """Count the upstream's tools again (for ``/status``): one ``tools/list`` walk at a time,
        and however many times this is asked for during one, a single walk after it."""
        if self._tool_count_refresh.wanted():
            self._spawn(self._refresh_tool_count_coalesced())

    async def _refresh_tool_count_coalesced(self) -> None:
        try:
            await self._refresh_tool_count()
            while self._tool_count_refresh.finished():
                await self._refresh_tool_count()
        except BaseException:
            self._tool_count_refresh.abandoned()
            raise

    async def _refresh_tool_count(self) -> None:
        count, cursor = 0, None
        try:
            async with asyncio.timeout(self.server.timeout):
                for _ in range(100):
                    reply = await self._call("tools/list", {"cursor": cursor} if cursor else {})
                    result = reply.get("result")
                    if not isinstance(result, dict):
                        return
                    filter_listed(result, "tools", self.server.tool_filter)
                    count += len(result.get("tools") or [])
                    cursor = result.get("nextCursor")
                    if not cursor:
                        break
        except (TimeoutError, UpstreamError):
            return
        self.tool_count = count

    async def _send_or_answer(self, message: Message, upstream_id: int) -> None:
        transport = self._transport
        try:
            if transport is None:
                raise UpstreamUnavailable(self.name, self.last_error or "not connected")
            await transport.send(message)
        except Exception as exc:
            pending = self._table.pop(upstream_id)
            if pending is not None:
                if pending.timer is not None:
                    pending.timer.cancel()
                error = exc if isinstance(exc, UpstreamError) else UpstreamUnavailable(self.name, str(exc))
                answer_with_error(pending, to_jsonrpc_error(error))

    def _expire(self, upstream_id: int) -> None:
        pending = self._table.pop(upstream_id)
        if self.stateless is not None:
            self.stateless.sent.pop(upstream_id, None)
        if pending is None:
            return
        timeout = UpstreamTimeout(
            self.name, f"no answer to '{pending.method}' within {self.server.timeout:g}s"
        )
        answer_with_error(pending, to_jsonrpc_error(timeout))
        self._send_soon(cancelled(upstream_id, "timed out in mcp-central"))
        if self.lifecycle.state is LinkState.READY:
            self.lifecycle.deadline_missed()
            log.warning("upstream '%s' degraded: %s", self.name, timeout.detail)

    def fail_in_flight(self, reason: str) -> None:
        """Answer every request in flight with an error now (lost connection, stop, shutdown)."""
        error = to_jsonrpc_error(UpstreamUnavailable(self.name, reason))
        for pending in self._table.drain():
            if pending.timer is not None:
                pending.timer.cancel()
            answer_with_error(pending, error)
        self._server_requests.clear()
        if self.stateless is not None:
            self.stateless.sent.clear()
            self.stateless.rounds.clear()

    # ----------------------------------------------------------------- for the stateless side

    @property
    def client_capabilities(self) -> dict[str, Any]:
        """What this link told (or tells, per request) its upstream the client side can do."""
        return self._client_capabilities

    def server_request_for(self, owner: Downstream, message: Message) -> Message:
        return self._server_requests.downstream(message, owner)

    def send_soon(self, message: Message) -> None:
        self._send_soon(message)

    def resend(self, owner: Downstream, request: Message) -> None:
        """Send ``request`` (a client's call, its own id) upstream again, with a new deadline."""
        assert self.stateless is not None
        remembered, message = self.stateless.outgoing(owner, request)
        pending = self._table.outgoing(owner, message)
        self.stateless.sent[message["id"]] = remembered
        upstream_id = message["id"]
        pending.timer = asyncio.get_running_loop().call_later(self.server.timeout, self._expire, upstream_id)
        self._spawn(self._send_or_answer(message, upstream_id))

    def _send_soon(self, message: Message) -> None:
        if self._transport is not None:
            self._spawn(self._transport.send(message))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
