"""A link's side for upstreams that speak only the stateless 2026-07-28 revision.

The link keeps serving its downstream sessions as before; this module makes the upstream half
stateless: requests carry the per-request envelope (the asking client's capabilities and log
level), session-era methods are answered here (``ping``, ``logging/setLevel``) or become one
``subscriptions/listen`` stream (resource subscriptions and list changes), and an
``InputRequiredResult`` becomes server→client requests to the client whose call it is — its
answers go back upstream by retrying the call with ``inputResponses``.

It must not know about HTTP or downstream transports; the link does the sending.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_central import __version__
from mcp_central.core import modern_client
from mcp_central.core.requests import Pending
from mcp_central.core.server_requests import refusal
from mcp_central.errors import METHOD_NOT_FOUND
from mcp_central.types import Message
from mcp_central.upstream.owners import Downstream, answer_with_error, cancelled

if TYPE_CHECKING:
    from mcp_central.upstream.link import UpstreamLink

log = logging.getLogger("mcp_central.upstream")

ROUND_PREFIX = "mcp-central-input:"
"""Ids of the server→client requests made from an ``InputRequiredResult`` (they exist only here)."""
_ANSWERED_HERE = frozenset({"ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"})


@dataclass
class InputRound:
    """One ``InputRequiredResult`` being answered by the client of the call it interrupted."""

    pending: Pending[Downstream]
    request: Message
    """The call as the client made it (its own id and progress token), envelope included."""
    state: Any
    waiting: set[str]
    answers: dict[str, Any] = field(default_factory=dict)


class StatelessUpstream:
    def __init__(self, link: UpstreamLink) -> None:
        self.link = link
        self.sent: dict[int, Message] = {}
        """Calls in flight upstream, as the client made them, by upstream id (to retry after input)."""
        self.rounds: dict[int, InputRound] = {}
        self._round_ids = itertools.count(1)
        self._listen_ids = itertools.count(1)
        self._listen_id: str | None = None

    @property
    def client_info(self) -> dict[str, Any]:
        return {"name": self.link.client_name, "version": __version__}

    def envelope_for(self, owner: Downstream | None, message: Message) -> Message:
        """``message`` stamped with what the asking client can do (as much as the link may route)."""
        declared = self.link.client_capabilities
        capabilities = {}
        level = None
        if owner is not None:
            capabilities = {k: v for k, v in owner.client_capabilities.items() if k in declared}
            level = self.link.log_level_of(owner)
        return modern_client.stamped(message, capabilities, self.client_info, level)

    # ------------------------------------------------------------------ requests

    def answers_locally(self, method: str) -> bool:
        """Session-era methods: answered by the link (the fan-out bookkeeping is already done)."""
        if method in ("resources/subscribe", "resources/unsubscribe"):
            self.listen()
        return method in _ANSWERED_HERE

    def outgoing(self, owner: Downstream, message: Message) -> tuple[Message, Message]:
        """(what to remember, what to send): the envelope added; the table rewrites the second."""
        remembered = self.envelope_for(owner, message)
        params = remembered["params"]
        return remembered, {**remembered, "params": {**params, "_meta": dict(params["_meta"])}}

    def listen(self) -> None:
        """(Re)open the link's one ``subscriptions/listen``: every list change, the subscribed URIs."""
        previous, self._listen_id = self._listen_id, f"mcp-central-listen-{next(self._listen_ids)}"
        notifications: dict[str, Any] = {
            "toolsListChanged": True,
            "promptsListChanged": True,
            "resourcesListChanged": True,
        }
        uris = self.link.subscribed_uris()
        if uris:
            notifications["resourceSubscriptions"] = uris
        request = {
            "jsonrpc": "2.0",
            "id": self._listen_id,
            "method": "subscriptions/listen",
            "params": {"notifications": notifications},
        }
        self.link.send_soon(self.envelope_for(None, request))
        if previous is not None:
            self.link.send_soon({**cancelled(0, "subscriptions changed"), "params": {"requestId": previous}})

    # ------------------------------------------------------------------ answers

    def incoming(self, upstream_id: Any, pending: Pending[Downstream], answer: Message) -> bool:
        """Handle an answer to a forwarded call; True if it was an ``InputRequiredResult`` (taken care of)."""
        request = self.sent.pop(upstream_id, None) if isinstance(upstream_id, int) else None
        requests = modern_client.input_requests(answer.get("result"))
        if requests is None or request is None:
            return False
        owner = pending.owner
        number = next(self._round_ids)
        state = answer["result"].get("requestState")
        self.rounds[number] = InputRound(pending, request, state, set(requests))
        for asked in requests.values():
            problem = refusal(
                asked["method"], owner, owner.client_capabilities, self.link.client_capabilities
            )
            if problem is not None:
                del self.rounds[number]
                answer_with_error(pending, {"code": METHOD_NOT_FOUND, "message": f"mcp-central: {problem}"})
                return True
        if not requests:
            self._retry(self.rounds.pop(number))
            return True
        for key, asked in requests.items():
            proxied = {
                "jsonrpc": "2.0",
                "id": f"{ROUND_PREFIX}{number}:{key}",
                "method": asked["method"],
                "params": asked.get("params") or {},
            }
            owner.deliver(self.link.server_request_for(owner, proxied), pending.downstream_id)
        return True

    def answered(self, reply: Message) -> None:
        """The client answered one input request (``reply`` carries our round id again)."""
        number_text, _, key = str(reply.get("id"))[len(ROUND_PREFIX) :].partition(":")
        input_round = self.rounds.get(int(number_text)) if number_text.isdigit() else None
        if input_round is None or key not in input_round.waiting:
            return
        if "error" in reply:  # the client could not do it: the call ends with its reason
            del self.rounds[int(number_text)]
            answer_with_error(input_round.pending, reply["error"])
            return
        input_round.waiting.discard(key)
        input_round.answers[key] = reply.get("result")
        if not input_round.waiting:
            del self.rounds[int(number_text)]
            self._retry(input_round)

    def _retry(self, input_round: InputRound) -> None:
        again = modern_client.retried(input_round.request, input_round.answers, input_round.state)
        self.link.resend(input_round.pending.owner, again)

    def forget(self, owner: Downstream) -> None:
        """The client left: its rounds end (nothing goes upstream; the server keeps no state)."""
        for number in [n for n, r in self.rounds.items() if r.pending.owner is owner]:
            del self.rounds[number]


def is_round_id(request_id: Any) -> bool:
    return isinstance(request_id, str) and request_id.startswith(ROUND_PREFIX)
