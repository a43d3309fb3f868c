"""JSON-RPC 2.0 framing helpers: decode once, classify by shape, build replies.

Classification looks only at the keys routing needs (``method``, ``id``, ``result``/``error``);
everything else in a message is left untouched so unknown fields and ``_meta`` survive the proxy.
This module must not validate MCP semantics or touch sockets.
"""

from __future__ import annotations

from typing import Any

import orjson

from mcp_central.errors import INVALID_REQUEST, PARSE_ERROR
from mcp_central.types import Message

dumps = orjson.dumps


class DecodeError(ValueError):
    """The bytes are not one JSON-RPC message; ``error`` is the JSON-RPC error object to answer with."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        super().__init__(error["message"])


def decode(body: bytes) -> Message | list[Any]:
    """Parse a POSTed body into one message (or a batch list); raise ``DecodeError`` on bad input."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError({"code": PARSE_ERROR, "message": f"Parse error: {exc}"}) from None
    if isinstance(value, list):
        return value
    problem = shape_problem(value)
    if problem is not None:
        raise DecodeError({"code": INVALID_REQUEST, "message": f"Invalid Request: {problem}"})
    return value  # type: ignore[no-any-return]


def shape_problem(value: Any) -> str | None:
    """Why ``value`` is not a JSON-RPC 2.0 message, or ``None`` if its shape is fine."""
    if not isinstance(value, dict):
        return "expected a JSON object"
    if value.get("jsonrpc") != "2.0":
        return 'member "jsonrpc" must be "2.0"'
    if "method" in value:
        if not isinstance(value["method"], str):
            return 'member "method" must be a string'
        if "id" in value and not _valid_id(value["id"]):
            return 'member "id" must be a string or an integer'
        params = value.get("params")
        if params is not None and not isinstance(params, dict):
            # JSON-RPC allows arrays, MCP does not: every MCP request and notification names its params.
            return 'member "params" must be an object'
        # A cancellation names a request by its id: anything else can never match one.
        request_id = (params or {}).get("requestId")
        if (
            value["method"] == "notifications/cancelled"
            and request_id is not None
            and not _valid_id(request_id)
        ):
            return 'member "params.requestId" must be a string or an integer'
        return None
    if "id" in value and ("result" in value or "error" in value):
        request_id = value["id"]
        if not (_valid_id(request_id) or (request_id is None and "error" in value)):
            return 'member "id" of a response must be a string or an integer (null only with "error")'
        return None
    return 'expected "method" (request or notification) or "result"/"error" with "id" (response)'


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def is_request(message: Message) -> bool:
    return "method" in message and "id" in message


def is_notification(message: Message) -> bool:
    return "method" in message and "id" not in message


def is_response(message: Message) -> bool:
    return "method" not in message and "id" in message


def result_response(request_id: Any, result: Any) -> Message:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(request_id: Any, code: int, message: str, data: Any = None) -> Message:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def progress_token(message: Message) -> Any:
    """The ``params._meta.progressToken`` of a request, or ``None``."""
    params = message.get("params")
    if isinstance(params, dict):
        meta = params.get("_meta")
        if isinstance(meta, dict):
            return meta.get("progressToken")
    return None


def set_progress_token(message: Message, token: Any) -> None:
    message["params"]["_meta"]["progressToken"] = token
