"""Search mode on an aggregated route: ``tools/list`` and the meta-tools of ``core.discovery``.

A ``Discovery`` belongs to one ``GroupRoute``. While the group's ``toolDiscovery`` is
``"search"`` it answers ``tools/list`` (three meta-tools, plus ``alwaysList`` matches) and the
meta-tools' calls; every other request, and a direct ``tools/call`` by a real tool's name, goes
the group's usual way.

The catalogue a search runs over is the caller's own: the group's merged ``tools/list`` built
exactly as a list-mode ``tools/list`` is (members the caller may use, the group's ``toolFilter``,
the identity's ``tools``), so a search never shows a tool the caller could not call. Members that
sleep (``lazyStart`` not started, ``idleStop`` stopped) are not asked: their last known list
(``upstream.known_tools``) stands in, so searching does not start them. One that never listed
(no list in memory nor in the file) is started once to learn it. Known lists are in the
upstream's own names (every link's tool count keeps them): the member's ``toolFilter`` and current
``toolOverrides`` are applied when one is read. ``call_tool`` hands the route a
``tools/call`` under the client's own request id, so the call takes the direct path: visibility,
filters, tokens, progress, cancellation, sampling and elicitation, and the result comes back as
the member sent it.

Must not: write HTTP, hold sessions, or rank (``core.tool_index``); it reaches the group only
through ``SearchableRoute``, so the group module can import it.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import orjson

from mcp_central.config.model import GroupConfig, ToolDiscovery
from mcp_central.core import aggregate, discovery, jsonrpc
from mcp_central.core.filters import filter_listed
from mcp_central.core.supervision import LinkState
from mcp_central.core.tool_index import IndexedTool
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.errors import INVALID_PARAMS
from mcp_central.types import Message
from mcp_central.upstream.known_tools import KnownTools
from mcp_central.upstream.link import UpstreamLink

log = logging.getLogger("mcp_central.downstream")

LIST = ToolDiscovery()


class CallerState(Protocol):
    """A group session (``downstream.group_session.GroupSession``) as discovery sees it."""

    @property
    def caller(self) -> Caller: ...


class SearchableRoute(Protocol):
    """What discovery needs of its ``GroupRoute``."""

    group: GroupConfig
    members: dict[str, ServerRoute]
    tool_names: aggregate.Namespace

    def visible_members(self, caller: Caller) -> dict[str, ServerRoute]: ...

    async def gather(self, state: Any, method: str, members: list[str]) -> dict[str, dict[str, Any]]:
        """``method``'s result from each of ``members`` that answered in time (as the members sent it)."""
        ...

    def merge_list(self, state: Any, method: str, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The members' list ``results`` as the group lists them to ``state``'s caller."""
        ...

    async def route_request(self, state: Any, message: Message) -> Message | None: ...


class Discovery:
    def __init__(self, route: SearchableRoute, known: KnownTools) -> None:
        self.route = route
        self.known = known
        self.indexes = discovery.IndexCache()

    @property
    def settings(self) -> ToolDiscovery:
        return self.route.group.discovery or LIST

    @property
    def active(self) -> bool:
        return self.settings.search

    def handles(self, message: Message) -> bool:
        """Whether search mode answers ``message`` (a request) itself."""
        if not self.active:
            return False
        method = message.get("method")
        if method == "tools/list":
            return True
        params = message.get("params")
        return (
            method == "tools/call" and isinstance(params, dict) and params.get("name") in discovery.META_NAMES
        )

    def asleep(self, member: str) -> bool:
        """Whether ``member`` is a shared upstream that is not running and starts only on demand."""
        route = self.route.members.get(member)
        if route is None or route.link is None or route.link.state is not LinkState.STOPPED:
            return False
        return route.server.lazy_start or route.server.idle_stop is not None

    async def answer(self, state: CallerState, message: Message) -> Message | None:
        """The answer to a request ``handles`` took; ``None`` when a member answers (``call_tool``)."""
        request_id = message["id"]
        params = message.get("params") or {}
        if message["method"] == "tools/list":
            if params.get("cursor") is not None:
                return jsonrpc.error_response(
                    request_id, INVALID_PARAMS, f"Invalid cursor: {params['cursor']!r}"
                )
            always = self.settings.always_list
            tools, own = await self.catalogue(state) if always else ([], {})
            return jsonrpc.result_response(request_id, {"tools": discovery.listed(tools, always, own)})
        name, arguments = params.get("name"), params.get("arguments")
        if name == discovery.CALL_TOOL:
            return await self._call(state, message, params)
        if name == discovery.SEARCH_TOOLS:
            asked = discovery.search_request(arguments)
            if isinstance(asked, str):
                return jsonrpc.result_response(request_id, discovery.tool_error(asked))
            tools, _own = await self.catalogue(state)
            matches = self.indexes.index(tools).search(*asked)
            return jsonrpc.result_response(request_id, discovery.search_result(matches))
        wanted = discovery.describe_request(arguments)
        if wanted is None:
            error = discovery.tool_error("describe_tool needs 'name': a tool's name as search_tools gave it")
            return jsonrpc.result_response(request_id, error)
        tools, _own = await self.catalogue(state)
        found = next((tool for tool in tools if tool.name == wanted), None)
        result = discovery.unknown_tool(wanted) if found is None else discovery.describe_result(found)
        return jsonrpc.result_response(request_id, result)

    async def _call(self, state: CallerState, message: Message, params: dict[str, Any]) -> Message | None:
        asked = discovery.call_request(params.get("arguments"))
        if isinstance(asked, str):
            return jsonrpc.result_response(message["id"], discovery.tool_error(asked))
        name, arguments = asked
        # The client's own id and _meta (progressToken) go along: answers, progress, cancellation and
        # the member's requests to the client find their way exactly as for a direct tools/call.
        call = {**message, "params": {**params, "name": name, "arguments": arguments}}
        answer = await self.route.route_request(state, call)
        if answer is not None and isinstance(answer.get("error"), dict):
            # The group's own refusal (unknown or hidden tool): a tool error the model can act on.
            text = f"{answer['error'].get('message')} (find tools with {discovery.SEARCH_TOOLS})"
            return jsonrpc.result_response(message["id"], discovery.tool_error(text))
        return answer

    async def catalogue(self, state: CallerState) -> tuple[list[IndexedTool], dict[str, str]]:
        """The tools ``state``'s caller may see on this route, and each one's own name upstream."""
        route = self.route
        visible = route.visible_members(state.caller)
        remembered: dict[str, dict[str, Any]] = {}
        for member in visible:
            link = route.members[member].link
            if link is not None and self.asleep(member):
                tools = self.known.tools_of(member)
                if tools is not None:
                    remembered[member] = as_listed(link, tools)
                else:
                    log.info("group '%s': starting '%s' once to learn its tools", route.group.name, member)
        # Members that run list as usual; their links keep the known lists (``ToolCount``).
        results = await route.gather(
            state, "tools/list", [name for name in visible if name not in remembered]
        )
        results.update(remembered)
        ordered = {member: results[member] for member in visible if member in results}
        merged = route.merge_list(state, "tools/list", ordered)
        catalogue, own = [], {}
        for definition in merged.get("tools") or []:
            if not isinstance(definition, dict):
                continue
            found = route.tool_names.resolve(definition.get("name"), ordered)
            if found is not None:
                catalogue.append(IndexedTool(definition["name"], found[0], definition))
                own[definition["name"]] = found[1]
        return catalogue, own


def as_listed(link: UpstreamLink, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """A sleeping member's last known list (in its own names) as its link would list it now: its
    ``toolFilter`` and the ``toolOverrides`` in force (a reload may have changed them since).
    A copy: the group renames it in place while the stored list stays as the upstream gave it."""
    result: dict[str, Any] = {"tools": orjson.loads(orjson.dumps(tools))}
    filter_listed(result, "tools", link.server.tool_filter)
    link.core.overrides.rewrite_list(result)
    return result
