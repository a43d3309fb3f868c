"""In-flight request bookkeeping for one upstream link: id and progress-token remapping.

Many downstream sessions share one upstream session, and each picks its own request ids and
progress tokens, so they collide. The table hands out fresh upstream ids (and reuses them as
upstream progress tokens), remembers who asked, and maps answers and progress back. It is
sans-IO: no timers, no sockets; the link owns those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mcp_central.core import jsonrpc
from mcp_central.types import Message, RequestId

Owner = TypeVar("Owner")


@dataclass
class Pending(Generic[Owner]):
    owner: Owner
    downstream_id: RequestId
    method: str
    progress_token: Any
    """The downstream's own progress token, restored on ``notifications/progress``; ``None`` if none."""
    timer: Any = None
    """Opaque handle the link uses for the request's deadline."""
    context: Any = None
    """Whatever the link must remember to handle the answer (e.g. the URI of a subscribe)."""


class RequestTable(Generic[Owner]):
    def __init__(self) -> None:
        self._next_id = 0
        self._pending: dict[int, Pending[Owner]] = {}
        self._by_downstream: dict[tuple[int, RequestId], int] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def outgoing(self, owner: Owner, message: Message) -> Pending[Owner]:
        """Rewrite ``message`` (a request) in place for the upstream and record it.

        Its ``id`` becomes a fresh integer; a ``progressToken`` becomes that same integer, which is
        unique on the upstream session for as long as the request is in flight.
        """
        self._next_id += 1
        upstream_id = self._next_id
        token = jsonrpc.progress_token(message)
        pending = Pending(owner, message["id"], message["method"], token)
        self._pending[upstream_id] = pending
        self._by_downstream[(id(owner), pending.downstream_id)] = upstream_id
        message["id"] = upstream_id
        if token is not None:
            jsonrpc.set_progress_token(message, upstream_id)
        return pending

    def incoming_response(self, message: Message) -> Pending[Owner] | None:
        """Restore the downstream id of an upstream response in place; ``None`` if nobody waits for it."""
        pending = self.pop(message.get("id"))
        if pending is not None:
            message["id"] = pending.downstream_id
        return pending

    def pop(self, upstream_id: Any) -> Pending[Owner] | None:
        if not isinstance(upstream_id, int):
            return None
        pending = self._pending.pop(upstream_id, None)
        if pending is not None:
            self._by_downstream.pop((id(pending.owner), pending.downstream_id), None)
        return pending

    def progress_owner(self, upstream_token: Any) -> Pending[Owner] | None:
        """Who asked for progress under ``upstream_token`` (an upstream id we handed out)."""
        if not isinstance(upstream_token, int):
            return None
        pending = self._pending.get(upstream_token)
        if pending is None or pending.progress_token is None:
            return None
        return pending

    def upstream_id_of(self, owner: Owner, downstream_id: RequestId) -> int | None:
        """The upstream id of ``owner``'s in-flight request ``downstream_id`` (for cancellation)."""
        return self._by_downstream.get((id(owner), downstream_id))

    def owned_by(self, owner: Owner) -> list[int]:
        return [uid for uid, pending in self._pending.items() if pending.owner is owner]

    def latest_owner(self) -> Owner | None:
        """The owner of the most recently sent request still in flight (for server→client requests)."""
        if not self._pending:
            return None
        return self._pending[max(self._pending)].owner

    def latest_where(self, wanted: Callable[[Pending[Owner]], bool]) -> Pending[Owner] | None:
        """The most recently sent request in flight for which ``wanted`` holds."""
        for upstream_id in sorted(self._pending, reverse=True):
            if wanted(self._pending[upstream_id]):
                return self._pending[upstream_id]
        return None

    def latest_of(self, owner: Owner) -> RequestId | None:
        ids = self.owned_by(owner)
        return self._pending[max(ids)].downstream_id if ids else None

    def drain(self) -> list[Pending[Owner]]:
        """Forget and return everything in flight (the upstream went away)."""
        pending = list(self._pending.values())
        self._pending.clear()
        self._by_downstream.clear()
        return pending
