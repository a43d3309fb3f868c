"""Load a config file (or URL) into ``Config``, reporting every problem with file and key path.

Accepted layouts: TBXark v2 (``mcpProxy`` + ``mcpServers``), TBXark v1 (``server`` + ``clients``)
and Claude-Desktop files (``mcpServers`` only). Options in ``mcpProxy.options`` are inherited by
each server unless the server sets its own (``authTokens: []`` opts a server out of auth).

Keys we add to TBXark's schema (new keys only, never new meanings):

    mcpProxy.options.allowedOrigins   browser origins allowed besides loopback and baseURL's host
    mcpServers.NAME.required          /readyz waits for this upstream
    mcpServers.NAME.sessionMode       "shared" (default) or "isolated" (one upstream link per session)
    mcpServers.NAME.maxSessions       cap on concurrent client sessions with it (isolated: default 100)
    mcpServers.NAME.idleTimeout       close sessions idle this long (default "30m")
    mcpServers.NAME.cwd               working directory of a stdio server
    mcpServers.NAME.protocolVersion   the revision to speak upstream ("2026-07-28": stateless)
    mcpProxy.separator                joins server and tool/prompt names on aggregated routes ("__")
    mcpProxy.aggregateTimeout         aggregated lists answer after this long at most ("5s")
    options.promptFilter / resourceFilter   like toolFilter, for prompt names and resource URIs
    groups.NAME                       named sets of servers served at /groups/NAME/… (config/groups.py)
    identities.NAME                   who is calling: tokens, servers, groups, tools, rateLimit, admin
                                      (config/identities.py)
    mcpServers.NAME.restart           {initialDelay, maxDelay, multiplier, jitter, maxAttempts}
    mcpServers.NAME.lazyStart         start on first use instead of with the gateway
    mcpServers.NAME.idleStop          stop the upstream after this long without traffic
    options.maxBodyBytes              largest client request body (global, per-server override)
    options.maxMessageBytes           largest message from an upstream (global, per-server override)
    mcpProxy.options.defaultTimeout   the timeout of servers that set none (default "60s")
    mcpProxy.options.maxSessions      cap on concurrent client sessions per route (default 1000)
    mcpProxy.options.shutdownGrace    time in-flight requests get to finish on SIGTERM (default "5s")
    mcpProxy.options.drainDelay       on SIGTERM, /readyz answers 503 this long first, while everything else
                                      is still served, so a balancer stops sending here (default "0s")
    mcpProxy.options.adminTokens      tokens for /status (default: the global authTokens)
    mcpProxy.options.metricsTokens    tokens for /metrics besides the admins' ([]: open; default: as /status)
    mcpProxy.options.allowedHosts     Host names served besides loopback, IP literals and baseURL's
    mcpProxy.options.maxSessionsPerClient  sessions one client (address + token) holds per route (100)
    mcpProxy.options.unusedSessionTimeout  a session that made no request after initialize ends ("60s")
    mcpProxy.options.maxQueuedMessages     messages waiting for one session (all its streams) at most (5000)
    mcpProxy.options.maxHeaderBytes   largest request line + headers, else 431 (default 65536)
    mcpProxy.options.headerTimeout    a request's headers must arrive within this long (default "10s")
    mcpProxy.options.maxConnections   client connections open at once, else 503 (default 2000)
    mcpProxy.options.oauth            OAuth 2.1 resource server: issuer, audience, jwksUri, scopes,
                                      identityClaim, identities (config/oauth.py)
    mcpProxy.options.logFormat        "text" (default) or "json" (config/observability.py)
    mcpProxy.options.audit            {file, maxBytes, backups, arguments}: the audit trail (ops/audit.py)
    mcpProxy.options.cors.origins     browser origins that may read MCP and /openapi/… answers ("*": any)
    options.pinTools                  hold a tool whose definition changed since it was pinned, until
                                      `mcp-central pins accept` (global, per-server override; false)
    options.pinNew                    "accept" (default: a new tool is pinned) or "quarantine" (held)
    mcpProxy.options.sessionStore     "memory" (default) or "redis://[:password@]host:port/db" (rediss://
                                      too): replicas share sessions through Redis (config/session_store.py)
    mcpProxy.options.readiness        what /readyz waits for: "required" (default: the upstreams marked
                                      required), "any" (one upstream ready) or "all" (every upstream)
    mcpServers.NAME.toolOverrides     {TOOL: {name, title, description, annotations}}: what clients see of
                                      the upstream's TOOL instead (also accepted in the server's options;
                                      default none; config/tool_overrides.py)
    mcpProxy.options.toolDiscovery    aggregated routes: "list" (default) every tool, or "search": three
                                      meta-tools (search_tools, describe_tool, call_tool); groups.NAME too
    mcpProxy.options.alwaysList       search mode: globs of tools still listed directly (default []);
                                      groups.NAME too (config/discovery.py)

Strictness beyond TBXark's (configs that would validate but do something else are refused):
duplicate keys anywhere, ``authTokens`` that are not a list of non-empty strings without
surrounding whitespace, and names that are not one safe URL path segment (config/names.py).
Messages show ``${VAR}`` values as written, never expanded (fields.shown).

Every section's keys (and their types, defaults and descriptions) are declared in config/keys.py,
which ``mcp-central schema`` turns into a JSON Schema; a new key goes there and in its reader.

Reading the text (a file or a config URL) and TBXark's v1 layout are in config/sources.py. This
module validates; it does not start anything.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mcp_central.config import keys, redact
from mcp_central.config.discovery import read_discovery
from mcp_central.config.expand import expand
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
    token_list,
    unknown,
)
from mcp_central.config.groups import read_groups
from mcp_central.config.identities import anonymous_tokens, read_identities
from mcp_central.config.model import (
    DEFAULT_AGGREGATE_TIMEOUT_SECONDS,
    DEFAULT_HEADER_TIMEOUT_SECONDS,
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_QUEUED_MESSAGES,
    DEFAULT_MAX_SESSIONS_PER_CLIENT,
    DEFAULT_ROUTE_MAX_SESSIONS,
    DEFAULT_SEPARATOR,
    DEFAULT_SHUTDOWN_GRACE_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    DEFAULT_UNUSED_SESSION_TIMEOUT_SECONDS,
    READINESS_POLICIES,
    Config,
    NameFilter,
    ProxyConfig,
    ServerConfig,
    ToolDiscovery,
    TransportKind,
)
from mcp_central.config.names import name_problem
from mcp_central.config.oauth import read_oauth
from mcp_central.config.observability import audit, log_format, resolve_audit_file
from mcp_central.config.session_store import session_store
from mcp_central.config.sources import from_v1, parse, read_source
from mcp_central.config.tool_overrides import read_tool_overrides
from mcp_central.core.pins import ACCEPT, PIN_NEW_CHOICES
from mcp_central.core.stateless import ALL_VERSIONS
from mcp_central.core.supervision import RestartPolicy
from mcp_central.errors import ConfigError

# The known keys of each section come from the declarative tables (config/keys.py), which the
# JSON Schema (config/schema.py) is generated from too: a key cannot be accepted here and unknown there.
TOP_LEVEL_KEYS = keys.TOP_LEVEL.names()
PROXY_KEYS = keys.PROXY.names()
GLOBAL_ONLY_OPTIONS = keys.GLOBAL_ONLY.names()
OPTION_KEYS = keys.PROXY_OPTIONS.names()
SEPARATOR_PATTERN = re.compile(keys.SEPARATOR_PATTERN)
RESTART_KEYS = keys.RESTART.names()
MIN_MESSAGE_BYTES = 1024
SERVER_KEYS = keys.SERVER.names()
STREAMABLE_NAMES = set(keys.STREAMABLE_NAMES)


def default_config() -> Config:
    """What ``serve`` runs with no config: the built-in demo upstream on 127.0.0.1:9090."""
    demo = ServerConfig(
        name="demo", transport="stdio", command=sys.executable, args=("-m", "mcp_central.demo")
    )
    return Config(proxy=ProxyConfig(), servers={"demo": demo}, source=None)


def load_config(
    source: str,
    *,
    expand_env: bool = True,
    insecure: bool = False,
    http_headers: str = "",
    http_timeout: float = 10.0,
) -> Config:
    """Read ``source`` (a path or an http(s) URL) and validate it; ``ConfigError`` lists every problem.

    Problems name a URL source with its userinfo and query values redacted (they may hold a token).
    """
    text = read_source(source, insecure=insecure, http_headers=http_headers, http_timeout=http_timeout)
    return load_config_text(text, source, expand_env=expand_env)


def load_config_text(
    text: str, source: str, *, expand_env: bool = True, environ: Mapping[str, str] | None = None
) -> Config:
    raw = parse(text, source)
    problems = Problems(redact.url(source))
    if expand_env:
        raw = expand(raw, os.environ if environ is None else environ, problems.unset_variable)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.add(key, f"unknown key (expected one of: {', '.join(sorted(TOP_LEVEL_KEYS))})")
    if "mcpServers" not in raw and "clients" in raw:
        proxy_raw, entries = from_v1(raw, problems)
    else:
        proxy_raw = raw.get("mcpProxy")
        entries = [
            (name, entry, f"mcpServers.{name}", f"mcpServers.{name}.options")
            for name, entry in as_object(raw.get("mcpServers", {}), "mcpServers", problems).items()
        ]
    proxy, inherited = _proxy(proxy_raw, problems)
    proxy = resolve_audit_file(proxy, source)
    servers = {}
    for name, entry, path, options_path in entries:
        server = _server(name, entry, path, options_path, inherited, problems)
        if server is not None:
            servers[name] = server
    groups = read_groups(
        raw.get("groups"),
        [name for name, *_ in entries],
        proxy.auth_tokens,
        lambda name: name_problem(name, "group"),
        lambda spec, path: _name_filter(spec, path, problems),
        problems,
    )
    identities = read_identities(
        raw.get("identities"),
        [name for name, *_ in entries],
        list(groups),
        anonymous_tokens(proxy, servers, groups),
        lambda spec, path: _name_filter(spec, path, problems),
        problems,
    )
    proxy_options = proxy_raw.get("options") if isinstance(proxy_raw, dict) else None
    if isinstance(proxy_options, dict) and "oauth" in proxy_options:
        oauth = read_oauth(proxy_options["oauth"], proxy.base_url, raw.get("identities"), problems)
        proxy = dataclasses.replace(proxy, oauth=oauth)
    if problems.items:
        raise ConfigError(problems.items)
    return Config(proxy=proxy, servers=servers, source=source, groups=groups, identities=identities)


# --------------------------------------------------------------------------- mcpProxy


def _proxy(raw: Any, problems: Problems) -> tuple[ProxyConfig, dict[str, Any]]:
    proxy = as_object(raw if raw is not None else {}, "mcpProxy", problems)
    unknown(proxy, PROXY_KEYS, "mcpProxy", problems)
    base_url = string(proxy, "baseURL", "mcpProxy", problems) or ""
    base_path, base_port = "", None
    if base_url:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.add("mcpProxy.baseURL", f"expected an http(s) URL with a host, got {shown(base_url)}")
        else:
            base_path = parts.path.rstrip("/")
            try:
                base_port = parts.port
            except ValueError:
                problems.add("mcpProxy.baseURL", f"invalid port in {shown(base_url)}")
    host, port = _addr(string(proxy, "addr", "mcpProxy", problems), base_port, problems)
    served_text = string(proxy, "type", "mcpProxy", problems) or "sse"
    served = served_text.lower()
    if served in STREAMABLE_NAMES:
        served = "streamable-http"
    elif served != "sse":
        problems.add("mcpProxy.type", f"expected 'sse' or 'streamable-http', got {shown(served_text)}")
        served = "sse"
    options = _options(proxy.get("options", {}), "mcpProxy.options", problems)
    origins = options.pop("allowedOrigins", ())
    admin_tokens = options.pop("adminTokens", None)
    metrics_tokens = options.pop("metricsTokens", None)
    separator = string(proxy, "separator", "mcpProxy", problems) or DEFAULT_SEPARATOR
    if not SEPARATOR_PATTERN.match(separator):
        problems.add(
            "mcpProxy.separator",
            f"expected 1 to 8 letters, digits, '_' or '-' (all a tool name may hold), got {shown(separator)}",
        )
        separator = DEFAULT_SEPARATOR
    global_only = {key: options.pop(key) for key in GLOBAL_ONLY_OPTIONS if key in options}
    config = ProxyConfig(
        base_url=base_url,
        host=host,
        port=port,
        base_path=base_path,
        name=string(proxy, "name", "mcpProxy", problems) or "mcp-central",
        version=string(proxy, "version", "mcpProxy", problems) or "",
        type="streamable-http" if served == "streamable-http" else "sse",
        auth_tokens=tuple(options.get("authTokens", ())),
        allowed_origins=tuple(origins),
        log_enabled=bool(options.get("logEnabled", False)),
        panic_if_invalid=bool(options.get("panicIfInvalid", False)),
        separator=separator,
        aggregate_timeout=duration(
            proxy, "aggregateTimeout", "mcpProxy", problems, DEFAULT_AGGREGATE_TIMEOUT_SECONDS
        ),
        default_timeout=global_only.get("defaultTimeout", DEFAULT_TIMEOUT_SECONDS),
        max_sessions=global_only.get("maxSessions", DEFAULT_ROUTE_MAX_SESSIONS),
        shutdown_grace=global_only.get("shutdownGrace", DEFAULT_SHUTDOWN_GRACE_SECONDS),
        drain_delay=global_only.get("drainDelay", 0.0),
        admin_tokens=admin_tokens,
        metrics_tokens=metrics_tokens,
        allowed_hosts=global_only.get("allowedHosts", ()),
        max_sessions_per_client=global_only.get("maxSessionsPerClient", DEFAULT_MAX_SESSIONS_PER_CLIENT),
        unused_session_timeout=global_only.get(
            "unusedSessionTimeout", DEFAULT_UNUSED_SESSION_TIMEOUT_SECONDS
        ),
        max_queued_messages=global_only.get("maxQueuedMessages", DEFAULT_MAX_QUEUED_MESSAGES),
        max_body_bytes=options.get("maxBodyBytes", DEFAULT_MAX_BODY_BYTES),
        max_message_bytes=options.get("maxMessageBytes", DEFAULT_MAX_MESSAGE_BYTES),
        max_header_bytes=global_only.get("maxHeaderBytes", DEFAULT_MAX_HEADER_BYTES),
        header_timeout=global_only.get("headerTimeout", DEFAULT_HEADER_TIMEOUT_SECONDS),
        max_connections=global_only.get("maxConnections", DEFAULT_MAX_CONNECTIONS),
        log_format=global_only.get("logFormat"),
        audit=global_only.get("audit"),
        cors_origins=global_only.get("cors", ()),
        readiness=global_only.get("readiness", "required"),
        session_store=global_only.get("sessionStore"),
        tool_discovery=global_only.get("toolDiscovery") or global_only.get("alwaysList") or ToolDiscovery(),
    )
    # Servers inherit the options and the default timeout, not the proxy-wide limits.
    return config, {**options, "defaultTimeout": config.default_timeout}


def _addr(addr: str | None, base_port: int | None, problems: Problems) -> tuple[str, int]:
    if not addr:
        return "127.0.0.1", base_port or 9090
    host, sep, port_text = addr.rpartition(":")
    if not sep:
        problems.add("mcpProxy.addr", f"expected 'host:port' or ':port', got {shown(addr)}")
        return "127.0.0.1", 9090
    host = host.strip("[]") or "0.0.0.0"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        problems.add("mcpProxy.addr", f"expected a port between 1 and 65535 in {shown(addr)}")
        return host, 9090
    return host, int(port_text)


# --------------------------------------------------------------------------- options


def _options(raw: Any, path: str, problems: Problems) -> dict[str, Any]:
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
            out[key] = _name_filter(options[key], f"{path}.{key}", problems)
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


def _name_filter(raw: Any, path: str, problems: Problems) -> NameFilter | None:
    spec = as_object(raw, path, problems)
    unknown(spec, keys.FILTER.names(), path, problems)
    mode = (string(spec, "mode", path, problems) or "").lower()
    patterns = string_list(spec, "list", path, problems)
    if mode not in ("allow", "block"):
        problems.add(f"{path}.mode", f"expected 'allow' or 'block', got {shown(spec.get('mode'))}")
        return None
    return NameFilter("allow" if mode == "allow" else "block", tuple(patterns))


# --------------------------------------------------------------------------- servers


def _server(
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
    own = _options(raw_options, options_path, problems)
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
