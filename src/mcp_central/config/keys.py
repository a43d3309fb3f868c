"""Every key config.json may hold, section by section: name, JSON Schema of its value, default and
description. The one list of keys: the readers (loader, options, servers, groups, identities, oauth,
observability) take their known-key sets from here for the ``unknown key`` check, and
``config.schema`` turns the same tables into the JSON Schema that ``mcp-central schema`` prints. A
key added to a reader but not here is reported as unknown; tests/test_config_schema.py keeps the
two honest.

One declarative table, read top to bottom as the file's own nesting (shared pieces first, then
``mcpProxy``, ``mcpServers``, ``groups``, ``identities`` and the top level): kept in one module so a
key's place is found by reading the file's outline; the vocabulary it is written in (``Key``,
``Section``, value schemas) is config/key_schema.py. Checks across keys (a group naming a server, a
token used twice, maxDelay ≥ initialDelay) stay in the readers. Pure data: imports no reader and no
model (model imports oauth, which reads its keys here).
"""

from __future__ import annotations

from typing import Any

from mcp_central.config.key_schema import (
    BOOLEAN,
    DURATION,
    HTTP_URL,
    NON_EMPTY_LIST,
    STRING,
    STRING_LIST,
    STRING_MAP,
    TOKEN_LIST,
    VARIABLE,
    Key,
    Section,
    by_name,
    choice,
    count,
    nullable,
    section_schema,
)
from mcp_central.config.names import NAME_PATTERN, RESERVED_NAMES
from mcp_central.core.stateless import ALL_VERSIONS

TOOL_DISCOVERY_MODES = ("list", "search")
DISCOVERY_KEYS = (
    Key(
        "toolDiscovery",
        nullable(choice(*TOOL_DISCOVERY_MODES)),
        'aggregated routes: "list" every tool, or "search": search_tools, describe_tool, call_tool',
        "list",
    ),
    Key(
        "alwaysList",
        NON_EMPTY_LIST,
        "search mode: globs of tools still listed directly (exposed or the server's own name)",
        [],
    ),
)
"""A group's, or ``mcpProxy.options``' for every group that sets none (``config.discovery``)."""


FILTER = Section(
    (
        Key(
            "mode",
            choice("allow", "block", any_case=True),
            "allow: keep only the listed names; block: drop them",
        ),
        Key("list", STRING_LIST, "names or globs (fnmatch)"),
    ),
    required=("mode",),
)
FILTER_SCHEMA = nullable(section_schema(FILTER, "a name filter: {mode: allow|block, list: [globs]}"))

RESTART = Section(
    (
        Key("initialDelay", DURATION, "first wait after a crash or failed start", "1s"),
        Key("maxDelay", DURATION, "longest wait between attempts", "60s"),
        Key("multiplier", {"type": "number", "minimum": 1, "maximum": 100}, "growth of the wait", 2),
        Key("jitter", {"type": "number", "minimum": 0, "maximum": 1}, "random fraction added", 0.1),
        Key("maxAttempts", nullable(count(1)), "give up after this many (default: never)"),
    )
)

CORS = Section(
    (Key("origins", NON_EMPTY_LIST, 'browser origins that may read /openapi/… answers ("*": any)'),)
)

LOG_FORMATS = ("text", "json")
READINESS_POLICIES = ("required", "any", "all")
"""``readiness``: as ``config.model.Readiness`` (this module imports no model)."""
AUDIT_ARGUMENT_MODES = ("none", "hash", "full")
AUDIT = Section(
    (
        Key(
            "file",
            {"type": ["string", "null"], "pattern": r"\S"},
            "audit file (relative: to config.json's folder)",
        ),
        Key("maxBytes", count(1024), "rotate the file at this size", 10 * 1024 * 1024),
        Key("backups", count(0), "rotated files kept", 5),
        Key(
            "arguments",
            nullable(choice(*AUDIT_ARGUMENT_MODES, empty=True)),
            "how call arguments are recorded",
            "none",
        ),
    )
)

OAUTH = Section(
    (
        Key("issuer", HTTP_URL, "the authorization server's issuer URL (required)"),
        Key(
            "audience",
            {"type": ["string", "null"], "pattern": r"\S"},
            "the aud tokens must carry (default: baseURL)",
        ),
        Key("jwksUri", HTTP_URL, "signing keys (default: from the issuer's metadata)"),
        Key(
            "requiredScopes",
            nullable({"type": "array", "items": {"type": "string", "pattern": r'^[^\s"]+$'}}),
            "scopes every token must carry",
        ),
        Key(
            "scopesSupported",
            nullable({"type": "array", "items": {"type": "string", "pattern": r'^[^\s"]+$'}}),
            "scopes advertised in the resource metadata (default: requiredScopes)",
        ),
        Key("identityClaim", STRING, "the claim naming the caller", "sub"),
        Key(
            "identities",
            nullable({"type": "object", "additionalProperties": {"type": "string", "pattern": r"\S"}}),
            "claim value (or glob) → identity name",
        ),
        Key("leeway", DURATION, "clock skew allowed on exp/nbf (at most 5m)", "30s"),
        Key("fetchTimeout", DURATION, "JWKS and metadata requests", "5s"),
    ),
    required=("issuer",),
)

OPTIONS = Section(
    (
        Key("logEnabled", BOOLEAN, "log each request", False),
        Key("panicIfInvalid", BOOLEAN, "exit when this upstream fails to start", False),
        Key("authTokens", TOKEN_LIST, "bearer tokens a client must send ([]: open)"),
        Key("toolFilter", FILTER_SCHEMA, "which tools are served"),
        Key("promptFilter", FILTER_SCHEMA, "which prompts are served"),
        Key("resourceFilter", FILTER_SCHEMA, "which resource URIs are served"),
        Key("disabled", BOOLEAN, "not started nor served", False),
        Key("maxBodyBytes", count(1024), "largest client request body", 4 * 1024 * 1024),
        Key("maxMessageBytes", count(1024), "largest message from an upstream", 32 * 1024 * 1024),
        Key("pinTools", BOOLEAN, "hold a tool whose definition changed since it was pinned", False),
        Key(
            "pinNew",
            nullable(choice("accept", "quarantine")),
            "a tool seen for the first time: pinned (accept) or held until accepted",
            "accept",
        ),
    )
)
"""Options a server may set for itself, inheriting the rest from ``mcpProxy.options``."""

GLOBAL_ONLY = Section(
    (
        Key("allowedOrigins", NON_EMPTY_LIST, "browser origins allowed besides loopback and baseURL's host"),
        Key("allowedHosts", NON_EMPTY_LIST, "Host names served besides loopback, IP literals and baseURL's"),
        Key("adminTokens", TOKEN_LIST, "tokens for /status (default: the global authTokens)"),
        Key("metricsTokens", TOKEN_LIST, "tokens for /metrics besides the admins' ([]: open)"),
        Key("defaultTimeout", DURATION, "the timeout of servers that set none", "60s"),
        Key("maxSessions", count(1), "concurrent client sessions per route", 1000),
        Key("maxSessionsPerClient", count(1), "sessions one client holds per route", 100),
        Key("unusedSessionTimeout", DURATION, "a session with no request after initialize ends", "60s"),
        Key("maxQueuedMessages", count(1), "messages waiting for one session", 5000),
        Key("shutdownGrace", DURATION, "time in-flight requests get on SIGTERM", "5s"),
        Key("drainDelay", DURATION, "on SIGTERM, /readyz answers 503 this long before the port closes", "0s"),
        Key("maxHeaderBytes", count(1024), "largest request line + headers (else 431)", 65536),
        Key("headerTimeout", DURATION, "a request's headers must arrive within this long", "10s"),
        Key("maxConnections", count(1), "client connections open at once (else 503)", 2000),
        Key("oauth", nullable(section_schema(OAUTH)), "OAuth 2.1 resource server (needs baseURL)"),
        Key("logFormat", nullable(choice(*LOG_FORMATS)), "the log's format (--log-format wins)", "text"),
        Key("audit", nullable(section_schema(AUDIT)), "the audit trail of calls"),
        Key("cors", section_schema(CORS), "CORS for the OpenAPI bridge"),
        Key(
            "sessionStore",
            {"type": ["string", "null"], "pattern": r"^memory$|^rediss?://|\$\{"},
            "where sessions live: memory (one replica) or redis://host:port/db (replicas share them)",
            "memory",
        ),
        Key(
            "readiness",
            choice(*READINESS_POLICIES),
            "when /readyz is 200: required (every required upstream ready), any, all",
            "required",
        ),
        *DISCOVERY_KEYS,
    )
)
"""Options only ``mcpProxy.options`` may set: they are the whole gateway's."""

PROXY_OPTIONS = OPTIONS.plus(*GLOBAL_ONLY.keys)

SEPARATOR_PATTERN = r"^[A-Za-z0-9_-]{1,8}$"
STREAMABLE_NAMES = ("streamable-http", "http", "streamablehttp", "streamable_http")
PROXY = Section(
    (
        Key("baseURL", HTTP_URL, "the URL clients reach the gateway at"),
        Key(
            "addr",
            {"type": ["string", "null"], "pattern": r"^(.*:\d+)?$|\$\{"},
            "listen address 'host:port' or ':port'",
            "127.0.0.1:9090",
        ),
        Key("name", STRING, "server name reported to clients", "mcp-central"),
        Key("version", STRING, "server version reported to clients"),
        Key(
            "type",
            nullable(choice("sse", *STREAMABLE_NAMES, any_case=True, empty=True)),
            "the transport the legacy /NAME/ route speaks",
            "sse",
        ),
        Key(
            "options",
            section_schema(PROXY_OPTIONS),
            "options for the gateway; servers inherit the server ones",
        ),
        Key(
            "separator",
            {"type": ["string", "null"], "pattern": rf"{SEPARATOR_PATTERN}|^$|\$\{{"},
            "joins server and tool names on aggregated routes",
            "__",
        ),
        Key("aggregateTimeout", DURATION, "aggregated lists answer after this long at most", "5s"),
    )
)

TOOL_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
"""A tool name clients accept (``config.tool_overrides.TOOL_NAME_PATTERN`` checks the same)."""
ANNOTATIONS = Section(
    (
        Key("title", STRING, "a human-readable title (null: remove)"),
        Key("readOnlyHint", BOOLEAN, "the tool changes nothing (null: remove)"),
        Key("destructiveHint", BOOLEAN, "it may destroy or overwrite (null: remove)"),
        Key("idempotentHint", BOOLEAN, "calling it twice does no more than once (null: remove)"),
        Key("openWorldHint", BOOLEAN, "it reaches outside systems (null: remove)"),
    )
)
TOOL_OVERRIDE = Section(
    (
        Key(
            "name",
            {"anyOf": [{"type": "string", "pattern": TOOL_NAME_PATTERN}, VARIABLE, {"type": "null"}]},
            "the name clients see and call (1-64 of A-Z a-z 0-9 _ - .)",
        ),
        Key("title", STRING, "replaces the tool's title"),
        Key("description", STRING, "replaces the tool's description"),
        Key(
            "annotations",
            nullable(section_schema(ANNOTATIONS)),
            "merged into the tool's annotations, key by key",
        ),
    ),
    extra={"minProperties": 1},
)
TOOL_OVERRIDES: dict[str, Any] = nullable(
    {
        "type": "object",
        "additionalProperties": section_schema(TOOL_OVERRIDE, "what clients see of this tool"),
    }
)
"""``toolOverrides``: upstream tool name → its override (``config.tool_overrides``)."""
SERVER_OPTIONS = OPTIONS.plus(
    Key("toolOverrides", TOOL_OVERRIDES, "like mcpServers.NAME.toolOverrides (set it in one place)")
)
"""A server's ``options``: the inheritable ones, and its own ``toolOverrides`` (TBXark files keep
per-server settings there)."""

_HARMLESS = "carried by Claude Desktop, VS Code and Cursor files"
SERVER = Section(
    (
        Key(
            "transportType",
            nullable(choice("stdio", "sse", *STREAMABLE_NAMES, any_case=True, empty=True)),
            "stdio, sse or streamable-http (default: stdio with command, sse with url)",
        ),
        Key(
            "type",
            nullable(choice("stdio", "sse", *STREAMABLE_NAMES, any_case=True, empty=True)),
            "like transportType",
        ),
        Key("command", STRING, "the program of a stdio server"),
        Key("args", STRING_LIST, "its arguments"),
        Key("env", STRING_MAP, "its environment (besides the gateway's)"),
        Key("cwd", STRING, "its working directory"),
        Key("url", HTTP_URL, "the URL of an SSE or streamable-HTTP server"),
        Key("headers", STRING_MAP, "HTTP headers sent to it"),
        Key("timeout", DURATION, "a request to it may take this long (default: defaultTimeout)"),
        Key("options", section_schema(SERVER_OPTIONS), "this server's options (others inherited)"),
        Key("required", BOOLEAN, "/readyz waits for this upstream", False),
        Key(
            "sessionMode",
            nullable(choice("shared", "isolated", empty=True)),
            "one upstream link, or one per session",
            "shared",
        ),
        Key("maxSessions", count(1), "cap on concurrent client sessions with it"),
        Key("idleTimeout", DURATION, "close client sessions idle this long", "30m"),
        Key("restart", section_schema(RESTART), "the backoff schedule after a crash"),
        Key("lazyStart", BOOLEAN, "start on first use", False),
        Key("idleStop", DURATION, "stop the upstream after this long without traffic"),
        Key("protocolVersion", nullable(choice(*ALL_VERSIONS)), "the MCP revision to speak upstream"),
        Key("toolOverrides", TOOL_OVERRIDES, "rename tools, rewrite their title, description, annotations"),
        Key("description", {}, _HARMLESS),
        Key("disabled", {}, f"{_HARMLESS} (true: not served)"),
        Key("enabled", {}, f"{_HARMLESS} (false: not served)"),
        Key("autoApprove", {}, _HARMLESS),
        Key("alwaysAllow", {}, _HARMLESS),
    ),
    extra={"anyOf": [{"required": ["command"]}, {"required": ["url"]}]},
)

GROUP = Section(
    (
        Key(
            "servers",
            {"type": "array", "items": {"type": "string"}},
            "names of the servers it serves (all: every)",
        ),
        Key("authTokens", TOKEN_LIST, "its tokens (default: the global ones)"),
        Key("toolFilter", FILTER_SCHEMA, "on top of each member's own"),
        Key("promptFilter", FILTER_SCHEMA, "on top of each member's own"),
        Key("resourceFilter", FILTER_SCHEMA, "on top of each member's own"),
        *DISCOVERY_KEYS,
        Key("description", {}, "free text"),
    )
)

RATE_LIMIT = Section(
    (
        Key("requests", count(1), "requests allowed per 'per'"),
        Key("per", DURATION, "the period", "1m"),
    ),
    required=("requests",),
)
IDENTITY_NAME_PATTERN = r"^[A-Za-z0-9_-](?:[A-Za-z0-9@+._-]{0,62}[A-Za-z0-9_-])?$"
NAME_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
IDENTITY = Section(
    (
        Key("tokens", TOKEN_LIST, "its bearer tokens (each names this identity only)"),
        Key("servers", NAME_LIST, "servers it may use: names or globs (absent: all)"),
        Key("groups", NAME_LIST, "groups it may use: names or globs (absent: all)"),
        Key("tools", FILTER_SCHEMA, "which tools it may call"),
        Key("rateLimit", nullable(section_schema(RATE_LIMIT)), "requests per period"),
        Key("admin", BOOLEAN, "may read /status and the dashboard", False),
        Key("description", {}, "free text"),
    )
)

_SERVER_NAMES = {"pattern": NAME_PATTERN.pattern, "not": {"enum": sorted(RESERVED_NAMES)}}
TOP_LEVEL = Section(
    (
        Key("$schema", {}, "this file's JSON Schema, for editors (mcp-central schema > config.schema.json)"),
        Key("mcpProxy", nullable(section_schema(PROXY)), "the gateway"),
        Key(
            "mcpServers",
            by_name(
                section_schema(SERVER),
                NAME_PATTERN.pattern,
                "upstream servers by name",
                **{"not": _SERVER_NAMES["not"]},
            ),
            "upstream servers by name",
        ),
        Key(
            "groups",
            nullable(by_name(section_schema(GROUP), NAME_PATTERN.pattern, "groups by name")),
            "named sets of servers served at /groups/NAME/…",
        ),
        Key(
            "identities",
            nullable(by_name(section_schema(IDENTITY), IDENTITY_NAME_PATTERN, "identities by name")),
            "who is calling, and what they may use",
        ),
        Key("server", {"type": "object"}, "TBXark v1 layout (legacy): the gateway"),
        Key("clients", {"type": "object"}, "TBXark v1 layout (legacy): servers by name"),
    )
)
