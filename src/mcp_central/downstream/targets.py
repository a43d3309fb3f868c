"""Where a stateless (2026-07-28) request goes: one upstream link, or a group of them.

``downstream.modern`` serves the request and its multi-round-trip the same way for both; a target
only forwards it, passes the client's input responses back, and lets go when the exchange ends.
A ``LinkTarget`` uses a server route's shared link directly; a ``GroupTarget`` gives the exchange a
short-lived group session, so names, URIs and fan-out work exactly as for a group's sessions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp_central.core import modern
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.group import GroupRoute, GroupSession
from mcp_central.errors import LimitExceeded, UpstreamError, error_response, to_jsonrpc_error
from mcp_central.types import Message
from mcp_central.upstream.link import UpstreamLink

if TYPE_CHECKING:
    from mcp_central.downstream.modern import Exchange


class LinkTarget:
    def __init__(self, link: UpstreamLink) -> None:
        self.link = link

    @property
    def timeout(self) -> float:
        return self.link.server.timeout

    @property
    def server_info(self) -> Any:
        return (self.link.init_result or {}).get("serverInfo")

    async def discover(self) -> dict[str, Any]:
        await self.link.ensure_ready()
        return modern.discover_result(self.link.init_result or {})

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
    def timeout(self) -> float:
        return self.route.proxy.default_timeout

    @property
    def server_info(self) -> Any:
        return self.route.describe({})["serverInfo"]

    async def discover(self) -> dict[str, Any]:
        links = {
            name: route.link
            for name, route in self.route.members.items()
            if route.link is not None and self.caller.accepted_by(route.auth_tokens)
        }
        return modern.discover_result(self.route.describe(links))

    async def forward(self, exchange: Exchange, message: Message, log_level: str | None) -> None:
        state = self._state = GroupSession(self.route, exchange, self.caller)
        if log_level is not None:
            state.log_level = log_level
        try:
            answer = await self.route.route_request(state, message)
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
