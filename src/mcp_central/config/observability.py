"""The logging keys of ``mcpProxy.options``: ``logFormat`` and ``audit``.

    logFormat   "text" (default) or "json": the format of the gateway's log (``--log-format`` wins)
    audit       {"file": path, "maxBytes": 10485760, "backups": 5, "arguments": "none"|"hash"|"full"}

Validation only, problems collected like the loader's others; the audit file is neither opened
nor created here (``ops.audit`` does that), and a relative ``file`` is resolved against the
config file's folder by ``resolve_audit_file``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from mcp_central.config.fields import Problems, as_object, count, shown, string, unknown
from mcp_central.config.keys import AUDIT, AUDIT_ARGUMENT_MODES, LOG_FORMATS
from mcp_central.config.model import (
    DEFAULT_AUDIT_BACKUPS,
    DEFAULT_AUDIT_MAX_BYTES,
    AuditConfig,
    LogFormat,
    ProxyConfig,
)

AUDIT_KEYS = AUDIT.names()
ARGUMENT_MODES = AUDIT_ARGUMENT_MODES
MIN_AUDIT_BYTES = 1024
"""Smaller than one audit line or two: every line would rotate the file."""


def log_format(options: dict[str, Any], path: str, problems: Problems) -> LogFormat | None:
    text = string(options, "logFormat", path, problems)
    if text is None:
        return None
    if text not in LOG_FORMATS:
        problems.add(f"{path}.logFormat", f"expected 'text' or 'json', got {shown(text)}")
        return None
    return "json" if text == "json" else "text"


def audit(raw: Any, path: str, problems: Problems) -> AuditConfig | None:
    """``audit`` as written (``file`` not resolved yet); ``None`` after a problem."""
    spec = as_object(raw, path, problems)
    unknown(spec, AUDIT_KEYS, path, problems)
    before = len(problems.items)
    file = string(spec, "file", path, problems)
    if file is not None and not file.strip():
        problems.add(f"{path}.file", "is empty: leave it out to write the audit lines to the log")
    max_bytes = count(spec, "maxBytes", path, problems, MIN_AUDIT_BYTES) if "maxBytes" in spec else None
    backups = count(spec, "backups", path, problems, 0) if "backups" in spec else None
    arguments = string(spec, "arguments", path, problems) or "none"
    if arguments not in ARGUMENT_MODES:
        problems.add(f"{path}.arguments", f"expected 'none', 'hash' or 'full', got {shown(arguments)}")
    if len(problems.items) > before:
        return None
    return AuditConfig(
        file=file,
        max_bytes=DEFAULT_AUDIT_MAX_BYTES if max_bytes is None else max_bytes,
        backups=DEFAULT_AUDIT_BACKUPS if backups is None else backups,
        arguments="hash" if arguments == "hash" else "full" if arguments == "full" else "none",
    )


def resolve_audit_file(proxy: ProxyConfig, source: str) -> ProxyConfig:
    """``proxy`` with a relative audit ``file`` made absolute against ``source``'s folder (the
    working directory for a config read from a URL)."""
    spec = proxy.audit
    if spec is None or spec.file is None or os.path.isabs(spec.file):
        return proxy
    local = "://" not in source
    folder = os.path.dirname(os.path.abspath(source)) if local else os.getcwd()
    file = os.path.normpath(os.path.join(folder, spec.file))
    return dataclasses.replace(proxy, audit=dataclasses.replace(spec, file=file))
