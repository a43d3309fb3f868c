"""One stateless (2026-07-28) request in flight, and where it goes: one upstream link, or a group.

An ``Exchange`` is the stand-in for a session that one stateless request gets: the link's
``Downstream`` for that request, with its own bounded queue (a reader that stops reading cancels
it), the inputs it waits for, and its log level. A target only forwards the request, passes the
client's input responses back, and lets go when the exchange ends: a ``LinkTarget`` uses a server
route's shared link directly; a ``GroupTarget`` gives the exchange a short-lived group session, so
names, URIs and fan-out work exactly as for a group's sessions.

No HTTP here: ``downstream.stateless.post`` writes the reply and parks exchanges for retries.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp_central.core import stateless
from mcp_central.core.calls import CallContext
from mcp_central.core.fanout import LEVELS
from mcp_central.core.filters import ToolCheck
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.channel import Channel, QueueBudget
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.group_session import GroupSession
from mcp_central.errors import LimitExceeded, UpstreamError, error_response, to_jsonrpc_error
from mcp_central.types import Message, RequestId
from mcp_central.upstream.link import UpstreamLink

_RANK = {level: rank for rank, level in enumerate(LEVELS)}


class Exchange:
    """One stateless request in flight on a shared link: the link's ``Downstream`` for that request."""

    def __init__(
        self, target: Target, message: Message, envelope: stateless.Envelope, caller: Caller, queue_limit: int
    ) -> None:
        self.target = target
        self.request_id: RequestId = message["id"]
        self.method: str = message["method"]
        self.name = (message.get("params") or {}).get(stateless.NAMED.get(self.method, ""))
        self.client_capabilities = envelope.capabilities
        self.log_rank = _RANK.get(envelope.log_level, -1) if envelope.log_level else None
        self.caller = caller
        """Who asked: only the same token may answer its inputs (``requestState`` is bound to it)."""
        # Its own bound: a reader that stops reading cancels the request.
        self.channel = Channel(QueueBudget(queue_limit, self.end))
        self.inputs: dict[str, Message] = {}
        """Server→client requests waiting for the client's ``inputResponses``, by key (our proxy id)."""
        self.follows_logs = False
        self.parked = False
        """Waiting for the client's retry: its reply is written, a dropped connection cancels nothing."""
        self.done = False
        self.expiry: asyncio.TimerHandle | None = None

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        method = message.get("method")
        if method is None or "id" in message or method == "notifications/progress":
            self.channel.put(message)
        elif method == "notifications/message" and self.log_rank is not None:
            level = (message.get("params") or {}).get("level")
            if _RANK.get(str(level), len(LEVELS)) >= self.log_rank:
                self.channel.put(message)
        # Anything else (list changes, resource updates) belongs on subscriptions/listen streams.

    @property
    def tool_access(self) -> ToolCheck | None:
        """The caller's identity's ``tools`` check, applied by the link core (``None``: no filter)."""
        return self.caller.tool_check

    @property
    def call_context(self) -> CallContext:
        return CallContext(self.target.route_name, self.caller.identity, "", "stateless")

    def matches(self, message: Message, caller: Caller) -> bool:
        name = (message.get("params") or {}).get(stateless.NAMED.get(self.method, ""))
        return message.get("method") == self.method and name == self.name and caller.same_caller(self.caller)

    def end(self) -> None:
        """Stop: cancel what is still in flight upstream and refuse its open server→client requests."""
        if self.expiry is not None:
            self.expiry.cancel()
        self.channel.close()
        self.target.abort(self)


class LinkTarget:
    def __init__(self, link: UpstreamLink) -> None:
        self.link = link

    @property
    def route_name(self) -> str:
        return self.link.name

    @property
    def timeout(self) -> float:
        return self.link.server.timeout

    @property
    def server_info(self) -> Any:
        return (self.link.init_result or {}).get("serverInfo")

    async def discover(self) -> dict[str, Any]:
        await self.link.ensure_ready()
        return stateless.discover_result(self.link.init_result or {})

    async def forward(self, exchange: Exchange, message: Message, log_level: str | None) -> None:
        if log_level is not None:
            exchange.follows_logs = True
            self.link.follow_logs(exchange, log_level)
        try:
            await self.link.forward_request(exchange, message)
        except UpstreamError as exc:
            exchange.deliver(error_response(message["id"], to_jsonrpc_error(exc)), None)

    async def answer_input(self, exchange: Exchange, reply: Message) -> None:
        await self.link.forward_response(exchange, reply)

    def finish(self, exchange: Exchange) -> None:
        if exchange.follows_logs:
            self.link.detach(exchange)

    def abort(self, exchange: Exchange) -> None:
        self.link.detach(exchange)  # cancels what is still in flight, refuses its open requests


class GroupTarget:
    def __init__(self, route: GroupRoute, caller: Caller) -> None:
        self.route = route
        self.caller = caller
        self._state: GroupSession | None = None

    @property
    def route_name(self) -> str:
        return self.route.label

    @property
    def timeout(self) -> float:
        return self.route.proxy.default_timeout

    @property
    def server_info(self) -> Any:
        return self.route.describe({})["serverInfo"]

    async def discover(self) -> dict[str, Any]:
        links = {
            name: route.link
            for name, route in self.route.members.items()
            if route.link is not None and route.admits(self.caller)
        }
        return stateless.discover_result(self.route.describe(links))

    async def forward(self, exchange: Exchange, message: Message, log_level: str | None) -> None:
        state = self._state = GroupSession(self.route, exchange, self.caller)
        if log_level is not None:
            state.log_level = log_level
        try:
            answer = await self.route.serve_request(state, message)
        except (UpstreamError, LimitExceeded) as exc:
            answer = error_response(message["id"], to_jsonrpc_error(exc))
        if answer is not None:
            exchange.deliver(answer, None)

    async def answer_input(self, exchange: Exchange, reply: Message) -> None:
        if self._state is not None:
            await self._state.answer(reply)

    def finish(self, exchange: Exchange) -> None:
        if self._state is not None:
            self._state.end()

    def abort(self, exchange: Exchange) -> None:
        self.finish(exchange)


Target = LinkTarget | GroupTarget
"""Where an exchange's request goes (the exchange's ``target``; it only ever calls these methods)."""
