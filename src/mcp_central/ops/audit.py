"""The audit trail (``mcpProxy.options.audit``): who called what, one JSON line each.

A line for every ``tools/call``, ``prompts/get`` and ``resources/read``, every refused request
(outcome ``refused``) and every admin read (methods ``admin/…``, such as ``admin/status``):

    {"time": "2026-01-31T12:00:00.123Z", "identity": "alice", "route": "all", "server": "db",
     "session": "1f0c9a2b", "transport": "streamable-http", "method": "tools/call",
     "tool": "query", "outcome": "ok", "duration_ms": 12.5}

``time`` is when the request arrived (UTC); ``prompt`` or ``uri`` replace ``tool`` for the other
methods; ``error`` is added when it did not end ``ok``. Arguments are left out unless
``arguments`` opts in: ``hash`` adds ``arguments_sha256`` (of the arguments' canonical JSON:
sorted keys, no spaces, UTF-8), ``full`` adds ``arguments``. No token or config secret is ever
part of a line.

With ``file`` the lines are appended to it (created 0600, and set to 0600 if it existed), one
``write`` per line straight to the file (no buffer to lose, a few microseconds on the event
loop), rotated by size: ``file`` → ``file.1`` → … → ``file.N`` (``backups``). Without ``file``
they go to the log as logger ``mcp_central.audit`` (the fields as the line's context fields).
The running config is read at each call, so a reload that changes ``audit`` takes effect at once.
This module writes the audit only; it decides nothing about access.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from typing import Any

import orjson

from mcp_central.config.model import AuditConfig, Config
from mcp_central.core.calls import CallRecord
from mcp_central.ops.call_log import TARGET_FIELD, shown_target
from mcp_central.ops.logs import utc_iso

log = logging.getLogger("mcp_central.audit")
problems = logging.getLogger("mcp_central.ops")

ADMIN_PREFIX = "admin/"


def audited(record: CallRecord) -> bool:
    return (
        record.method in TARGET_FIELD or record.outcome == "refused" or record.method.startswith(ADMIN_PREFIX)
    )


def entry(record: CallRecord, arguments: str) -> dict[str, Any]:
    """The audit line of ``record``; ``arguments`` is the ``audit.arguments`` mode."""
    context = record.context
    line: dict[str, Any] = {
        "time": utc_iso(record.started),
        "identity": context.identity,
        "route": context.route,
        "server": record.server or None,
        "session": context.session or None,
        "transport": context.transport,
        "method": record.method,
    }
    target_field = TARGET_FIELD.get(record.method)
    if target_field is not None:
        line[target_field] = shown_target(record)
    line["outcome"] = record.outcome
    line["duration_ms"] = round(record.duration * 1000, 3)
    if record.outcome != "ok" and record.error:
        line["error"] = record.error
    if arguments != "none" and record.arguments is not None:
        if arguments == "full":
            line["arguments"] = record.arguments
        else:
            line["arguments_sha256"] = arguments_digest(record.arguments)
    return line


def arguments_digest(arguments: object) -> str:
    """SHA-256 (hex) of the canonical JSON of ``arguments``: keys sorted, no spaces, UTF-8."""
    return hashlib.sha256(orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


class AuditFile:
    """An append-only JSON-lines file rotated by size."""

    def __init__(self, path: str, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._fd = -1
        self._size = 0

    def open(self) -> None:
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise: the audit is private
            self._size = os.fstat(fd).st_size
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def write(self, data: bytes) -> None:
        if self._fd < 0:
            self.open()
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        os.write(self._fd, data)
        self._size += len(data)

    def _rotate(self) -> None:
        self.close()
        if self.backups:
            for number in range(self.backups - 1, 0, -1):
                older = f"{self.path}.{number}"
                if os.path.exists(older):
                    os.replace(older, f"{self.path}.{number + 1}")
            os.replace(self.path, f"{self.path}.1")
        else:
            os.remove(self.path)
        self.open()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class AuditTrail:
    """The ``CallObserver`` that writes the audit; ``config`` gives the running config."""

    def __init__(self, config: Callable[[], Config]) -> None:
        self._config = config
        self._spec: AuditConfig | None = None
        self._file: AuditFile | None = None
        self._failing = False

    def call_finished(self, record: CallRecord) -> None:
        if not audited(record):
            return
        spec = self._config().proxy.audit
        if spec is None:
            return
        if spec != self._spec:
            self._switch(spec)
        line = entry(record, spec.arguments)
        if self._file is None:
            target = line.get(TARGET_FIELD.get(record.method, ""))
            what = f" {target}" if target else ""
            log.info("%s%s: %s", record.method, what, record.outcome, extra=_log_fields(line))
            return
        try:
            self._file.write(orjson.dumps(line, default=str) + b"\n")
        except OSError as exc:
            if not self._failing:  # once per failure spell, not once per call
                problems.error("audit: cannot write %s: %s", self._file.path, exc.strerror or exc)
            self._failing = True
            return
        if self._failing:
            problems.warning("audit: writing %s again", self._file.path)
            self._failing = False

    def _switch(self, spec: AuditConfig) -> None:
        self.close()
        self._spec = spec
        if spec.file is not None:
            self._file = AuditFile(spec.file, spec.max_bytes, spec.backups)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _log_fields(line: dict[str, Any]) -> dict[str, Any]:
    """The audit line as log context fields (``ts`` of the log line stands for ``time``)."""
    fields = {key: value for key, value in line.items() if key != "time"}
    if "arguments" in fields:
        fields["arguments"] = orjson.dumps(fields["arguments"], default=str).decode()
    return fields
