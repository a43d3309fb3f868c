"""Who hears a ``subscriptions/listen`` stream (2026-07-28): the listener and its taps on group members.

A ``Listener`` is the upstream link's ``Downstream`` for one subscription: it passes on only the
notifications the client opted into, tagged with its subscription id, into its own bounded queue
(a reader that stops reading loses its subscription). On a group, a ``MemberTap`` on each shared
member's link turns the member's URIs into the group's before the listener filters them.

No HTTP here (``downstream.stateless.listen`` writes the stream) and no routing decisions.
"""

from __future__ import annotations

from typing import Any

from mcp_central.core import aggregate, jsonrpc, stateless
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.channel import Channel, QueueBudget
from mcp_central.types import Message, RequestId


class Listener:
    """One ``subscriptions/listen`` stream: the link's ``Downstream`` for change notifications."""

    client_capabilities: dict[str, Any] = {}

    def __init__(
        self, subscription_id: RequestId, agreed: dict[str, Any], queue_limit: int, caller: Caller
    ) -> None:
        self.subscription_id = subscription_id
        self.caller = caller
        self.methods = stateless.listened_methods(agreed)
        # Its own bound: a reader that stops reading loses its subscription (the stream ends).
        self.channel = Channel(QueueBudget(queue_limit))

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        if message.get("method") in self.methods:
            self.channel.put(stateless.tagged(message, self.subscription_id))

    def end(self) -> None:
        """The gateway is stopping: finish the subscription with a result, then close."""
        meta = {stateless.META_SUBSCRIPTION_ID: self.subscription_id}
        self.channel.put(
            jsonrpc.result_response(self.subscription_id, {"resultType": "complete", "_meta": meta})
        )
        self.channel.close()


class MemberTap:
    """A group listener's ear at one member's link: the member's URIs become the group's."""

    client_capabilities: dict[str, Any] = {}

    def __init__(self, listener: Listener, member: str) -> None:
        self.listener = listener
        self.member = member

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        if message.get("method") == "notifications/resources/updated":
            params = dict(message.get("params") or {})
            if isinstance(params.get("uri"), str):
                params["uri"] = aggregate.expose_uri(self.member, params["uri"])
            message = {**message, "params": params}
        self.listener.deliver(message, related_request_id)
