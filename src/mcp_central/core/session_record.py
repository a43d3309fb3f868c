"""What a replica needs to carry on a client session another replica opened. Sans-IO.

A ``SessionRecord`` is written when a session is initialized (``cluster/``: a Redis hash) and read
by any replica the session's next request reaches. Its fields are the session's description (the
negotiated revision, the client's capabilities and info, who owns it) plus its *state*: the
requests that set something upstream for it — ``logging/setLevel`` and each
``resources/subscribe`` — kept as their params, so a replica restores them by sending the same
requests on its own links.

Must not: hold a token (the owner is the identity's name or the SHA-256 digest of the token, as in
memory), or know about Redis or routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from mcp_central.types import Message

STATE_METHODS = ("logging/setLevel", "resources/subscribe", "resources/unsubscribe")
"""Client requests that change what upstreams keep for a session (each replica must repeat them)."""


@dataclass(slots=True)
class SessionRecord:
    route: str
    """The route's label (``NAME``, ``groups/NAME``, ``all``)."""
    transport: str
    """``streamable-http`` or ``sse``."""
    protocol_version: str | None
    client_info: Any
    client_capabilities: dict[str, Any]
    identity: str | None
    digest: str | None
    """Hex SHA-256 of the bearer token of an anonymous caller (``None``: an identity, or no token)."""
    holder: str | None = None
    """The replica holding a legacy SSE session's one stream (its POSTs are relayed there)."""
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    """State-setting request params by ``state_key``."""

    def describe(self) -> bytes:
        """The fixed part, as stored."""
        return orjson.dumps(
            {
                "route": self.route,
                "transport": self.transport,
                "protocolVersion": self.protocol_version,
                "clientInfo": self.client_info,
                "capabilities": self.client_capabilities,
                "identity": self.identity,
                "digest": self.digest,
                "holder": self.holder,
            }
        )

    @classmethod
    def parse(cls, fields: dict[str, bytes]) -> SessionRecord | None:
        """From a stored hash (``base`` + ``state:…`` fields); ``None`` if it is not one of ours."""
        raw = fields.get("base")
        if raw is None:
            return None
        try:
            base = orjson.loads(raw)
            state = {
                key[6:]: orjson.loads(value) for key, value in fields.items() if key.startswith("state:")
            }
        except orjson.JSONDecodeError:
            return None
        if not isinstance(base, dict) or not isinstance(base.get("route"), str):
            return None
        capabilities = base.get("capabilities")
        return cls(
            route=base["route"],
            transport=str(base.get("transport")),
            protocol_version=base.get("protocolVersion"),
            client_info=base.get("clientInfo"),
            client_capabilities=capabilities if isinstance(capabilities, dict) else {},
            identity=base.get("identity"),
            digest=base.get("digest"),
            holder=base.get("holder"),
            state={key: value for key, value in state.items() if isinstance(value, dict)},
        )

    def restore_requests(self) -> list[Message]:
        """The requests that put this session's state on a replica's links (level first)."""
        restorable = (
            (key, params) for key, params in self.state.items() if key == "level" or key.startswith("sub:")
        )
        ordered = sorted(restorable, key=lambda item: item[0] != "level")
        return [
            {"jsonrpc": "2.0", "method": _method_of(key), "params": params, "id": f"mcpc-restore-{n}"}
            for n, (key, params) in enumerate(ordered)
        ]

    def task_homes(self) -> dict[str, str]:
        """The replica whose upstream holds each of the session's tasks, by task id."""
        return {
            key[5:]: str(params.get("replica"))
            for key, params in self.state.items()
            if key.startswith("task:") and isinstance(params.get("replica"), str)
        }


def task_key(task_id: str) -> str:
    return f"task:{task_id}"


def state_key(message: Message) -> tuple[str, bool] | None:
    """For a state-setting request: its key in ``SessionRecord.state`` and whether it sets (else
    removes) it; ``None`` for any other message."""
    method = message.get("method")
    if method not in STATE_METHODS or "id" not in message:
        return None
    if method == "logging/setLevel":
        return "level", True
    params = message.get("params")
    uri = params.get("uri") if isinstance(params, dict) else None
    if not isinstance(uri, str):
        return None
    return f"sub:{uri}", method == "resources/subscribe"


def _method_of(key: str) -> str:
    return "logging/setLevel" if key == "level" else "resources/subscribe"
