"""In-flight request bookkeeping for one upstream link: id and progress-token remapping.

Many downstream sessions share one upstream session, and each picks its own request ids and
progress tokens, so they collide. The table hands out fresh upstream ids (and reuses them as
upstream progress tokens), remembers who asked, and maps answers and progress back. It also
counts which clients have requests in flight — the evidence a shared link has for messages the
upstream sends on its own initiative. Requests the link makes itself are marked ``own`` and never
count as a client's. Sans-IO: no timers, no sockets; the link owns those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mcp_central.core import jsonrpc
from mcp_central.types import Message, RequestId

Owner = TypeVar("Owner")


@dataclass(slots=True)
class Pending(Generic[Owner]):
    owner: Owner
    downstream_id: RequestId
    method: str
    progress_token: Any
    """The downstream's own progress token, restored on ``notifications/progress``; ``None`` if none."""
    own: bool = False
    """A request of the link's own (its answer goes to a waiter, never to a client)."""
    context: Any = None
    """Whatever the link must remember to handle the answer (e.g. the URI of a subscribe)."""


class RequestTable(Generic[Owner]):
    def __init__(self) -> None:
        self._next_id = 0
        self._pending: dict[int, Pending[Owner]] = {}
        self._by_downstream: dict[tuple[int, RequestId], int] = {}
        self._clients: dict[int, list[Any]] = {}
        """``id(owner)`` → ``[owner, requests in flight]`` for clients (own requests excluded)."""

    def __len__(self) -> int:
        return len(self._pending)

    def __iter__(self) -> Iterator[Pending[Owner]]:
        return iter(list(self._pending.values()))

    def outgoing(self, owner: Owner, message: Message, *, own: bool = False) -> Pending[Owner]:
        """Rewrite ``message`` (a request) in place for the upstream and record it.

        Its ``id`` becomes a fresh integer; a ``progressToken`` becomes that same integer, which is
        unique on the upstream session for as long as the request is in flight.
        """
        self._next_id += 1
        upstream_id = self._next_id
        token = jsonrpc.progress_token(message)
        pending = Pending(owner, message["id"], message["method"], token, own)
        self._pending[upstream_id] = pending
        self._by_downstream[(id(owner), pending.downstream_id)] = upstream_id
        if not own:
            entry = self._clients.get(id(owner))
            if entry is None:
                self._clients[id(owner)] = [owner, 1]
            else:
                entry[1] += 1
        message["id"] = upstream_id
        if token is not None:
            jsonrpc.set_progress_token(message, upstream_id)
        return pending

    def get(self, upstream_id: Any) -> Pending[Owner] | None:
        return self._pending.get(upstream_id) if isinstance(upstream_id, int) else None

    def incoming_response(self, message: Message) -> Pending[Owner] | None:
        """Restore the downstream id of an upstream response in place; ``None`` if nobody waits for it."""
        pending = self.pop(message.get("id"))
        if pending is not None:
            message["id"] = pending.downstream_id
        return pending

    def pop(self, upstream_id: Any) -> Pending[Owner] | None:
        if not isinstance(upstream_id, int) or isinstance(upstream_id, bool):
            return None
        pending = self._pending.pop(upstream_id, None)
        if pending is not None:
            self._by_downstream.pop((id(pending.owner), pending.downstream_id), None)
            if not pending.own:
                self._forget_one(pending.owner)
        return pending

    def _forget_one(self, owner: Owner) -> None:
        entry = self._clients[id(owner)]
        entry[1] -= 1
        if not entry[1]:
            del self._clients[id(owner)]

    def progress_owner(self, upstream_token: Any) -> Pending[Owner] | None:
        """Who asked for progress under ``upstream_token`` (an upstream id we handed out)."""
        pending = self.get(upstream_token)
        if pending is None or pending.progress_token is None:
            return None
        return pending

    def upstream_id_of(self, owner: Owner, downstream_id: RequestId) -> int | None:
        """The upstream id of ``owner``'s in-flight request ``downstream_id`` (for cancellation)."""
        return self._by_downstream.get((id(owner), downstream_id))

    def owned_by(self, owner: Owner) -> list[int]:
        return [uid for uid, pending in self._pending.items() if pending.owner is owner]

    def clients_in_flight(self) -> list[Owner]:
        """Every client with a request in flight (the link's own requests do not count)."""
        return [entry[0] for entry in self._clients.values()]

    def latest_of(self, owner: Owner) -> RequestId | None:
        """``owner``'s most recent request still in flight (its downstream id)."""
        ids = self.owned_by(owner)
        return self._pending[max(ids)].downstream_id if ids else None

    def drain(self) -> list[tuple[int, Pending[Owner]]]:
        """Forget and return everything in flight (the upstream went away)."""
        pending = list(self._pending.items())
        self._pending.clear()
        self._by_downstream.clear()
        self._clients.clear()
        return pending
