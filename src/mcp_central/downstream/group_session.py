"""What a group route keeps per session: a ``Relay`` per member and what is in flight through them.

``GroupSession`` maps the client's requests to the relay they went through (for cancellation),
members' server→client requests to group-unique ids and back, and tasks to the member that made
them. It holds the route only as a ``SessionOwner`` (the protocol below), so it does not import
``downstream.group`` and never decides where a request goes or merges lists: that is
``GroupRoute``'s. No HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from mcp_central.core import aggregate
from mcp_central.core.tasks import task_id_of
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.relay import Client, Relay
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.errors import LimitExceeded, UpstreamError
from mcp_central.types import Message, RequestId


class SessionOwner(Protocol):
    """What a group session needs of its route (``downstream.group.GroupRoute``)."""

    @property
    def members(self) -> Mapping[str, ServerRoute]: ...

    @property
    def tool_names(self) -> aggregate.Namespace: ...

    @property
    def prompt_names(self) -> aggregate.Namespace: ...

    def skip(self, member: str, reason: str) -> None:
        """``member`` was left out (it could not be connected): logged and shown in ``/status``."""


class GroupSession:
    """What a group route keeps per session: its relays and what is in flight through them."""

    def __init__(self, route: SessionOwner, session: Client, caller: Caller) -> None:
        self.route = route
        self.session = session
        """The client: a group route's ``Session``, or one stateless exchange."""
        self.caller = caller
        self.relays: dict[str, Relay] = {}
        self.in_flight: dict[RequestId, Relay] = {}
        """The client's requests sent to one member, by the client's id (for cancellation)."""
        self.server_requests: dict[str, tuple[Relay, RequestId]] = {}
        """Members' requests to the client, by the group-unique id the client saw."""
        self.task_members: dict[str, str] = {}
        self.log_level: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def server_request(self, relay: Relay, message: Message) -> Message:
        exposed = f"{relay.member}:{message['id']}"
        self.server_requests[exposed] = (relay, message["id"])
        return {**message, "id": exposed}

    def answered(self, relay: Relay, request_id: RequestId, result: Any) -> None:
        """A member answered the client's ``request_id``: its names in the group's form, tasks noted."""
        asked = relay.methods.pop(request_id, None)
        self.in_flight.pop(request_id, None)
        if asked is None or not isinstance(result, dict):
            return
        names = self.route.prompt_names if asked == "prompts/get" else self.route.tool_names
        aggregate.expose_result(relay.member, asked, result, names)
        if asked == "tools/call" and (task_id := task_id_of(result)):
            self.task_members[task_id] = relay.member

    async def answer(self, reply: Message) -> None:
        """The client's answer to a member's request: back to that member under its own id."""
        entry = self.server_requests.pop(str(reply.get("id")), None)
        if entry is not None:
            relay, original = entry
            await relay.link.forward_response(relay, {**reply, "id": original})

    def visible(self, member: str) -> bool:
        """Whether this session's caller may use ``member`` (its own route accepts the token)."""
        route = self.route.members.get(member)
        return route is not None and route.admits(self.caller)

    async def relay(self, member: str) -> Relay:
        """This session's relay to ``member``, connecting it first if need be (``UpstreamError``)."""
        relay = self.relays.get(member)
        if relay is not None:
            return relay
        route = self.route.members[member]
        link = await route.open_link(self.session.client_capabilities)
        relay = self.relays.get(member)  # another request may have connected it meanwhile
        if relay is not None:
            if route.pool is not None:
                route.pool.release(link)
            return relay
        relay = self.relays[member] = Relay(self, member, link, route.pool)
        link.attach(relay)
        if self.log_level is not None:
            await relay.call("logging/setLevel", {"level": self.log_level})
        return relay

    def forget(self, members: list[str]) -> None:
        """Let go of members that left the group (or were restarted under the same name)."""
        for member in members:
            relay = self.relays.pop(member, None)
            if relay is not None:
                relay.link.detach(relay)
                if relay.pool is not None:
                    relay.pool.release(relay.link)
        for request_id in [rid for rid, relay in self.in_flight.items() if relay.member in members]:
            del self.in_flight[request_id]

    def connect_soon(self, member: str) -> None:
        async def connect() -> None:
            try:
                await self.relay(member)
            except (UpstreamError, LimitExceeded) as exc:
                self.route.skip(member, exc.detail)

        task = asyncio.get_running_loop().create_task(connect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def end(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.forget(list(self.relays))
