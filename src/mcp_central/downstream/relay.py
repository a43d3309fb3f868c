"""A group session's stand-ins at its members' upstream links.

A ``Relay`` is what one member's link sees of one session on an aggregated route: the link's
``Downstream`` for that pair. Whatever the member sends back — answers, progress, its requests to
the client, its notifications — the relay translates into the group's names and URIs and hands to
the session; the member's server→client requests get group-unique ids, so the client's answer finds
its way back. The group's own fan-out calls (merged lists) are owned by a ``Waiter``, like a link's
own requests: their answers reach nobody but the group.

It knows no HTTP and does not decide where a request goes (that is ``downstream.group``, whose
``GroupSession`` is the relay's ``RelayOwner``: a protocol here, so this module does not import
the group module that imports it).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from mcp_central.core import aggregate
from mcp_central.core.calls import CallContext
from mcp_central.types import Message, RequestId
from mcp_central.upstream.link import UpstreamLink
from mcp_central.upstream.owners import Downstream, Waiter
from mcp_central.upstream.pool import IsolatedPool


class Client(Downstream, Protocol):
    """A group's client as relays see it: a ``Session`` or a stateless ``Exchange``."""

    @property
    def call_context(self) -> CallContext: ...


class RelayOwner(Protocol):
    """What a relay needs of the group session it belongs to (``downstream.group_session.GroupSession``)."""

    @property
    def session(self) -> Client:
        """The client: a group route's ``Session``, or one stateless exchange."""
        ...

    def server_request(self, relay: Relay, message: Message) -> Message:
        """A member's request to the client, under the group-unique id the client will answer."""
        ...

    def answered(self, relay: Relay, request_id: RequestId, result: Any) -> None:
        """The member answered the client's ``request_id`` with ``result``: forget it, and put
        the result's names and URIs in the group's form (a result object is changed in place)."""
        ...


class Relay:
    def __init__(self, state: RelayOwner, member: str, link: UpstreamLink, pool: IsolatedPool | None) -> None:
        self.state = state
        self.member = member
        self.link = link
        self.pool = pool
        """Where an isolated member's link goes back when the relay ends (``None`` for shared links)."""
        self.methods: dict[RequestId, str] = {}
        """The client's requests in flight through this relay, by the client's id: what they asked."""
        self._own: dict[str, asyncio.Future[Message]] = {}
        self._counter = 0

    async def call(self, method: str, params: dict[str, Any]) -> Message:
        """A request the group sends as this session (its answer comes here, not to the client)."""
        self._counter += 1
        request_id = f"mcp-central-group-{self._counter}"
        answer = self._own[request_id] = asyncio.get_running_loop().create_future()
        try:
            await self.link.forward_request(
                self, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
            )
            reply: Message = await answer
            return reply
        finally:
            self._own.pop(request_id, None)

    @property
    def client_capabilities(self) -> dict[str, Any]:
        return self.state.session.client_capabilities

    @property
    def call_context(self) -> CallContext:
        """The group session's: a member's calls are recorded as the client's, on the group route."""
        return self.state.session.call_context

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        session, method = self.state.session, message.get("method")
        if method is None:
            own = self._own.get(str(message.get("id")))
            if own is not None:
                if not own.done():
                    own.set_result(message)
                return
            answered: RequestId = message.get("id")  # type: ignore[assignment]  # ids we sent are str | int
            self.state.answered(self, answered, message.get("result"))
            session.deliver(message, related_request_id)
        elif "id" in message:
            session.deliver(self.state.server_request(self, message), related_request_id)
        elif method == "notifications/resources/updated":
            params = dict(message.get("params") or {})
            if isinstance(params.get("uri"), str):
                params["uri"] = aggregate.expose_uri(self.member, params["uri"])
            session.deliver({**message, "params": params}, related_request_id)
        elif method == "notifications/message":
            params = dict(message.get("params") or {})
            logger = params.get("logger")
            params["logger"] = f"{self.member}/{logger}" if logger else self.member
            session.deliver({**message, "params": params}, related_request_id)
        else:  # progress, list changes, task status, anything new: as it came
            session.deliver(message, related_request_id)


async def call_member(link: UpstreamLink, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One request of the group's own to a member; its result (``ValueError`` on an error answer).

    The caller bounds the wait; if it gives up, the request is cancelled upstream.
    """
    waiter = Waiter()  # as for the link's own requests: nobody to ask for sampling or input
    try:
        request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        await link.forward_request(waiter, request, own=True)
        reply = await waiter.future
    finally:
        link.detach(waiter)  # cancels it upstream if still in flight
    result = reply.get("result")
    if not isinstance(result, dict):
        error = reply.get("error") or {}
        raise ValueError(error.get("message") or f"{method} failed")
    return result


async def list_all(link: UpstreamLink, method: str) -> dict[str, Any]:
    """Every page of a member's ``*/list``, as one result."""
    key = aggregate.LIST_KEYS[method]
    items: list[Any] = []
    cursor: Any = None
    for _ in range(100):
        page = await call_member(link, method, {"cursor": cursor} if cursor else {})
        if isinstance(page.get(key), list):
            items.extend(page[key])
        cursor = page.get("nextCursor")
        if not cursor:
            break
    return {key: items}
