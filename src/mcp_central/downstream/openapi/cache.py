"""Each route's OpenAPI document, built once and kept until its lists or its config change.

An entry is keyed by what the document depends on: the route object (a reload that changes a
server or group gives a new one), for groups the members this caller may use (a token that may not
use a member gets a document without it) and the group's filters and separator, each shared link
and how often it has started (a restarted upstream may offer other tools), and whether the route
takes tokens. A request whose key has an entry gets it; nothing is rebuilt per request.

A ``ListWatcher`` attached to every shared link a document was built from hears the upstream's
``notifications/{tools,prompts,resources}/list_changed`` (as group sessions do) and drops every
entry: list changes are rare, and an entry rebuilt costs one list walk. A build that was running
when a change arrived is answered but not kept. Isolated servers have no shared link to listen to:
their document is built once per upstream config and follows only reloads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from mcp_central.downstream.auth import Caller
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.openapi.document import Document
from mcp_central.downstream.server_route import ServerRoute
from mcp_central.downstream.session import Route
from mcp_central.types import Message, RequestId
from mcp_central.upstream.link import UpstreamLink

MAX_ENTRIES = 256
"""Documents kept at once (routes by member sets seen); past it the cache starts over."""
LIST_CHANGES = frozenset(f"notifications/{kind}/list_changed" for kind in ("tools", "prompts", "resources"))

Build = Callable[[Route, Caller, Callable[[UpstreamLink], None]], Awaitable[Document]]


class ListWatcher:
    """Attached to a shared link like a session: hears its list changes, nothing else."""

    client_capabilities: dict[str, Any] = {}
    watches_only = True
    """Not a client: it does not count against the server's ``maxSessions``."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self._changed = changed

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        if message.get("method") in LIST_CHANGES:
            self._changed()


def _link_state(route: ServerRoute) -> tuple[UpstreamLink | None, int]:
    link = route.link
    return (link, link.starts) if link is not None else (None, 0)


def cache_key(route: Route, caller: Caller) -> Hashable:
    """What ``route``'s document for ``caller`` depends on (see the module's docstring). Objects,
    not their ids: a key keeps them alive, so a new route can never be taken for an old one."""
    secured = bool(route.auth_tokens)
    if isinstance(route, GroupRoute):
        members = tuple(
            (name, member, *_link_state(member)) for name, member in route.visible_members(caller).items()
        )
        return route, secured, route.group, route.proxy.separator, members
    assert isinstance(route, ServerRoute)
    return route, secured, _link_state(route)


class DocumentCache:
    def __init__(self, build: Build) -> None:
        self._build = build
        self._entries: dict[Hashable, Document] = {}
        self._building: dict[Hashable, asyncio.Future[Document]] = {}
        self._watchers: dict[UpstreamLink, ListWatcher] = {}
        self.generation = 0
        """Counts list changes: a build that saw one while it ran is not kept."""

    async def document(self, route: Route, caller: Caller) -> Document:
        """``route``'s document as ``caller`` may see it (built now if nothing is kept)."""
        key = cache_key(route, caller)
        found = self._entries.get(key)
        if found is not None:
            return found
        building = self._building.get(key)
        if building is None:  # one build per key at a time: concurrent first requests share it
            building = self._building[key] = asyncio.ensure_future(self._fill(key, route, caller))
            building.add_done_callback(lambda _done: self._building.pop(key, None))
        return await asyncio.shield(building)

    async def _fill(self, key: Hashable, route: Route, caller: Caller) -> Document:
        generation = self.generation
        document = await self._build(route, caller, self.watch)
        if generation == self.generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = document
        return document

    def watch(self, link: UpstreamLink) -> None:
        """Listen to ``link``'s list changes (once per link; links that closed are let go)."""
        if link in self._watchers:
            return
        for old in [old for old in self._watchers if old.closed]:
            del self._watchers[old]
        watcher = self._watchers[link] = ListWatcher(self.invalidate)
        link.attach(watcher)

    def invalidate(self) -> None:
        """Lists changed somewhere: every document is built again when next asked for."""
        self.generation += 1
        self._entries.clear()

    def close(self) -> None:
        for link, watcher in self._watchers.items():
            link.detach(watcher)
        self._watchers.clear()
        self.invalidate()
