"""The stateless 2026-07-28 revision as a gateway needs it. Sans-IO.

A stateless request carries its protocol version, client capabilities and client info in
``params._meta`` and is mirrored into ``MCP-Protocol-Version`` / ``Mcp-Method`` / ``Mcp-Name``
headers that must match the body. There is no ``initialize`` and no session: the gateway serves
such requests over the same upstream links as handshake-era sessions, translating at the edge —
the envelope is stripped before a request goes to a handshake-era upstream, and results get the
fields the revision requires (``resultType``, caching hints, ``serverInfo``).

Nothing here does I/O or knows about HTTP framing beyond header values.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp_central.core import protocol
from mcp_central.errors import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR
from mcp_central.types import Message

STATELESS_VERSIONS: tuple[str, ...] = ("2026-07-28",)
ALL_VERSIONS: tuple[str, ...] = (*protocol.SUPPORTED_VERSIONS, *STATELESS_VERSIONS)

PREFIX = "io.modelcontextprotocol/"
META_VERSION = PREFIX + "protocolVersion"
META_CAPABILITIES = PREFIX + "clientCapabilities"
META_CLIENT_INFO = PREFIX + "clientInfo"
META_LOG_LEVEL = PREFIX + "logLevel"
META_SERVER_INFO = PREFIX + "serverInfo"
META_SUBSCRIPTION_ID = PREFIX + "subscriptionId"
_ENVELOPE_KEYS = (META_VERSION, META_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL)

HEADER_MISMATCH = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022

HTTP_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}
"""The HTTP status of a stateless error reply, by JSON-RPC code (200 for codes not listed)."""

NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""Methods whose ``Mcp-Name`` header mirrors a body field, and that field."""
CACHEABLE = frozenset(
    {
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
    }
)
REMOVED = frozenset(
    {"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"}
)
"""Handshake-era methods a stateless request may not use (they need a session)."""

LISTEN_FLAGS = {
    "toolsListChanged": "notifications/tools/list_changed",
    "promptsListChanged": "notifications/prompts/list_changed",
    "resourcesListChanged": "notifications/resources/list_changed",
}
"""``subscriptions/listen`` flags and the notification each opts into. The gateway honours all three
whatever the upstream declared: it forwards every change an upstream announces (some announce
without declaring ``listChanged``), and its own reloads change lists too."""


class Rejection(Exception):
    """A stateless request the gateway refuses before it reaches an upstream."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True)
class Envelope:
    """What a stateless request says about its client."""

    version: str
    capabilities: dict[str, Any]
    log_level: str | None


def meta_of(message: Message) -> dict[str, Any] | None:
    params = message.get("params")
    if not isinstance(params, dict):
        return None
    meta = params.get("_meta")
    return meta if isinstance(meta, dict) else None


def is_stateless(message: Message, version_header: str | None) -> bool:
    """Whether a POSTed message is meant as a stateless request (by its header or its envelope)."""
    if version_header in STATELESS_VERSIONS:
        return True
    meta = meta_of(message)
    return meta is not None and META_VERSION in meta


def decode_header_value(raw: str) -> str | None:
    """A mirrored header's value: plain, or ``=?base64?…?=``; ``None`` if it is malformed."""
    if raw.startswith("=?base64?") and raw.endswith("?=") and len(raw) >= 11:
        try:
            return base64.b64decode(raw[9:-2], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    if any(not (0x20 <= ord(ch) <= 0x7E or ch == "\t") for ch in raw):
        return None
    return raw


def check_request(message: Message, header: Callable[[str], str | None]) -> Envelope:
    """Validate a stateless message's envelope and mirrored headers; raise ``Rejection`` naming the problem.

    ``header(name)`` returns a request header's value (lower-case name) or ``None``.
    """
    method = message.get("method")
    if not isinstance(method, str):
        raise Rejection(INVALID_REQUEST, "a stateless request needs a string 'method'")
    meta = meta_of(message) or {}
    version = meta.get(META_VERSION)
    version_header = header("mcp-protocol-version")
    if version_header is None:
        raise Rejection(HEADER_MISMATCH, "Header mismatch: the MCP-Protocol-Version header is required")
    if "id" in message and version is None:
        raise Rejection(INVALID_PARAMS, f"params._meta['{META_VERSION}'] is required")
    if version is not None and version != version_header:
        raise Rejection(
            HEADER_MISMATCH,
            f"Header mismatch: MCP-Protocol-Version '{version_header}' does not match "
            f"params._meta['{META_VERSION}'] '{version}'",
        )
    if version_header not in STATELESS_VERSIONS:
        raise Rejection(
            UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            {"supported": list(ALL_VERSIONS), "requested": version_header},
        )
    _check_mirrored(message, method, header)
    capabilities = meta.get(META_CAPABILITIES)
    if "id" in message and not isinstance(capabilities, dict):
        raise Rejection(INVALID_PARAMS, f"params._meta['{META_CAPABILITIES}'] is required (an object)")
    level = meta.get(META_LOG_LEVEL)
    return Envelope(
        version=version_header,
        capabilities=capabilities if isinstance(capabilities, dict) else {},
        log_level=level if isinstance(level, str) else None,
    )


def _check_mirrored(message: Message, method: str, header: Callable[[str], str | None]) -> None:
    if "id" not in message:
        return  # the revision defines no header rules for notification POSTs
    mirrored = header("mcp-method")
    if mirrored is None:
        raise Rejection(HEADER_MISMATCH, "Header mismatch: the Mcp-Method header is required")
    if mirrored != method:
        raise Rejection(
            HEADER_MISMATCH, f"Header mismatch: Mcp-Method '{mirrored}' does not match method '{method}'"
        )
    field = NAMED.get(method)
    if field is None:
        return
    raw = header("mcp-name")
    if raw is None:
        raise Rejection(HEADER_MISMATCH, f"Header mismatch: the Mcp-Name header is required for {method}")
    name = decode_header_value(raw)
    if name is None:
        raise Rejection(HEADER_MISMATCH, "Header mismatch: Mcp-Name has invalid characters or base64")
    body = (message.get("params") or {}).get(field)
    if name != body:
        raise Rejection(
            HEADER_MISMATCH, f"Header mismatch: Mcp-Name '{name}' does not match params.{field} '{body}'"
        )


def upstream_request(message: Message) -> Message:
    """A copy for a handshake-era upstream: the per-request envelope removed, all else untouched."""
    params = message.get("params")
    out = dict(message)
    if isinstance(params, dict):
        params = dict(params)
        params.pop("inputResponses", None)
        params.pop("requestState", None)
        meta = params.get("_meta")
        if isinstance(meta, dict):
            meta = {key: value for key, value in meta.items() if key not in _ENVELOPE_KEYS}
            if meta:
                params["_meta"] = meta
            else:
                del params["_meta"]
        out["params"] = params
    return out


def complete(result: dict[str, Any], method: str, server_info: Any) -> dict[str, Any]:
    """Give a forwarded result what the revision requires of it (in place; also returned)."""
    result.setdefault("resultType", "complete")
    if method in CACHEABLE:
        # The gateway answers lists live and tells listeners of changes: nothing is fresh for long,
        # and a route behind tokens must not be cached across callers.
        result.setdefault("ttlMs", 0)
        result.setdefault("cacheScope", "private")
    if server_info is not None:
        meta = result.get("_meta")
        if not isinstance(meta, dict):
            meta = result["_meta"] = {}
        meta.setdefault(META_SERVER_INFO, server_info)
    return result


def discover_result(init_result: dict[str, Any]) -> dict[str, Any]:
    """``server/discover``'s answer, from the upstream link's own handshake."""
    result: dict[str, Any] = {
        "supportedVersions": list(ALL_VERSIONS),
        "capabilities": init_result.get("capabilities") or {},
    }
    if init_result.get("instructions"):
        result["instructions"] = init_result["instructions"]
    return complete(result, "server/discover", init_result.get("serverInfo"))


def input_required(requests: dict[str, Message], state: str) -> dict[str, Any]:
    """An ``InputRequiredResult`` asking the client for ``requests`` (server→client requests by key)."""
    return {
        "resultType": "input_required",
        "inputRequests": {
            key: {"method": request["method"], "params": request.get("params") or {}}
            for key, request in requests.items()
        },
        "requestState": state,
    }


def listen_agreement(params: Any) -> dict[str, Any]:
    """The filter a ``subscriptions/listen`` request asked for, checked; resource URIs deduplicated.

    Whether each resource subscription holds is up to the upstream (the caller asks it and keeps
    only the URIs it accepted).
    """
    wanted = params.get("notifications") if isinstance(params, dict) else None
    if not isinstance(wanted, dict):
        raise Rejection(INVALID_PARAMS, "subscriptions/listen needs params.notifications (an object)")
    agreed: dict[str, Any] = {flag: True for flag in LISTEN_FLAGS if wanted.get(flag) is True}
    uris = wanted.get("resourceSubscriptions")
    if uris is not None:
        if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
            raise Rejection(
                INVALID_PARAMS, "params.notifications.resourceSubscriptions must be a list of URIs"
            )
        if uris:
            agreed["resourceSubscriptions"] = list(dict.fromkeys(uris))
    return agreed


def listened_methods(agreed: dict[str, Any]) -> frozenset[str]:
    methods = {method for flag, method in LISTEN_FLAGS.items() if agreed.get(flag)}
    if agreed.get("resourceSubscriptions"):
        methods.add("notifications/resources/updated")
    return frozenset(methods)


def tagged(message: Message, subscription_id: Any) -> Message:
    """A copy of a notification carrying its subscription's id (the original may go to others too)."""
    params = dict(message.get("params") or {})
    params["_meta"] = {**(params.get("_meta") or {}), META_SUBSCRIPTION_ID: subscription_id}
    return {**message, "params": params}
