"""Aggregated routes: ``/mcp`` (group ``all``) and ``/groups/{name}/mcp``, several upstreams as one.

A ``GroupRoute`` answers ``initialize`` itself (capabilities united, instructions combined) and
routes each request: lists fan out to every member within ``aggregateTimeout`` and merge what came
back (a slow or dead member is skipped, logged and shown in ``/status``); a call goes to the member
its name or URI points at (``core.aggregate``); ``logging/setLevel`` goes to all. Each session talks
to each member through a ``Relay`` (``downstream.relay``), which also carries the member's
notifications and requests back in the group's names; a session's relays and what is in flight
through them are its ``GroupSession`` (``downstream.group_session``).

Members are per caller: a session sees, lists and calls only the members whose own routes accept
its token (``GroupRoute.visible_members``), so an aggregated route never serves a member to a caller
that member's ``/{name}/mcp`` would refuse. The others are absent, as filtered tools are. An
identity's ``tools`` filter narrows tools further, matching a tool's own name or its group name.

With ``toolDiscovery: "search"`` the route's ``Discovery`` (``downstream.discovery``) answers
``tools/list`` and the meta-tools (``serve_request``); calls still go through ``route_request``.

Routing only: transports (``streamable_http``, ``sse``) and upstream links do the I/O.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from mcp_central import __version__
from mcp_central.config.model import ALL_GROUP, GroupConfig, ProxyConfig
from mcp_central.core import aggregate, discovery, jsonrpc, protocol
from mcp_central.core.filters import allows, filter_listed
from mcp_central.downstream.auth import Access, Caller
from mcp_central.downstream.discovery import Discovery
from mcp_central.downstream.group_session import GroupSession
from mcp_central.downstream.relay import call_member, list_all
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.downstream.session import Route, Session
from mcp_central.errors import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    LimitExceeded,
    UpstreamError,
    to_jsonrpc_error,
)
from mcp_central.types import Message
from mcp_central.upstream.known_tools import KnownTools
from mcp_central.upstream.link import UpstreamLink

log = logging.getLogger("mcp_central.downstream")

_NAMED = {"tools/call": "tool", "prompts/get": "prompt"}
_BY_URI = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})
_BY_TASK = frozenset({"tasks/get", "tasks/result", "tasks/cancel"})


class GroupRoute(Route):
    def __init__(
        self,
        group: GroupConfig,
        members: dict[str, ServerRoute],
        proxy: ProxyConfig,
        known_tools: KnownTools | None = None,
    ) -> None:
        idle = min((route.idle_timeout for route in members.values()), default=1800.0)
        path = "" if group.name == ALL_GROUP else f"/groups/{group.name}"
        super().__init__(f"group {group.name}", path, group.auth_tokens, idle, proxy.max_sessions)
        self.group = group
        self.members = members
        self.proxy = proxy
        self.max_body_bytes = proxy.max_body_bytes
        self.tool_names = aggregate.Namespace(proxy.separator)
        self.prompt_names = aggregate.Namespace(proxy.separator)
        self.skipped: dict[str, dict[str, Any]] = {}
        """Members left out of the last aggregated answer, with why and when (for ``/status``)."""
        self._states: dict[Session, GroupSession] = {}
        self.discovery = Discovery(self, known_tools or KnownTools(None))
        """``toolDiscovery: "search"``: the meta-tools, over the caller's own catalogue."""

    # ------------------------------------------------------------------ session lifecycle

    def admits(self, caller: Caller) -> bool:
        return caller.may_use_group(self.group.name, self.auth_tokens)

    def visible_members(self, caller: Caller) -> dict[str, ServerRoute]:
        """The members ``caller`` may use: those whose own routes would serve it."""
        return {name: route for name, route in self.members.items() if route.admits(caller)}

    async def initialize(self, session: Session, message: Message) -> Message:
        state = self._states[session] = GroupSession(self, session, session.caller)
        session.initializing = True
        try:
            await self._connect_shared(state)
        finally:
            session.initializing = False
        described = self.describe({member: relay.link for member, relay in state.relays.items()})
        version = protocol.negotiate((message.get("params") or {}).get("protocolVersion"))
        result = {"protocolVersion": version, **described}
        return jsonrpc.result_response(message["id"], result)

    def describe(self, links: dict[str, UpstreamLink]) -> dict[str, Any]:
        """The group as one server (an ``InitializeResult`` without the version): the capabilities
        and instructions of the members whose ``links`` have done their handshake."""
        ready = {member: link.init_result for member, link in links.items() if link.init_result is not None}
        described: dict[str, Any] = {
            "capabilities": aggregate.merge_capabilities(
                init.get("capabilities") or {} for init in ready.values()
            ),
            "serverInfo": {"name": f"{self.proxy.name} ({self.group.name})", "version": __version__},
        }
        by_member = {member: init.get("instructions") for member, init in ready.items()}
        instructions = aggregate.merge_instructions(by_member, self.proxy.separator)
        if self.discovery.active:
            instructions = "\n\n".join(filter(None, [discovery.INSTRUCTIONS, instructions]))
        if instructions:
            described["instructions"] = instructions
        return described

    async def _connect_shared(self, state: GroupSession) -> None:
        """Relays to every shared member that is (or gets) ready within the deadline."""

        async def connect(member: str) -> None:
            try:
                await state.relay(member)
            except (UpstreamError, LimitExceeded) as exc:
                self.skip(member, exc.detail)

        visible = self.visible_members(state.caller)
        shared = [
            name
            for name, route in visible.items()
            if route.link is not None and not (self.discovery.active and self.discovery.asleep(name))
        ]  # search mode indexes sleeping members from their last list: connecting would start them
        tasks = [asyncio.ensure_future(connect(member)) for member in shared]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self.proxy.aggregate_timeout)
            for task in pending:
                task.cancel()
            for member, task in zip(shared, tasks, strict=True):
                if task in pending:
                    self.skip(member, f"not ready within {self.proxy.aggregate_timeout:g}s")

    def end(self, session: Session) -> None:
        state = self._states.pop(session, None)
        if state is not None:
            state.end()

    def update(self, group: GroupConfig, members: dict[str, ServerRoute], proxy: ProxyConfig) -> None:
        """Live reload: take the new members and settings; sessions stay, and hear that lists changed."""
        gone = [name for name, route in self.members.items() if members.get(name) is not route]
        fresh = [name for name, route in members.items() if self.members.get(name) is not route]
        changed = bool(gone or fresh) or group != self.group or proxy.separator != self.proxy.separator
        if proxy.separator != self.proxy.separator:
            self.tool_names = aggregate.Namespace(proxy.separator)
            self.prompt_names = aggregate.Namespace(proxy.separator)
        self.group, self.members, self.proxy = group, members, proxy
        self.auth_tokens = group.auth_tokens
        self.max_body_bytes = proxy.max_body_bytes
        for name in gone:
            self.skipped.pop(name, None)
        for state in self._states.values():
            # Members it may no longer use (their tokens changed) go like members that left.
            state.forget(gone + [name for name in state.relays if not state.visible(name)])
            for name in fresh:
                asleep = self.discovery.active and self.discovery.asleep(name)
                if members[name].link is not None and state.visible(name) and not asleep:  # listen now
                    state.connect_soon(name)
            if changed:
                for kind in ("tools", "prompts", "resources"):
                    state.session.deliver(
                        {"jsonrpc": "2.0", "method": f"notifications/{kind}/list_changed"}, None
                    )

    # ------------------------------------------------------------------ routing

    async def submit(self, session: Session, message: Message) -> None:
        state = self._states.get(session)
        if state is None:
            session.refuse_uninitialized(message)
            return
        if "method" not in message:
            await state.answer(message)
            return
        if "id" not in message:
            await self._notification(state, message)
            return
        try:
            answer = await self.serve_request(state, message)
        except (UpstreamError, LimitExceeded) as exc:
            answer = {"jsonrpc": "2.0", "id": message["id"], "error": to_jsonrpc_error(exc)}
        if answer is not None:
            session.deliver(answer, message["id"])

    async def serve_request(self, state: GroupSession, message: Message) -> Message | None:
        """A client's request: ``route_request``, except what search mode answers itself (``tools/list``
        and the meta-tools). The OpenAPI bridge calls ``route_request``: it keeps every tool."""
        if self.discovery.handles(message):
            return await self.discovery.answer(state, message)
        return await self.route_request(state, message)

    async def route_request(self, state: GroupSession, message: Message) -> Message | None:
        """Route one request; the answer if the group gives it itself, ``None`` if a member will."""
        method, request_id = message["method"], message["id"]
        params = message.get("params") or {}
        if method == "ping":
            return jsonrpc.result_response(request_id, {})
        if method in aggregate.LIST_KEYS or method == "tasks/list":
            if params.get("cursor") is not None:
                return jsonrpc.error_response(
                    request_id, INVALID_PARAMS, f"Invalid cursor: {params['cursor']!r}"
                )
            return jsonrpc.result_response(request_id, await self._merged_list(state, method))
        if method == "logging/setLevel":
            state.log_level = str(params.get("level"))
            await self._everywhere(state, method, params)
            return jsonrpc.result_response(request_id, {})
        target = await self._target(state, method, params)
        if isinstance(target, str):
            return jsonrpc.error_response(
                request_id, INVALID_PARAMS if method != "?" else METHOD_NOT_FOUND, target
            )
        member, new_params = target
        relay = await state.relay(member)
        relay.methods[request_id] = method
        state.in_flight[request_id] = relay
        await relay.link.forward_request(relay, {**message, "params": new_params})
        return None

    async def _target(
        self, state: GroupSession, method: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | str:
        """Which member a request goes to, and its params in that member's own names; or why not."""
        members = self.visible_members(state.caller)
        if method in _NAMED:
            kind = _NAMED[method]
            names = self.tool_names if kind == "tool" else self.prompt_names
            exposed = params.get("name")
            found = names.resolve(exposed, members)
            if found is None:  # a shortened name the table does not know yet: list (sleepers stay asleep)
                if kind == "tool" and self.discovery.active:
                    await self.discovery.catalogue(state)
                else:
                    await self._merged_list(state, "tools/list" if kind == "tool" else "prompts/list")
                found = names.resolve(exposed, members)
            group_filter = self.group.tool_filter if kind == "tool" else self.group.prompt_filter
            if found is None or not allows(str(exposed), group_filter):
                return f"Unknown {kind}: {exposed}"
            access = state.caller.access
            if (
                kind == "tool"
                and access is not None
                and access.tools is not None
                and not access.allows_tool(found[0], found[1], str(exposed))
            ):
                return f"Unknown {kind}: {exposed}"
            return found[0], {**params, "name": found[1]}
        if method in _BY_URI:
            found_uri = aggregate.resolve_uri(params.get("uri"))
            if found_uri is None or found_uri[0] not in members:
                prefix = aggregate.URI_PREFIX
                return f"Unknown resource: {params.get('uri')} (this route's URIs start with {prefix})"
            if not allows(found_uri[1], self.group.resource_filter):
                return f"Unknown resource: {params.get('uri')}"
            return found_uri[0], {**params, "uri": found_uri[1]}
        if method == "completion/complete":
            return self._completion_target(params, members)
        if method in _BY_TASK:
            member = state.task_members.get(str(params.get("taskId")))
            return (member, params) if member in members else f"Unknown task: {params.get('taskId')}"
        return f"'{method}' cannot be routed on an aggregated route (use a server's own /NAME/mcp)"

    def _completion_target(
        self, params: dict[str, Any], members: dict[str, ServerRoute]
    ) -> tuple[str, dict[str, Any]] | str:
        ref = params.get("ref") or {}
        if ref.get("type") == "ref/prompt":
            found = self.prompt_names.resolve(ref.get("name"), members)
            if found is not None:
                return found[0], {**params, "ref": {**ref, "name": found[1]}}
        elif ref.get("type") == "ref/resource":
            found_uri = aggregate.resolve_uri(ref.get("uri"))
            if found_uri is not None and found_uri[0] in members:
                return found_uri[0], {**params, "ref": {**ref, "uri": found_uri[1]}}
        return f"Unknown completion reference: {ref}"

    async def _notification(self, state: GroupSession, message: Message) -> None:
        method = message["method"]
        if method == "notifications/cancelled":
            request_id = (message.get("params") or {}).get("requestId")
            if not isinstance(request_id, str | int):
                return
            relay = state.in_flight.pop(request_id, None)
            if relay is not None:
                relay.methods.pop(request_id, None)
                await relay.link.forward_notification(relay, message)
        elif method == "notifications/roots/list_changed":
            for relay in list(state.relays.values()):
                await relay.link.forward_notification(relay, message)

    # ------------------------------------------------------------------ fan-out

    async def _merged_list(self, state: GroupSession, method: str) -> dict[str, Any]:
        return self.merge_list(state, method, await self._everywhere(state, method, {}))

    async def gather(self, state: GroupSession, method: str, members: list[str]) -> dict[str, dict[str, Any]]:
        """``method``'s result from each of ``members`` that answered in time, as they sent it."""
        return await self._everywhere(state, method, {}, members)

    def merge_list(
        self, state: GroupSession, method: str, results: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """The members' ``results`` (renamed in place) as one list, filtered for ``state``'s caller."""
        merged_parts = []
        for member, result in results.items():
            if method == "tasks/list":
                for task in result.get("tasks") or []:
                    if isinstance(task, dict) and isinstance(task.get("taskId"), str):
                        state.task_members.setdefault(task["taskId"], member)
                merged_parts.append(result)
                continue
            if method in ("resources/list", "resources/templates/list"):
                key = aggregate.LIST_KEYS[method]
                field = "uri" if method == "resources/list" else "uriTemplate"
                filter_listed(result, key, self.group.resource_filter, field)
            names = self.prompt_names if method == "prompts/list" else self.tool_names
            aggregate.expose_result(member, method, result, names)
            merged_parts.append(result)
        if method == "tasks/list":
            return {"tasks": [task for part in merged_parts for task in part.get("tasks") or []]}
        merged = aggregate.merge_lists(method, merged_parts)
        if method == "tools/list":
            filter_listed(merged, "tools", self.group.tool_filter)
            if (access := state.caller.access) is not None and access.tools is not None:
                self._narrow(merged, access, list(results))
        elif method == "prompts/list":
            filter_listed(merged, "prompts", self.group.prompt_filter)
        return merged

    def _narrow(self, merged: dict[str, Any], access: Access, members: list[str]) -> None:
        """Keep the tools an identity's ``tools`` filter lets through, by their upstream's own name
        or by the name this group exposes (``server__tool``)."""
        kept = []
        for tool in merged.get("tools") or []:
            exposed = str(tool.get("name")) if isinstance(tool, dict) else ""
            found = self.tool_names.resolve(exposed, members)
            if found is not None and access.allows_tool(found[0], found[1], exposed):
                kept.append(tool)
        merged["tools"] = kept

    async def _everywhere(
        self, state: GroupSession, method: str, params: dict[str, Any], only: list[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Ask every member (or those in ``only``) at once; the results of those that answered
        within the deadline."""

        async def ask(member: str) -> dict[str, Any]:
            relay = await state.relay(member)
            if method in aggregate.LIST_KEYS:
                return await list_all(relay.link, method)
            if method == "logging/setLevel":  # as the session's relay: the link keeps levels per owner
                await relay.call(method, params)
                return {}
            return await call_member(relay.link, method, params)

        members = [name for name in self.visible_members(state.caller) if only is None or name in only]
        tasks = {member: asyncio.ensure_future(ask(member)) for member in members}
        if not tasks:
            return {}
        _done, pending = await asyncio.wait(tasks.values(), timeout=self.proxy.aggregate_timeout)
        results: dict[str, dict[str, Any]] = {}
        for member, task in tasks.items():
            if task in pending:
                task.cancel()
                self.skip(member, f"no answer to {method} within {self.proxy.aggregate_timeout:g}s")
            elif task.exception() is not None:
                error = task.exception()
                detail = error.detail if isinstance(error, UpstreamError | LimitExceeded) else str(error)
                self.skip(member, f"{method} failed: {detail}")
            else:
                results[member] = task.result()
                self.skipped.pop(member, None)
        return results

    def skip(self, member: str, reason: str) -> None:
        log.warning("group '%s': upstream '%s' skipped: %s", self.group.name, member, reason)
        self.skipped[member] = {"reason": reason, "at": time.time()}

    def status(self) -> dict[str, Any]:
        return {
            "name": self.group.name,
            "servers": list(self.members),
            "sessions": len(self.sessions),
            "skipped": self.skipped,
        }
