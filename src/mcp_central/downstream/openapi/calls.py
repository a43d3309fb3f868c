"""How an OpenAPI request reaches the upstreams: as an MCP request on the route, like a client's.

A ``BridgeCall`` is the ``Downstream`` one HTTP request gets, as a stateless exchange is for a
2026-07-28 request: it owns one request on the route's shared link, carries the request's
``Caller`` and says where it comes from (``call_context``: the MCP route's label, transport
``openapi``), so filters, deadlines and call records apply exactly as for MCP clients. On a group
(``/openapi/groups/NAME``, ``/openapi``) it gets a short-lived ``GroupSession``, so names, URIs,
group filters and member visibility (members whose own tokens refuse the caller are absent) are
the group sessions' own. Isolated servers have no shared link: each request gets a link of their
pool for its duration (a fresh upstream each time, so no state carries from one call to the next).

It declares no client capabilities: the link refuses an upstream's sampling, elicitation and roots
requests for it, and the tool sees an error. Progress notifications are counted (the final answer
still comes: a long call returns its result, bounded by the server's ``timeout``).

No HTTP here (``downstream.openapi.handlers`` writes it); the lists a document is built from are
fetched here too (``route_lists``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mcp_central.core.aggregate import LIST_KEYS
from mcp_central.core.calls import CallContext
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.group_session import GroupSession
from mcp_central.downstream.openapi.document import Lists
from mcp_central.downstream.relay import list_all
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.downstream.session import Route
from mcp_central.errors import LimitExceeded, UpstreamError, error_response, to_jsonrpc_error
from mcp_central.types import Message, RequestId
from mcp_central.upstream.link import UpstreamLink

TRANSPORT = "openapi"


class BridgeCall:
    """One HTTP request's stand-in at the link: it owns one MCP request and waits for its answer."""

    client_capabilities: dict[str, Any] = {}

    def __init__(self, route: Route, caller: Caller) -> None:
        self.caller = caller
        self.answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.progress = 0
        """Progress notifications heard for the request (the response's ``MCP-Progress`` header)."""
        self._context = CallContext(route.label, caller.identity, "", TRANSPORT)

    @property
    def call_context(self) -> CallContext:
        return self._context

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        method = message.get("method")
        if method is None:
            if not self.answer.done():
                self.answer.set_result(message)
        elif method == "notifications/progress":
            self.progress += 1
        # Anything else (list changes, logs, server→client requests the link did not refuse) has
        # no one to go to: an HTTP request is answered once.


async def request(route: Route, caller: Caller, method: str, params: dict[str, Any]) -> tuple[Message, int]:
    """Send ``method`` on ``route`` as ``caller``; its answer (an error answer if the upstream is
    not to be had) and how many progress notifications came before it."""
    call = BridgeCall(route, caller)
    message: Message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    if method == "tools/call":
        # A progress token lets the upstream report progress instead of going silent.
        message["params"] = {**params, "_meta": {**(params.get("_meta") or {}), "progressToken": 1}}
    try:
        if isinstance(route, GroupRoute):
            answer = await _via_group(route, call, message)
        else:
            assert isinstance(route, ServerRoute)
            answer = await _via_server(route, call, message)
    except (UpstreamError, LimitExceeded) as exc:
        answer = error_response(1, to_jsonrpc_error(exc))
    return answer, call.progress


async def _via_server(route: ServerRoute, call: BridgeCall, message: Message) -> Message:
    link = await route.open_link({})
    try:
        await link.forward_request(call, message)
        return await call.answer
    finally:
        if not call.answer.done():  # cancelled: cancel it upstream too
            link.detach(call)
        if route.pool is not None:
            route.pool.release(link)


async def _via_group(route: GroupRoute, call: BridgeCall, message: Message) -> Message:
    state = GroupSession(route, call, call.caller)
    try:
        answer = await route.route_request(state, message)
        return answer if answer is not None else await call.answer
    finally:
        state.end()


async def route_lists(
    route: Route, caller: Caller, watch: Callable[[UpstreamLink], None]
) -> tuple[Lists, dict[str, Any]]:
    """The route's tools (and prompts and resources where it has them) as ``caller`` sees them, and
    the serverInfo + instructions to describe it with; ``watch`` is handed every shared link asked."""
    if isinstance(route, GroupRoute):
        return await _group_lists(route, caller, watch)
    assert isinstance(route, ServerRoute)
    link = await route.open_link({})
    try:
        if route.link is not None:
            watch(link)
        init = link.init_result or {}
        capabilities = init.get("capabilities") or {}
        lists = Lists(tools=(await list_all(link, "tools/list"))["tools"] if "tools" in capabilities else [])
        if "prompts" in capabilities:
            lists.prompts = await _optional(link, "prompts/list")
        if "resources" in capabilities:
            lists.resources = await _optional(link, "resources/list")
            lists.templates = await _optional(link, "resources/templates/list")
        return lists, init
    finally:
        if route.pool is not None:
            route.pool.release(link)


async def _optional(link: UpstreamLink, method: str) -> list[dict[str, Any]]:
    """A list the upstream declared but may still refuse: empty then."""
    try:
        items = (await list_all(link, method))[LIST_KEYS[method]]
    except ValueError:
        return []
    return [item for item in items if isinstance(item, dict)]


async def _group_lists(
    route: GroupRoute, caller: Caller, watch: Callable[[UpstreamLink], None]
) -> tuple[Lists, dict[str, Any]]:
    call = BridgeCall(route, caller)
    state = GroupSession(route, call, caller)

    async def merged(method: str) -> list[dict[str, Any]]:
        asked: Message = {"jsonrpc": "2.0", "id": 0, "method": method, "params": {}}
        answer = await route.route_request(state, asked) or {}
        result = answer.get("result") or {}
        items = result.get(LIST_KEYS[method]) or []
        return [item for item in items if isinstance(item, dict)]

    try:
        lists = Lists(tools=await merged("tools/list"))
        links = {member: relay.link for member, relay in state.relays.items()}
        for member, link in links.items():
            if route.members[member].link is link:
                watch(link)
        described = route.describe(links)
        capabilities = described.get("capabilities") or {}
        if "prompts" in capabilities:
            lists.prompts = await merged("prompts/list")
        if "resources" in capabilities:
            lists.resources = await merged("resources/list")
            lists.templates = await merged("resources/templates/list")
        return lists, described
    finally:
        state.end()
