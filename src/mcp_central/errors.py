"""The small exception tree of mcp-central, and the one place it becomes JSON-RPC errors.

    CentralError
    ├── ConfigError        the configuration is invalid (carries every problem found)
    ├── LimitExceeded      a configured limit refuses this (maxSessions per route or per upstream)
    ├── UpstreamError      an upstream cannot be reached or answered wrongly
    │   ├── UpstreamUnavailable   not connected (starting, failed, stopped)
    │   └── UpstreamTimeout       no answer within the server's ``timeout``
    └── StoreUnavailable   the shared session store (``sessionStore``) did not answer

Only ``to_jsonrpc_error`` turns them into wire errors; no other module builds error codes for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# JSON-RPC 2.0 codes and the MCP-specific ones we use.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Implementation-defined server errors (-32000..-32099).
UPSTREAM_UNAVAILABLE = -32001
UPSTREAM_TIMEOUT = -32002
LIMIT_EXCEEDED = -32003


class CentralError(Exception):
    """Base of every error mcp-central raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config: where (file and key path) and what was expected."""

    source: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}" if self.path else self.source
        return f"{where}: {self.message}"


class ConfigError(CentralError):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LimitExceeded(CentralError):
    def __init__(self, limit: str, detail: str) -> None:
        self.limit = limit
        self.detail = detail
        super().__init__(f"{detail} ({limit})")


class UpstreamError(CentralError):
    def __init__(self, server: str, detail: str) -> None:
        self.server = server
        self.detail = detail
        super().__init__(f"upstream '{server}': {detail}")


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class StoreUnavailable(CentralError):
    """Replicas share sessions through a store that did not answer: new sessions (and sessions
    new to this replica) are refused with 503 until it does; sessions held here carry on."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"the session store is unavailable ({detail}): retry shortly")


def to_jsonrpc_error(exc: BaseException) -> dict[str, Any]:
    """The JSON-RPC ``error`` object a downstream client receives for ``exc``."""
    if isinstance(exc, LimitExceeded):
        return {"code": LIMIT_EXCEEDED, "message": str(exc)}
    if isinstance(exc, UpstreamTimeout):
        return {"code": UPSTREAM_TIMEOUT, "message": str(exc)}
    if isinstance(exc, UpstreamUnavailable):
        return {"code": UPSTREAM_UNAVAILABLE, "message": str(exc)}
    if isinstance(exc, UpstreamError):
        return {"code": INTERNAL_ERROR, "message": str(exc)}
    if isinstance(exc, StoreUnavailable):
        return {"code": UPSTREAM_UNAVAILABLE, "message": str(exc)}
    return {"code": INTERNAL_ERROR, "message": f"internal error: {type(exc).__name__}"}


def error_response(request_id: Any, error: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error}
