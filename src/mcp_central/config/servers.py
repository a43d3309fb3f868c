"""Read one ``mcpServers.NAME`` entry into a ``ServerConfig``: transport, timeouts, restart policy.

The server's own ``options`` (read by config/options.py) are laid over those it inherits from
``mcpProxy.options``; ``toolOverrides`` are the server's own, never inherited. This module does not
read the proxy section, groups or identities, and does not decide which servers run (the loader
and ``disabled`` do).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mcp_central.config import keys
from mcp_central.config.fields import (
    Problems,
    as_object,
    boolean,
    count,
    duration,
    shown,
    string,
    string_list,
    string_map,
    unknown,
)
from mcp_central.config.model import (
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    ServerConfig,
    TransportKind,
)
from mcp_central.config.names import name_problem
from mcp_central.config.options import read_options
from mcp_central.config.tool_overrides import read_tool_overrides
from mcp_central.core.pins import ACCEPT
from mcp_central.core.stateless import ALL_VERSIONS
from mcp_central.core.supervision import RestartPolicy

SERVER_KEYS = keys.SERVER.names()
GLOBAL_ONLY_OPTIONS = keys.GLOBAL_ONLY.names()
RESTART_KEYS = keys.RESTART.names()
STREAMABLE_NAMES = set(keys.STREAMABLE_NAMES)


def read_server(
    name: str, raw: Any, path: str, options_path: str, inherited: dict[str, Any], problems: Problems
) -> ServerConfig | None:
    name_error = name_problem(name)
    if name_error is not None:
        problems.add(path, name_error)
    entry = as_object(raw, path, problems)
    unknown(entry, SERVER_KEYS, path, problems)
    raw_options = entry.get("options", {})
    in_options = isinstance(raw_options, dict) and "toolOverrides" in raw_options
    if in_options:  # a server's own, never inherited: read here, not with the inheritable options
        raw_options = {key: value for key, value in raw_options.items() if key != "toolOverrides"}
    own = read_options(raw_options, options_path, problems)
    for key in sorted(GLOBAL_ONLY_OPTIONS & own.keys()):
        problems.add(f"{options_path}.{key}", "is a proxy-wide option: set it in mcpProxy.options")
    options = {**inherited, **own}
    disabled = bool(options.get("disabled", False))
    if entry.get("disabled") is True or entry.get("enabled") is False:
        disabled = True

    kind_text = string(entry, "transportType", path, problems) or string(entry, "type", path, problems) or ""
    kind = kind_text.lower()
    command = string(entry, "command", path, problems)
    url = string(entry, "url", path, problems)
    transport: TransportKind
    if command or kind == "stdio":
        transport = "stdio"
        if not command:
            problems.add(f"{path}.command", "is required for a stdio server")
    elif url:
        transport = "streamable-http" if kind in STREAMABLE_NAMES else "sse"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.add(f"{path}.url", f"expected an http(s) URL with a host, got {shown(url)}")
    else:
        problems.add(
            path, "needs either 'command' (a stdio server) or 'url' (an SSE or streamable-HTTP server)"
        )
        return None
    if kind and kind != "stdio" and kind != "sse" and kind not in STREAMABLE_NAMES:
        problems.add(
            f"{path}.transportType", f"expected 'stdio', 'sse' or 'streamable-http', got {shown(kind_text)}"
        )

    timeout = duration(
        entry, "timeout", path, problems, options.get("defaultTimeout", DEFAULT_TIMEOUT_SECONDS)
    )
    idle_timeout = duration(entry, "idleTimeout", path, problems, DEFAULT_IDLE_TIMEOUT_SECONDS)
    max_sessions = count(entry, "maxSessions", path, problems, 1) if "maxSessions" in entry else None
    idle_stop = duration(entry, "idleStop", path, problems, 0.0) if "idleStop" in entry else None
    restart = _restart(entry["restart"], f"{path}.restart", problems) if "restart" in entry else None
    session_mode = string(entry, "sessionMode", path, problems) or "shared"
    if session_mode not in ("shared", "isolated"):
        problems.add(f"{path}.sessionMode", f"expected 'shared' or 'isolated', got {shown(session_mode)}")
        session_mode = "shared"
    args = tuple(string_list(entry, "args", path, problems))
    overrides = read_tool_overrides(entry.get("toolOverrides"), f"{path}.toolOverrides", problems)
    if in_options:
        if entry.get("toolOverrides") is not None:
            problems.add(f"{options_path}.toolOverrides", f"is also set in {path}.toolOverrides: keep one")
        path_in_options = f"{options_path}.toolOverrides"
        overrides = read_tool_overrides(entry["options"]["toolOverrides"], path_in_options, problems)
    return ServerConfig(
        name=name,
        transport=transport,
        command=command,
        args=args,
        env=string_map(entry, "env", path, problems),
        cwd=string(entry, "cwd", path, problems),
        url=url,
        headers=string_map(entry, "headers", path, problems),
        timeout=timeout,
        auth_tokens=tuple(options.get("authTokens", ())),
        tool_filter=options.get("toolFilter"),
        prompt_filter=options.get("promptFilter"),
        resource_filter=options.get("resourceFilter"),
        log_enabled=bool(options.get("logEnabled", False)),
        panic_if_invalid=bool(options.get("panicIfInvalid", False)),
        disabled=disabled,
        required=bool(boolean(entry, "required", path, problems)),
        session_mode="isolated" if session_mode == "isolated" else "shared",
        max_sessions=max_sessions,
        idle_timeout=idle_timeout,
        restart=restart or RestartPolicy(),
        protocol_version=_protocol_version(entry, path, problems),
        lazy_start=bool(boolean(entry, "lazyStart", path, problems)),
        idle_stop=idle_stop,
        max_body_bytes=options.get("maxBodyBytes", DEFAULT_MAX_BODY_BYTES),
        max_message_bytes=options.get("maxMessageBytes", DEFAULT_MAX_MESSAGE_BYTES),
        pin_tools=bool(options.get("pinTools", False)),
        pin_new=options.get("pinNew", ACCEPT),
        tool_overrides=overrides,
    )


def _restart(raw: Any, path: str, problems: Problems) -> RestartPolicy:
    """``restart``: the backoff schedule after a crash or a failed start; absent keys keep defaults."""
    default = RestartPolicy()
    spec = as_object(raw, path, problems)
    unknown(spec, RESTART_KEYS, path, problems)
    initial = duration(spec, "initialDelay", path, problems, default.initial_delay)
    maximum = duration(spec, "maxDelay", path, problems, max(default.max_delay, initial))
    if maximum < initial:
        problems.add(f"{path}.maxDelay", f"must not be shorter than initialDelay ({initial:g}s)")
    multiplier, jitter = spec.get("multiplier", default.multiplier), spec.get("jitter", default.jitter)
    if isinstance(multiplier, bool) or not isinstance(multiplier, int | float) or not 1 <= multiplier <= 100:
        problems.add(f"{path}.multiplier", f"expected a number from 1 to 100, got {shown(multiplier)}")
        multiplier = default.multiplier
    if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
        problems.add(f"{path}.jitter", f"expected a fraction from 0 to 1, got {shown(jitter)}")
        jitter = default.jitter
    attempts = spec.get("maxAttempts")
    if attempts is not None:
        attempts = count(spec, "maxAttempts", path, problems, 1)
    return RestartPolicy(initial, maximum, float(multiplier), float(jitter), attempts)


def _protocol_version(entry: dict[str, Any], path: str, problems: Problems) -> str | None:
    version = string(entry, "protocolVersion", path, problems)
    if version is not None and version not in ALL_VERSIONS:
        expected = ", ".join(ALL_VERSIONS)
        problems.add(f"{path}.protocolVersion", f"expected one of {expected}, got {shown(version)}")
        return None
    return version
