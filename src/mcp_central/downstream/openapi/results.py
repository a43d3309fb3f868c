"""An MCP answer as an HTTP status and JSON body. Sans-IO, pure.

Tool calls (``tools/call``):

    result with structuredContent      200, the structuredContent
    result with text content only      200, the texts as one string (joined by newlines)
    any other result                   200, the content items as MCP gives them: images and audio
                                       with base64 ``data`` and ``mimeType``, embedded resources
                                       with ``uri``, ``mimeType`` and ``text`` or base64 ``blob``
    result with isError: true          400, {"error": the tool's text}

Every method, for a JSON-RPC error answer:

    -32001 (upstream unavailable), -32003 (a limit)    503, with Retry-After
    -32002 (upstream timeout)                          504
    any other error (bad arguments, unknown name…)     400, {"error": message, "code": code}

``prompts/get``, ``resources/read`` and the lists answer 200 with the MCP result as it is.
"""

from __future__ import annotations

from typing import Any

from mcp_central.errors import LIMIT_EXCEEDED, UPSTREAM_TIMEOUT, UPSTREAM_UNAVAILABLE
from mcp_central.types import Message

Answer = tuple[int, Any, list[tuple[bytes, bytes]]]
"""HTTP status, JSON body, extra headers."""

RETRY_AFTER = [(b"retry-after", b"1")]


def error_answer(error: Any) -> Answer:
    """A JSON-RPC ``error`` object as an HTTP answer."""
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    text = message if isinstance(message, str) else "the upstream answered with an error"
    if code in (UPSTREAM_UNAVAILABLE, LIMIT_EXCEEDED):
        return 503, {"error": "unavailable", "detail": text, "code": code}, RETRY_AFTER
    if code == UPSTREAM_TIMEOUT:
        return 504, {"error": "timeout", "detail": text, "code": code}, []
    body: dict[str, Any] = {"error": text}
    if isinstance(code, int):
        body["code"] = code
    return 400, body, []


def tool_answer(answer: Message) -> Answer:
    """A ``tools/call`` answer as an HTTP answer."""
    if "error" in answer:
        return error_answer(answer["error"])
    result = answer.get("result")
    if not isinstance(result, dict):
        return 200, None, []
    content = result.get("content")
    items = content if isinstance(content, list) else []
    texts = [item.get("text") for item in items if isinstance(item, dict) and item.get("type") == "text"]
    only_text = len(texts) == len(items) and all(isinstance(text, str) for text in texts)
    if result.get("isError") is True:
        text = "\n".join(t for t in texts if isinstance(t, str)) or "the tool reported an error"
        return 400, {"error": text}, []
    if "structuredContent" in result:
        return 200, result["structuredContent"], []
    if items and only_text:
        return 200, "\n".join(texts), []  # type: ignore[arg-type]
    return 200, items, []


def plain_answer(answer: Message) -> Answer:
    """Any other request's answer: its result as it is, or the error."""
    if "error" in answer:
        return error_answer(answer["error"])
    return 200, answer.get("result"), []
