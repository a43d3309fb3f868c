"""Ids that name the replica they belong to, for sessions several replicas serve. Sans-IO.

When replicas share sessions (``sessionStore`` in Redis), a server→client request goes out on the
replica whose upstream link asked it, but the client's answer may reach any replica. So the
request's id is tagged with its replica on the way out (``mcpc:r1b2c3:17``: the original id kept
as JSON, so an integer comes back an integer) and the answer is routed by the tag on the way in.

Must not: know about sessions, transports or Redis.
"""

from __future__ import annotations

import orjson

from mcp_central.types import RequestId

MARKER = "mcpc:"
RESTORE_PREFIX = "mcpc-restore-"
"""Ids of the requests a replica sends on a session's behalf to restore its state there (the log
level, subscriptions): their answers are for nobody."""


def tag(replica: str, request_id: RequestId) -> str:
    return f"{MARKER}{replica}:{orjson.dumps(request_id).decode()}"


def untag(request_id: object) -> tuple[str, RequestId] | None:
    """``(replica, original id)`` of a tagged id; ``None`` for any other id (then it is the client's
    own business, passed on as it is)."""
    if not isinstance(request_id, str) or not request_id.startswith(MARKER):
        return None
    replica, sep, original = request_id[len(MARKER) :].partition(":")
    if not sep:
        return None
    try:
        value = orjson.loads(original)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return replica, value


def is_restore(request_id: object) -> bool:
    return isinstance(request_id, str) and request_id.startswith(RESTORE_PREFIX)
