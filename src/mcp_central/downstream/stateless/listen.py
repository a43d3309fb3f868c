"""The wire of ``subscriptions/listen`` (2026-07-28): a long-lived POST reply carrying opted-in
change notifications.

The listener (``downstream.stateless.listener``) attaches to the route's shared upstream link like
a session, but hears only what it opted into (list changes the upstream can announce, updates of
the resources it named), each tagged with its subscription id. The first event acknowledges what
was agreed. When the gateway shuts down, the subscription ends gracefully with a result; when the
client leaves, the listener detaches (and upstream subscriptions nobody else holds are dropped).

It must not know upstream transports; ``downstream.stateless.post`` has already checked the request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp_central.core import aggregate, stateless
from mcp_central.core.filters import allows
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.event_stream import EventStream, watch_disconnect
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.http import respond_json
from mcp_central.downstream.session import Route
from mcp_central.downstream.stateless.listener import Listener, MemberTap
from mcp_central.errors import UpstreamError, error_response, to_jsonrpc_error
from mcp_central.types import Message, Receive, Send
from mcp_central.upstream.link import UpstreamLink


async def serve(
    route: Route, link: UpstreamLink, caller: Caller, message: Message, receive: Receive, send: Send
) -> None:
    request_id = message["id"]
    try:
        agreed = stateless.listen_agreement(message.get("params"))
        await link.ensure_ready()
    except stateless.Rejection as rejection:
        await respond_json(send, rejection.status, error_response(request_id, rejection.error()))
        return
    except UpstreamError as exc:
        await respond_json(send, 200, error_response(request_id, to_jsonrpc_error(exc)))
        return
    listener = Listener(request_id, agreed, route.max_queued_messages, caller)
    try:
        uris = agreed.get("resourceSubscriptions")
        if uris:
            accepted = await link.subscribe(listener, uris)
            if accepted:
                agreed["resourceSubscriptions"] = accepted
            else:
                del agreed["resourceSubscriptions"]
            listener.methods = stateless.listened_methods(agreed)
        link.attach(listener)
        route.listeners.add(listener)
        await _stream(listener, agreed, receive, send)
    finally:
        route.listeners.discard(listener)
        link.detach(listener)


async def serve_group(
    route: GroupRoute, caller: Caller, message: Message, receive: Receive, send: Send
) -> None:
    """``subscriptions/listen`` on a group: one tap per shared member the caller may use, URIs in
    the group's form."""
    request_id = message["id"]
    try:
        agreed = stateless.listen_agreement(message.get("params"))
    except stateless.Rejection as rejection:
        await respond_json(send, rejection.status, error_response(request_id, rejection.error()))
        return
    listener = Listener(request_id, agreed, route.max_queued_messages, caller)
    visible = route.visible_members(caller)
    wanted: dict[str, list[str]] = {}
    for uri in agreed.get("resourceSubscriptions") or []:
        found = aggregate.resolve_uri(uri)
        if found is not None and found[0] in visible and allows(found[1], route.group.resource_filter):
            wanted.setdefault(found[0], []).append(found[1])
    taps: list[tuple[UpstreamLink, MemberTap]] = []
    accepted: list[str] = []
    try:
        for name, member in visible.items():
            if member.link is None:
                continue  # an isolated member has no shared session to listen on
            tap = MemberTap(listener, name)
            member.link.attach(tap)
            taps.append((member.link, tap))
            if name in wanted:
                try:
                    async with asyncio.timeout(route.proxy.aggregate_timeout):
                        subscribed = await member.link.subscribe(tap, wanted[name])
                except (TimeoutError, UpstreamError) as exc:
                    route.skip(name, f"subscriptions/listen: {exc or 'no answer in time'}")
                    continue
                accepted += [aggregate.expose_uri(name, uri) for uri in subscribed]
        if accepted:
            agreed["resourceSubscriptions"] = accepted
        else:
            agreed.pop("resourceSubscriptions", None)
        listener.methods = stateless.listened_methods(agreed)
        route.listeners.add(listener)
        await _stream(listener, agreed, receive, send)
    finally:
        route.listeners.discard(listener)
        for link, tap in taps:
            link.detach(tap)


async def _stream(listener: Listener, agreed: dict[str, Any], receive: Receive, send: Send) -> None:
    watcher = asyncio.get_running_loop().create_task(watch_disconnect(receive, listener.channel))
    try:
        events = EventStream(send)
        await events.open()
        acknowledged = {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {"notifications": agreed},
        }
        await events.event(stateless.tagged(acknowledged, listener.subscription_id))
        await events.pump(listener.channel)
    except OSError:
        pass
    finally:
        watcher.cancel()
