"""Read an ``options`` block: ``mcpProxy.options`` and each server's own (TBXark's inheritance).

The same keys are accepted in both places; ``read_options`` returns only those present, so the
loader can lay a server's own over the inherited ones. ``name_filter`` reads a
``toolFilter``-shaped object, also for groups and identities. Which options are proxy-wide only,
and what a server makes of the merged options, is decided by the loader and config/servers.py;
this module does not build ``ProxyConfig`` or ``ServerConfig``.
"""

from __future__ import annotations

from typing import Any

from mcp_central.config import keys
from mcp_central.config.discovery import read_discovery
from mcp_central.config.fields import (
    Problems,
    as_object,
    boolean,
    count,
    duration,
    shown,
    string,
    string_list,
    token_list,
    unknown,
)
from mcp_central.config.model import READINESS_POLICIES, NameFilter
from mcp_central.config.observability import audit, log_format
from mcp_central.config.session_store import session_store
from mcp_central.core.pins import PIN_NEW_CHOICES

OPTION_KEYS = keys.PROXY_OPTIONS.names()
MIN_MESSAGE_BYTES = 1024


def read_options(raw: Any, path: str, problems: Problems) -> dict[str, Any]:
    """Only the options present in ``raw``, so absent ones can be inherited."""
    options = as_object(raw, path, problems)
    unknown(options, OPTION_KEYS, path, problems)
    out: dict[str, Any] = {}
    for key in ("logEnabled", "panicIfInvalid", "disabled", "pinTools"):
        if key in options:
            flag = boolean(options, key, path, problems)
            if flag is not None:
                out[key] = flag
    for key in ("authTokens", "adminTokens", "metricsTokens"):
        if key in options:
            tokens = token_list(options, key, path, problems)
            if tokens is not None:
                out[key] = tokens
    for key in ("allowedOrigins", "allowedHosts"):
        if key in options:
            values = string_list(options, key, path, problems)
            for index, text in enumerate(values):
                if not text.strip():
                    problems.add(f"{path}.{key}[{index}]", "is empty: it would match nothing useful")
            out[key] = tuple(values)
    if "cors" in options:
        cors = as_object(options["cors"], f"{path}.cors", problems)
        unknown(cors, keys.CORS.names(), f"{path}.cors", problems)
        origins = string_list(cors, "origins", f"{path}.cors", problems)
        for index, text in enumerate(origins):
            if not text.strip():
                problems.add(f"{path}.cors.origins[{index}]", "is empty: it would match nothing useful")
        out["cors"] = tuple(origins)
    if options.get("pinNew") is not None:
        pin_new = string(options, "pinNew", path, problems)
        if pin_new in PIN_NEW_CHOICES:
            out["pinNew"] = str(pin_new)
        elif pin_new is not None:
            problems.add(f"{path}.pinNew", f"expected 'accept' or 'quarantine', got {shown(pin_new)}")
    for key in ("toolFilter", "promptFilter", "resourceFilter"):
        if options.get(key) is not None:
            out[key] = name_filter(options[key], f"{path}.{key}", problems)
    for key, least in (("maxBodyBytes", MIN_MESSAGE_BYTES), ("maxMessageBytes", MIN_MESSAGE_BYTES)):
        if key in options:
            out[key] = count(options, key, path, problems, least)
    for key, least in (
        ("maxSessions", 1), ("maxSessionsPerClient", 1), ("maxQueuedMessages", 1), ("maxConnections", 1),
        ("maxHeaderBytes", MIN_MESSAGE_BYTES),
    ):  # fmt: skip
        if key in options:
            out[key] = count(options, key, path, problems, least)
    for key in ("defaultTimeout", "shutdownGrace", "unusedSessionTimeout", "headerTimeout"):
        if key in options:
            out[key] = duration(options, key, path, problems, 1.0)
    if "drainDelay" in options:
        out["drainDelay"] = duration(options, "drainDelay", path, problems, 0.0)
    if "oauth" in options:
        out["oauth"] = options["oauth"]  # as written: read by config/oauth.py, once the rest is known
    if "logFormat" in options:
        out["logFormat"] = log_format(options, path, problems)
    if "readiness" in options:
        policy = options["readiness"]
        if policy in READINESS_POLICIES:
            out["readiness"] = policy
        else:
            expected = ", ".join(f"'{name}'" for name in READINESS_POLICIES)
            problems.add(f"{path}.readiness", f"expected one of {expected}, got {shown(policy)}")
    if options.get("audit") is not None:
        out["audit"] = audit(options["audit"], f"{path}.audit", problems)
    if "sessionStore" in options:
        out["sessionStore"] = session_store(options, path, problems)
    if (discovery := read_discovery(options, path, problems)) is not None:
        for key in ("toolDiscovery", "alwaysList"):  # read together; each named if a server sets it
            if key in options:
                out[key] = discovery
    return out


def name_filter(raw: Any, path: str, problems: Problems) -> NameFilter | None:
    spec = as_object(raw, path, problems)
    unknown(spec, keys.FILTER.names(), path, problems)
    mode = (string(spec, "mode", path, problems) or "").lower()
    patterns = string_list(spec, "list", path, problems)
    if mode not in ("allow", "block"):
        problems.add(f"{path}.mode", f"expected 'allow' or 'block', got {shown(spec.get('mode'))}")
        return None
    return NameFilter("allow" if mode == "allow" else "block", tuple(patterns))
