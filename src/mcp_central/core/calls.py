"""What the gateway observes of each client request: one ``CallRecord`` when it is answered.

The link driver (``upstream.link``) stamps a client request when it goes upstream and turns the
answer into a record; refusals made before any link (403, 429, limits) are recorded by the
downstream with the outcome ``refused``. Every consumer — metrics, the audit trail, log lines, the
dashboard's recent calls — is a ``CallObserver`` that ``ops.observers.Observers`` fans records out
to. Consumers must be cheap: ``call_finished`` runs on the answer's path.

Data and protocols only: no I/O, no clock (callers pass times in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mcp_central.errors import UPSTREAM_TIMEOUT
from mcp_central.types import Message

OUTCOMES = ("ok", "error", "refused", "timeout")
"""Every outcome a record can have (metrics pre-declare them, so label values stay bounded)."""

TARGET_PARAM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""The methods whose target (a tool, a prompt, a resource URI) a record names, and where it is."""


@dataclass(slots=True)
class CallContext:
    """Where a request came from: filled in by the downstream session, relay or exchange."""

    route: str
    """The route's label: a server's name, ``groups/NAME``, or ``all`` for ``/mcp``."""
    identity: str | None
    """The caller's identity name (``None``: an anonymous token, or no token)."""
    session: str
    """A short prefix of the session id ("" for stateless requests): enough to follow, not to use."""
    transport: str


@dataclass(slots=True)
class CallRecord:
    context: CallContext
    server: str
    """The upstream that served it (the member, on an aggregated route); "" when refused before one."""
    method: str
    target: str | None
    """The tool or prompt name (as the upstream names it) or the resource URI; ``None`` for others."""
    outcome: str
    """One of ``OUTCOMES``."""
    started: float
    """Wall-clock time (``time.time()``) the request arrived."""
    duration: float
    """Seconds from arrival to answer."""
    error: str | None = None
    """The error's message, for outcomes other than ``ok`` (already safe to show: no secrets)."""
    arguments: object = None
    """The call's arguments (``tools/call``, ``prompts/get``), for an audit that opts in; else ``None``."""


class Observed(Protocol):
    """A request owner that can say where its requests came from (sessions, relays, exchanges)."""

    @property
    def call_context(self) -> CallContext: ...


class CallObserver(Protocol):
    def call_finished(self, record: CallRecord) -> None:
        """A client request was answered (or refused). Must not block or raise."""
        ...


def target_of(method: str, params: object) -> str | None:
    field = TARGET_PARAM.get(method)
    if field is None or not isinstance(params, dict):
        return None
    value = params.get(field)
    return value if isinstance(value, str) else None


def outcome_of(answer: Message) -> tuple[str, str | None]:
    """A JSON-RPC answer's outcome and error message (a tool result with ``isError`` is an error)."""
    error = answer.get("error")
    if error is not None:
        if isinstance(error, dict):
            message = error.get("message")
            text = message if isinstance(message, str) else None
            return ("timeout" if error.get("code") == UPSTREAM_TIMEOUT else "error"), text
        return "error", None
    result = answer.get("result")
    if isinstance(result, dict) and result.get("isError") is True:
        return "error", "the tool reported an error"
    return "ok", None
