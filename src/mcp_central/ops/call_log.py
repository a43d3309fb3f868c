"""Call lines: one log line per answered client request, for the servers with ``logEnabled``.

``tools/call``, ``prompts/get``, ``resources/read`` and every refusal are logged at INFO (a
timeout at WARNING); other methods (lists, ``ping``, completions…) at DEBUG. Each line carries
the context fields of ``ops.logs.FIELDS`` (``route``, ``server``, ``session``, ``method``,
``tool``/``prompt``/``uri``, ``identity``, ``duration_ms``, ``outcome``, ``error``).

``logEnabled`` is the server's own option (inherited from ``mcpProxy.options`` unless the
server sets it), so ``"logEnabled": false`` on a server silences its lines even when the global
option is on; a refusal made before any server is chosen follows its route's server, or the
global option on aggregated routes. Arguments are never logged here (the audit trail may, when
asked). This observer only logs: it must stay cheap, as it runs on each answer's path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mcp_central.config import redact
from mcp_central.config.model import Config
from mcp_central.core.calls import CallRecord

log = logging.getLogger("mcp_central.calls")

TARGET_FIELD = {"tools/call": "tool", "prompts/get": "prompt", "resources/read": "uri"}
"""The methods worth a line at INFO, and the field that names what they asked for."""


def call_fields(record: CallRecord) -> dict[str, Any]:
    """The context fields of ``record`` (``None`` where unknown), as log lines and spans carry them."""
    context = record.context
    fields: dict[str, Any] = {
        "route": context.route,
        "server": record.server or None,
        "session": context.session or None,
        "transport": context.transport,
        "method": record.method,
        "identity": context.identity,
        "duration_ms": round(record.duration * 1000, 3),
        "outcome": record.outcome,
        "error": record.error if record.outcome != "ok" else None,
    }
    target_field = TARGET_FIELD.get(record.method)
    if target_field is not None:
        fields[target_field] = shown_target(record)
    return fields


def shown_target(record: CallRecord) -> str | None:
    """The tool or prompt name, or the resource URI with its credentials and query values masked."""
    target = record.target
    if target is not None and record.method == "resources/read":
        return redact.url(target)
    return target


class CallLog:
    """A ``CallObserver`` writing call lines; reads the running config at each call (live reload)."""

    __slots__ = ("_config", "_enabled", "_fallback", "_seen")

    def __init__(self, config: Callable[[], Config]) -> None:
        self._config = config
        self._seen: Config | None = None
        self._enabled: dict[str, bool] = {}
        self._fallback = False

    def enabled_for(self, record: CallRecord) -> bool:
        config = self._config()
        if config is not self._seen:
            self._seen = config
            self._enabled = {name: server.log_enabled for name, server in config.servers.items()}
            self._fallback = config.proxy.log_enabled
        # A refusal has no server: it belongs to its route's server, if the route is one.
        enabled = self._enabled.get(record.server or record.context.route)
        return self._fallback if enabled is None else enabled

    def call_finished(self, record: CallRecord) -> None:
        if record.outcome == "timeout":
            level = logging.WARNING
        elif record.method in TARGET_FIELD or record.outcome == "refused":
            level = logging.INFO
        else:
            level = logging.DEBUG
        if not log.isEnabledFor(level) or not self.enabled_for(record):
            return
        where = f" on '{record.server}'" if record.server else f" on route '{record.context.route}'"
        target = shown_target(record)
        what = f" {target}" if target else ""
        log.log(
            level,
            "%s%s%s: %s in %.1f ms",
            record.method,
            what,
            where,
            record.outcome,
            record.duration * 1000,
            extra=call_fields(record),
        )
