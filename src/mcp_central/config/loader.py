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

Reading the text (a file or a config URL) and TBXark's v1 layout are in config/sources.py; an
``options`` block (proxy-wide or a server's) is read by config/options.py, one ``mcpServers`` entry
by config/servers.py. This module holds the top-level flow and the ``mcpProxy`` section; it
validates and does not start anything.
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
from mcp_central.config.expand import expand
from mcp_central.config.fields import Problems, as_object, duration, shown, string, unknown
from mcp_central.config.groups import read_groups
from mcp_central.config.identities import anonymous_tokens, read_identities
from mcp_central.config.model import (
    DEFAULT_AGGREGATE_TIMEOUT_SECONDS,
    DEFAULT_HEADER_TIMEOUT_SECONDS,
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
    Config,
    ProxyConfig,
    ServerConfig,
    ToolDiscovery,
)
from mcp_central.config.names import name_problem
from mcp_central.config.oauth import read_oauth
from mcp_central.config.observability import resolve_audit_file
from mcp_central.config.options import name_filter, read_options
from mcp_central.config.servers import read_server
from mcp_central.config.sources import from_v1, parse, read_source
from mcp_central.errors import ConfigError

# The known keys of each section come from the declarative tables (config/keys.py), which the
# JSON Schema (config/schema.py) is generated from too: a key cannot be accepted here and unknown there.
TOP_LEVEL_KEYS = keys.TOP_LEVEL.names()
PROXY_KEYS = keys.PROXY.names()
GLOBAL_ONLY_OPTIONS = keys.GLOBAL_ONLY.names()
SEPARATOR_PATTERN = re.compile(keys.SEPARATOR_PATTERN)
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
        server = read_server(name, entry, path, options_path, inherited, problems)
        if server is not None:
            servers[name] = server
    groups = read_groups(
        raw.get("groups"),
        [name for name, *_ in entries],
        proxy.auth_tokens,
        lambda name: name_problem(name, "group"),
        lambda spec, path: name_filter(spec, path, problems),
        problems,
    )
    identities = read_identities(
        raw.get("identities"),
        [name for name, *_ in entries],
        list(groups),
        anonymous_tokens(proxy, servers, groups),
        lambda spec, path: name_filter(spec, path, problems),
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
    options = read_options(proxy.get("options", {}), "mcpProxy.options", problems)
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
