"""The gateway as a client of a stateless 2026-07-28 upstream. Sans-IO.

An upstream that speaks only the stateless revision has no ``initialize``: the link learns its
capabilities with ``server/discover`` and stamps every request with the per-request envelope.
Its server→client requests arrive as ``InputRequiredResult``s, which the link turns into requests
to the client whose call it is, and answers by retrying the call with ``inputResponses``.
"""

from __future__ import annotations

from typing import Any

from mcp_central.core.stateless import (
    META_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_SERVER_INFO,
    META_VERSION,
    STATELESS_VERSIONS,
)
from mcp_central.types import Message


def stamped(
    message: Message, capabilities: dict[str, Any], client_info: Any, log_level: str | None
) -> Message:
    """A copy of a request for a stateless upstream: the per-request envelope added to ``params._meta``."""
    params = dict(message.get("params") or {})
    meta = dict(params.get("_meta") or {})
    meta[META_VERSION] = STATELESS_VERSIONS[-1]
    meta[META_CAPABILITIES] = capabilities
    meta[META_CLIENT_INFO] = client_info
    if log_level is not None:
        meta[META_LOG_LEVEL] = log_level
    params["_meta"] = meta
    return {**message, "params": params}


def input_requests(result: Any) -> dict[str, Message] | None:
    """The requests of an ``InputRequiredResult`` by key (``None`` for a complete result)."""
    if not isinstance(result, dict) or result.get("resultType") != "input_required":
        return None
    requests = result.get("inputRequests")
    if not isinstance(requests, dict):
        return {}
    return {
        str(key): request
        for key, request in requests.items()
        if isinstance(request, dict) and isinstance(request.get("method"), str)
    }


def retried(message: Message, responses: dict[str, Any], state: Any) -> Message:
    """The original request again, carrying the client's ``inputResponses`` and the ``requestState``."""
    params = dict(message.get("params") or {})
    params["inputResponses"] = responses
    if state is not None:
        params["requestState"] = state
    else:
        params.pop("requestState", None)
    return {**message, "params": params}


def handshake_result(discovered: dict[str, Any]) -> dict[str, Any]:
    """What a link keeps as its upstream's ``InitializeResult``, from a ``DiscoverResult``."""
    meta = discovered.get("_meta") if isinstance(discovered.get("_meta"), dict) else {}
    result: dict[str, Any] = {
        "protocolVersion": STATELESS_VERSIONS[-1],
        "capabilities": discovered.get("capabilities") or {},
        "serverInfo": (meta or {}).get(META_SERVER_INFO) or {"name": "unknown", "version": ""},
    }
    if discovered.get("instructions"):
        result["instructions"] = discovered["instructions"]
    return result


def speaks_stateless(discovered: Any) -> bool:
    versions = discovered.get("supportedVersions") if isinstance(discovered, dict) else None
    return isinstance(versions, list) and any(version in STATELESS_VERSIONS for version in versions)
