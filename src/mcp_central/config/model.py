"""The resolved configuration every other layer reads.

These are plain frozen dataclasses: the loader (``config.loader``) turns any accepted file layout
(TBXark v2 ``mcpProxy``/``mcpServers``, TBXark v1 ``server``/``clients``, Claude-Desktop
``mcpServers`` only) into exactly this shape, with inheritance from the global options already
applied. Nothing here reads files or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mcp_central.config.oauth import OAuthConfig
from mcp_central.config.redact import upstream as describe_upstream
from mcp_central.config.tool_overrides import ToolOverride
from mcp_central.core.supervision import RestartPolicy

TransportKind = Literal["stdio", "sse", "streamable-http"]
SessionMode = Literal["shared", "isolated"]
FilterMode = Literal["allow", "block"]

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_ADDR = "127.0.0.1:9090"
DEFAULT_MAX_SESSIONS = 100
DEFAULT_IDLE_TIMEOUT_SECONDS = 1800.0
DEFAULT_SEPARATOR = "__"
DEFAULT_AGGREGATE_TIMEOUT_SECONDS = 5.0
ALL_GROUP = "all"
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024
DEFAULT_ROUTE_MAX_SESSIONS = 1000
DEFAULT_SHUTDOWN_GRACE_SECONDS = 5.0
DEFAULT_MAX_SESSIONS_PER_CLIENT = 100
DEFAULT_UNUSED_SESSION_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_QUEUED_MESSAGES = 5000
"""Messages waiting for one session, all its streams together: room for a burst of 2000 on its GET
stream (what one stream held before the bound was per session) with its replies beside it."""
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_CONNECTIONS = 2000
"""Room for ``maxSessions`` (1000) clients holding two connections each (a POST and a stream); with
its upstream margin it fits a hard open-file limit of 4096, and 2000 request heads at the 64 KiB
limit are 128 MiB at worst."""
DEFAULT_AUDIT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_AUDIT_BACKUPS = 5
LogFormat = Literal["text", "json"]
Readiness = Literal["required", "any", "all"]
READINESS_POLICIES: tuple[Readiness, ...] = ("required", "any", "all")
AuditArguments = Literal["none", "hash", "full"]


@dataclass(frozen=True)
class NameFilter:
    """TBXark's ``toolFilter``: ``allow`` keeps only the listed names, ``block`` drops them.

    Patterns are shell-style globs (``fnmatch``); a plain name matches itself.
    """

    mode: FilterMode
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class ServerConfig:
    """One ``mcpServers`` entry, with the global options it inherits already merged in."""

    name: str
    transport: TransportKind
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    """Seconds a request to this upstream may take before it is answered with an error."""
    auth_tokens: tuple[str, ...] = ()
    """Bearer tokens accepted on this server's routes; empty means the routes are open."""
    tool_filter: NameFilter | None = None
    prompt_filter: NameFilter | None = None
    """Like ``tool_filter``, matched against prompt names."""
    resource_filter: NameFilter | None = None
    """Like ``tool_filter``, matched against resource URIs and resource-template URI templates."""
    log_enabled: bool = False
    panic_if_invalid: bool = False
    disabled: bool = False
    required: bool = False
    """``/readyz`` reports not-ready while a required upstream is not ready."""
    session_mode: SessionMode = "shared"
    max_sessions: int | None = None
    """At most this many client sessions with this upstream at once (``session_cap``)."""
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS
    """A streamable-HTTP session with nothing in flight and no open stream for this long is closed."""
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    """When to restart it after a crash or a failed start (``upstream.supervisor``)."""
    protocol_version: str | None = None
    """``protocolVersion``: the revision to ask the upstream for; ``"2026-07-28"`` skips ``initialize``
    (a stateless upstream). Unset: ``initialize`` at the newest, ``server/discover`` if refused."""
    lazy_start: bool = False
    """Start it when the first client needs it, not with the gateway."""
    idle_stop: float | None = None
    """Stop it after this many seconds without traffic, subscriptions or requests in flight."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Largest request body a client may POST to this server's routes."""
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Largest single message accepted from the upstream (a stdio line, an HTTP body or SSE event)."""
    pin_tools: bool = False
    """``pinTools``: hold a tool whose definition changed since it was pinned (``core.pins``)."""
    pin_new: str = "accept"
    """``pinNew``: a tool seen for the first time is pinned (``accept``) or held (``quarantine``)."""
    tool_overrides: tuple[ToolOverride, ...] = ()
    """``toolOverrides``: what clients see of its tools instead (``core.tool_overrides`` applies them)."""
    display: str = field(default="", init=False, compare=False)
    """What logs and ``/status`` may show of the upstream: the command line with every part that
    came from a ``${VAR}`` as written (``--api-key=${API_KEY}``), or the URL with userinfo and
    query values as ``***``. Never header or ``env`` values. Derived from the fields above, so a
    ``dataclasses.replace`` copy describes itself, not its original."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "display", describe_upstream(self.command, self.args, self.url))

    @property
    def session_cap(self) -> int | None:
        """``maxSessions`` as set; isolated servers default to 100 (each session is a process)."""
        if self.max_sessions is None and self.session_mode == "isolated":
            return DEFAULT_MAX_SESSIONS
        return self.max_sessions


@dataclass(frozen=True)
class AuditConfig:
    """``mcpProxy.options.audit``: one JSON line per call, refusal and admin read (``ops.audit``)."""

    file: str | None = None
    """Where the lines go (absolute: the loader resolves it against the config file's folder);
    ``None``: to the log, as logger ``mcp_central.audit``."""
    max_bytes: int = DEFAULT_AUDIT_MAX_BYTES
    """The file is rotated (``file.1`` … ``file.N``) before it would grow past this."""
    backups: int = DEFAULT_AUDIT_BACKUPS
    arguments: AuditArguments = "none"
    """``hash``: the SHA-256 of the arguments' canonical JSON; ``full``: the arguments themselves."""


@dataclass(frozen=True)
class ToolDiscovery:
    """``toolDiscovery`` + ``alwaysList`` of an aggregated route (``core.discovery``)."""

    mode: Literal["list", "search"] = "list"
    """``list``: ``tools/list`` shows every tool; ``search``: three meta-tools that search, describe
    and call them."""
    always_list: tuple[str, ...] = ()
    """Globs of tools a search-mode route still lists directly (exposed or the member's own name)."""

    @property
    def search(self) -> bool:
        return self.mode == "search"


@dataclass(frozen=True)
class ProxyConfig:
    """``mcpProxy``: where and how mcp-central itself serves."""

    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = 9090
    base_path: str = ""
    """Path prefix of every route, from ``baseURL`` (``""`` or ``"/prefix"``, never a trailing slash)."""
    name: str = "mcp-central"
    version: str = ""
    type: Literal["sse", "streamable-http"] = "sse"
    """TBXark's served transport; we serve both, so this only picks what generated client configs use."""
    auth_tokens: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    """Extra browser origins allowed besides loopback and ``baseURL``'s own; ``"*"`` allows any."""
    cors_origins: tuple[str, ...] = ()
    """``cors.origins``: browser origins that may read the ``/openapi/…`` answers (CORS; ``"*"``:
    any). They pass the ``Origin`` check too."""
    log_enabled: bool = False
    panic_if_invalid: bool = False
    separator: str = DEFAULT_SEPARATOR
    """Joins a server's name and a tool's or prompt's on aggregated routes: ``fetch__get``."""
    aggregate_timeout: float = DEFAULT_AGGREGATE_TIMEOUT_SECONDS
    """Aggregated lists answer after this long with what the upstreams that did answer returned."""
    default_timeout: float = DEFAULT_TIMEOUT_SECONDS
    """The ``timeout`` of every server that sets none."""
    max_sessions: int = DEFAULT_ROUTE_MAX_SESSIONS
    """At most this many client sessions on one route at once."""
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    drain_delay: float = 0.0
    """``drainDelay``: on SIGTERM, keep serving everything but ``/readyz`` (503) this long, so a load
    balancer's health check takes the replica out before its port closes."""
    """On SIGTERM/SIGINT, how long requests in flight may take to finish before streams are closed."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    admin_tokens: tuple[str, ...] | None = None
    """``adminTokens``: who may read ``/status``; ``None`` (unset) means the global ``authTokens``."""
    metrics_tokens: tuple[str, ...] | None = None
    """``metricsTokens``: who may read ``/metrics`` besides admins; ``None`` (unset): admins only,
    as ``/status``; ``()``: anyone."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names served besides loopback names, IP literals and ``baseURL``'s host; ``"*"``: any."""
    max_sessions_per_client: int = DEFAULT_MAX_SESSIONS_PER_CLIENT
    """At most this many sessions on one route for one client (its address and token together)."""
    unused_session_timeout: float = DEFAULT_UNUSED_SESSION_TIMEOUT_SECONDS
    """A session that has made no request since ``initialize`` for this long is closed."""
    max_queued_messages: int = DEFAULT_MAX_QUEUED_MESSAGES
    """Messages waiting for one client stream; past it the client is too slow and its session ends."""
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    """Largest request line + headers a client may send; past it: HTTP 431 and the connection closed."""
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    """A request's line and headers must arrive within this long of its first byte (a new
    connection's first request: of the connection), else the connection is closed."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Client connections open at once; one more gets HTTP 503 at once (``cli.edge``)."""
    oauth: OAuthConfig | None = None
    """``mcpProxy.options.oauth``: accept access tokens (JWTs) from this authorization server."""
    log_format: LogFormat | None = None
    """``logFormat``: ``json`` or ``text``; ``None`` (unset): text, unless ``--log-format`` says."""
    audit: AuditConfig | None = None
    """``audit``: the audit trail; ``None``: none."""
    readiness: Readiness = "required"
    """``readiness``: what ``/readyz`` waits for: the ``required`` upstreams, ``any`` one, or ``all``."""
    session_store: str | None = None
    """``sessionStore``: a ``redis://`` URL replicas share sessions through; ``None``: memory."""
    tool_discovery: ToolDiscovery = field(default_factory=ToolDiscovery)
    """``toolDiscovery``/``alwaysList`` of every group that sets none (``/mcp`` included)."""


@dataclass(frozen=True)
class GroupConfig:
    """A set of upstreams served as one MCP server at ``/groups/NAME/…`` (``all`` is ``/mcp``)."""

    name: str
    servers: tuple[str, ...]
    """Member servers in config order; for ``all`` (unless configured), every enabled server."""
    auth_tokens: tuple[str, ...] = ()
    tool_filter: NameFilter | None = None
    """Matched against the names clients of the group see (``server__tool``)."""
    prompt_filter: NameFilter | None = None
    resource_filter: NameFilter | None = None
    """Matched against the members' own resource URIs."""
    discovery: ToolDiscovery | None = None
    """Its own ``toolDiscovery``/``alwaysList``; ``None``: ``mcpProxy.options``' (``Config.group``)."""


@dataclass(frozen=True)
class RateLimit:
    """``rateLimit``: at most ``requests`` JSON-RPC requests ``per`` seconds (a token bucket)."""

    requests: int
    per: float


@dataclass(frozen=True)
class IdentityConfig:
    """One ``identities`` entry: who holds which tokens, and what they may use (config/identities.py)."""

    name: str
    tokens: tuple[str, ...] = ()
    """Bearer tokens that name this identity (secrets: never shown)."""
    servers: tuple[str, ...] | None = None
    """Server names and globs whose routes (and group members) it may use; ``None``: all, ``()``: none."""
    groups: tuple[str, ...] | None = None
    """Group names and globs (``all`` is ``/mcp``) whose routes it may use; ``None``: all."""
    tool_filter: NameFilter | None = None
    """Narrows the tools it sees and may call on every route, on top of the servers' own filters."""
    rate_limit: RateLimit | None = None
    admin: bool = False
    """May read ``/status`` and the other admin views."""


@dataclass(frozen=True)
class Config:
    proxy: ProxyConfig
    servers: dict[str, ServerConfig]
    """Every configured server by name, disabled ones included (they get no routes)."""
    source: str | None = None
    """Where the config came from (a path or URL); ``None`` for the built-in default."""
    groups: dict[str, GroupConfig] = field(default_factory=dict)
    """Named groups by name. ``all`` is always served; ``group("all")`` gives its defaults."""
    identities: dict[str, IdentityConfig] = field(default_factory=dict)
    """Who is calling: identities by name (``identities``)."""

    def group(self, name: str) -> GroupConfig | None:
        """The group ``name`` as served: members limited to enabled servers; ``all`` always exists."""
        group = self.groups.get(name)
        enabled = self.enabled_servers
        if group is None:
            if name != ALL_GROUP:
                return None
            return GroupConfig(
                ALL_GROUP, tuple(enabled), self.proxy.auth_tokens, discovery=self.proxy.tool_discovery
            )
        members = tuple(server for server in group.servers if server in enabled)
        return GroupConfig(
            group.name,
            members,
            group.auth_tokens,
            group.tool_filter,
            group.prompt_filter,
            group.resource_filter,
            discovery=group.discovery or self.proxy.tool_discovery,
        )

    @property
    def group_names(self) -> list[str]:
        return [ALL_GROUP, *(name for name in self.groups if name != ALL_GROUP)]

    @property
    def enabled_servers(self) -> dict[str, ServerConfig]:
        return {name: server for name, server in self.servers.items() if not server.disabled}
