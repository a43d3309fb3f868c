"""Server→client requests (sampling, elicitation, roots) on a shared link. Sans-IO.

The upstream's request ids are its own; several of its requests may be out at once, to different
clients. Each gets a proxy id of ours on the way down, so a client's answer maps back to the
upstream request it belongs to, and to nothing else.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from mcp_central.types import Message, RequestId

Owner = TypeVar("Owner")

CAPABILITY_OF = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}


def refusal(
    method: str, owner: object | None, capabilities: dict[str, Any], declared: dict[str, Any]
) -> str | None:
    """Why the chosen client cannot answer ``method`` (``None`` if it can).

    ``capabilities`` are the client's; ``declared`` what the link told the upstream it offers (a
    shared link leaves out ``roots``, so a server that asks anyway is refused, not answered with one
    client's roots).
    """
    needed = CAPABILITY_OF.get(method)
    if needed is not None and needed not in declared:
        return f"'{method}' is not offered on a shared link (sessionMode 'isolated' passes each client's own)"
    if owner is None:
        return f"no client request is in flight that could answer '{method}'"
    if needed is not None and needed not in capabilities:
        return f"the client whose request is in flight did not declare the '{needed}' capability"
    return None


class ServerRequests(Generic[Owner]):
    def __init__(self) -> None:
        self._counter = 0
        self._out: dict[str, tuple[RequestId, Owner]] = {}

    def downstream(self, message: Message, owner: Owner) -> Message:
        """A copy of the upstream's request under a fresh proxy id, remembered for ``owner``."""
        self._counter += 1
        proxy_id = f"mcp-central-{self._counter}"
        self._out[proxy_id] = (message["id"], owner)
        return {**message, "id": proxy_id}

    def upstream(self, owner: Owner, answer: Message) -> Message | None:
        """The client's answer with the upstream's id restored; ``None`` if it answers nothing of ours."""
        key = str(answer.get("id"))
        entry = self._out.get(key)
        if entry is None or entry[1] is not owner:
            return None
        del self._out[key]
        return {**answer, "id": entry[0]}

    def withdrawn(self, upstream_id: Any) -> tuple[Owner, str] | None:
        """The upstream cancelled its request ``upstream_id``: who was asked, under which proxy id."""
        for key, (original, who) in self._out.items():
            if original == upstream_id and type(original) is type(upstream_id):
                del self._out[key]
                return who, key
        return None

    def asks(self, owner: Owner) -> bool:
        """Whether ``owner`` has a request of the upstream's still to answer."""
        return any(who is owner for _, who in self._out.values())

    def __len__(self) -> int:
        return len(self._out)

    def drop(self, owner: Owner) -> list[RequestId]:
        """Forget ``owner``'s outstanding requests; the upstream ids that will now get no answer."""
        gone = [key for key, (_, who) in self._out.items() if who is owner]
        return [self._out.pop(key)[0] for key in gone]

    def clear(self) -> None:
        self._out.clear()
