"""A link core's side for upstreams that speak only the stateless 2026-07-28 revision. Sans-IO.

The link keeps serving its downstream sessions as before; this part makes the upstream half
stateless: requests carry the per-request envelope (the asking client's capabilities and log
level), session-era methods are answered by the link (``ping``, ``logging/setLevel``) or become
one ``subscriptions/listen`` stream (resource subscriptions and list changes), and an
``InputRequiredResult`` becomes server→client requests to the client whose call it is — its
answers go back upstream by retrying the call with ``inputResponses``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_central.core import stateless_client
from mcp_central.core.link.events import Command, Deliver, Owner, SendUpstream
from mcp_central.core.requests import Pending
from mcp_central.core.server_requests import ServerRequests, refusal
from mcp_central.errors import METHOD_NOT_FOUND
from mcp_central.types import Message

ROUND_PREFIX = "mcp-central-input:"
"""Ids of the server→client requests made from an ``InputRequiredResult`` (they exist only here)."""
ANSWERED_HERE = frozenset({"ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"})


def is_round_id(request_id: Any) -> bool:
    return isinstance(request_id, str) and request_id.startswith(ROUND_PREFIX)


def answer_error(pending: Pending[Owner], error: dict[str, Any]) -> Deliver:
    """The command answering the client request behind ``pending`` with a JSON-RPC ``error``."""
    answer = {"jsonrpc": "2.0", "id": pending.downstream_id, "error": error}
    return Deliver(pending.owner, answer, pending.downstream_id)


@dataclass
class InputRound:
    """One ``InputRequiredResult`` being answered by the client of the call it interrupted."""

    pending: Pending[Owner]
    request: Message
    """The call as the client made it (its own id and progress token), envelope included."""
    state: Any
    waiting: set[str]
    answers: dict[str, Any] = field(default_factory=dict)


class StatelessSide:
    def __init__(
        self,
        client_info: dict[str, Any],
        declared: dict[str, Any],
        level_of: Callable[[Owner], str | None],
        server_requests: ServerRequests[Owner],
        resend: Callable[[Owner, Message], list[Command]],
    ) -> None:
        self.client_info = client_info
        self.declared = declared
        """What the link may route to a client (its client capabilities towards the upstream)."""
        self._level_of = level_of
        self._server_requests = server_requests
        self._resend = resend
        self.sent: dict[int, Message] = {}
        """Calls in flight upstream, as the client made them, by upstream id (to retry after input)."""
        self.rounds: dict[int, InputRound] = {}
        self._round_ids = itertools.count(1)
        self._listen_ids = itertools.count(1)
        self._listen_id: str | None = None

    def envelope_for(self, owner: Owner | None, message: Message) -> Message:
        """``message`` stamped with what the asking client can do (as much as the link may route)."""
        capabilities = {}
        level = None
        if owner is not None:
            capabilities = {k: v for k, v in owner.client_capabilities.items() if k in self.declared}
            level = self._level_of(owner)
        return stateless_client.stamped(message, capabilities, self.client_info, level)

    def outgoing(self, owner: Owner, message: Message) -> tuple[Message, Message]:
        """(what to remember, what to send): the envelope added; the table rewrites the second."""
        remembered = self.envelope_for(owner, message)
        params = remembered["params"]
        return remembered, {**remembered, "params": {**params, "_meta": dict(params["_meta"])}}

    def listen(self, uris: list[str]) -> list[Command]:
        """(Re)open the link's one ``subscriptions/listen``: every list change, the subscribed URIs."""
        previous, self._listen_id = self._listen_id, f"mcp-central-listen-{next(self._listen_ids)}"
        notifications: dict[str, Any] = {
            "toolsListChanged": True,
            "promptsListChanged": True,
            "resourcesListChanged": True,
        }
        if uris:
            notifications["resourceSubscriptions"] = uris
        request = {
            "jsonrpc": "2.0",
            "id": self._listen_id,
            "method": "subscriptions/listen",
            "params": {"notifications": notifications},
        }
        commands: list[Command] = [SendUpstream(self.envelope_for(None, request))]
        if previous is not None:
            cancel = {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": previous, "reason": "subscriptions changed"},
            }
            commands.append(SendUpstream(cancel))
        return commands

    def incoming(self, upstream_id: int, pending: Pending[Owner], answer: Message) -> list[Command] | None:
        """An answer to a forwarded call: the commands if it was an ``InputRequiredResult``, else ``None``."""
        request = self.sent.pop(upstream_id, None)
        requests = stateless_client.input_requests(answer.get("result"))
        if requests is None or request is None:
            return None
        owner = pending.owner
        number = next(self._round_ids)
        state = answer["result"].get("requestState")
        for asked in requests.values():
            problem = refusal(asked["method"], owner, owner.client_capabilities, self.declared)
            if problem is not None:
                return [
                    answer_error(pending, {"code": METHOD_NOT_FOUND, "message": f"mcp-central: {problem}"})
                ]
        input_round = InputRound(pending, request, state, set(requests))
        if not requests:
            return self._retry(input_round)
        self.rounds[number] = input_round
        commands: list[Command] = []
        for key, asked in requests.items():
            proxied = {
                "jsonrpc": "2.0",
                "id": f"{ROUND_PREFIX}{number}:{key}",
                "method": asked["method"],
                "params": asked.get("params") or {},
            }
            commands.append(
                Deliver(owner, self._server_requests.downstream(proxied, owner), pending.downstream_id)
            )
        return commands

    def answered(self, reply: Message) -> list[Command]:
        """The client answered one input request (``reply`` carries our round id again)."""
        number_text, _, key = str(reply.get("id"))[len(ROUND_PREFIX) :].partition(":")
        input_round = self.rounds.get(int(number_text)) if number_text.isdigit() else None
        if input_round is None or key not in input_round.waiting:
            return []
        if "error" in reply:  # the client could not do it: the call ends with its reason
            del self.rounds[int(number_text)]
            error = (
                reply["error"] if isinstance(reply["error"], dict) else {"code": -32603, "message": "error"}
            )
            return [answer_error(input_round.pending, error)]
        input_round.waiting.discard(key)
        input_round.answers[key] = reply.get("result")
        if input_round.waiting:
            return []
        del self.rounds[int(number_text)]
        return self._retry(input_round)

    def _retry(self, input_round: InputRound) -> list[Command]:
        again = stateless_client.retried(input_round.request, input_round.answers, input_round.state)
        return self._resend(input_round.pending.owner, again)

    def forget(self, owner: Owner) -> None:
        """The client left: its rounds end (nothing goes upstream; the server keeps no state)."""
        for number in [n for n, r in self.rounds.items() if r.pending.owner is owner]:
            del self.rounds[number]

    def clear(self) -> None:
        self.sent.clear()
        self.rounds.clear()
