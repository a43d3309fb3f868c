"""``/metrics``: the gateway's Prometheus metrics, written by ``prometheus-client``.

Two sources, one registry per ``Gateway`` (never the library's global one, so several gateways in
one process keep their own counts):

- ``CallMetrics``, a ``CallObserver``: every answered or refused call counts in
  ``mcp_central_requests_total``, ``mcp_central_request_duration_seconds`` and, for
  ``tools/call``, ``mcp_central_tool_calls_total``. It runs on each answer's path, so it caches the
  label children per label tuple (one dict lookup, then the increments) instead of calling
  ``.labels()`` each time.
- ``ops.metrics_state.StateCollector``: what already lives in the gateway (sessions, link states,
  restarts, dropped messages, refusals, reloads), read at scrape time: no cost between scrapes.

Label values stay bounded whatever clients send: route and server names come from the config,
methods outside ``MCP_METHODS`` are ``other``, outcomes are ``core.calls.OUTCOMES``, and a tool is
named only if its upstream lists it (at most ``MAX_TOOL_LABELS`` per server), else ``other``. Ids
and arguments never become labels. This module neither answers HTTP nor decides who may read it
(``downstream.app`` does both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from mcp_central.core.calls import OUTCOMES, CallRecord
from mcp_central.ops.metrics_state import GatewayState, StateCollector

if TYPE_CHECKING:
    from mcp_central.upstream.manager import UpstreamManager

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4.encode()
"""The classic text format: every Prometheus since 2.0 reads it (Debian's is 2.42)."""

DURATION_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""100 µs (a cached answer through the gateway) to 60 s (the default ``timeout``), then +Inf."""

MCP_METHODS = frozenset(
    {
        "initialize", "ping", "tools/list", "tools/call", "prompts/list", "prompts/get",
        "resources/list", "resources/templates/list", "resources/read", "resources/subscribe",
        "resources/unsubscribe", "logging/setLevel", "completion/complete", "tasks/get",
        "tasks/result", "tasks/list", "tasks/cancel", "server/discover", "subscriptions/listen",
    }
)  # fmt: skip
"""Client request methods of the MCP revisions served; any other method is labelled ``other``."""

MAX_TOOL_LABELS = 200
"""Distinct tool labels per server at most: an upstream listing thousands of tools (or changing
its list over and over) must not grow the series without bound; the rest count as ``other``."""

OTHER = "other"
_OUTCOMES = frozenset(OUTCOMES)

ToolNames = Callable[[str], frozenset[str]]
"""A server's listed tool names (``frozenset()`` while unknown)."""


class CallMetrics:
    """The ``CallObserver`` behind the call counters; cheap enough for every answer."""

    __slots__ = (
        "_durations", "_others", "_requests", "_slots", "_tool_calls", "_tool_labels", "_tools", "_tools_of",
    )  # fmt: skip

    def __init__(self, registry: CollectorRegistry, tools_of: ToolNames) -> None:
        self._requests = Counter(
            "mcp_central_requests",
            "Client requests answered (or refused before reaching an upstream), by outcome.",
            ("route", "server", "method", "outcome"),
            registry=registry,
        )
        self._durations = Histogram(
            "mcp_central_request_duration_seconds",
            "Seconds from a client request's arrival to its answer.",
            ("server", "method"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._tool_calls = Counter(
            "mcp_central_tool_calls",
            "tools/call requests answered, by the upstream's tool name and outcome.",
            ("server", "tool", "outcome"),
            registry=registry,
        )
        self._tools_of = tools_of
        self._slots: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        """(route, server, method, outcome) → its request counter child and duration histogram child."""
        self._tools: dict[tuple[str, str | None, str], Any] = {}
        """(server, tool as sent, outcome) → the tool counter child, for names already judged."""
        self._tool_labels: dict[str, set[str]] = {}
        """The tool labels given out per server (capped at ``MAX_TOOL_LABELS``)."""
        self._others: dict[tuple[str, str], Any] = {}
        """(server, outcome) → the ``other`` tool counter child."""

    def call_finished(self, record: CallRecord) -> None:
        method = record.method
        if method not in MCP_METHODS:
            method = OTHER
        outcome = record.outcome if record.outcome in _OUTCOMES else "error"
        key = (record.context.route, record.server, method, outcome)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = (
                self._requests.labels(*key),
                self._durations.labels(record.server, method),
            )
        slot[0].inc()
        slot[1].observe(record.duration)
        if method == "tools/call":
            tool_key = (record.server, record.target, outcome)
            child = self._tools.get(tool_key)
            if child is None:
                child = self._tool_child(record.server, record.target, outcome)
            child.inc()

    def _tool_child(self, server: str, tool: str | None, outcome: str) -> Any:
        """The counter child for a name not cached yet. Only listed names are cached (so the cache
        stays as bounded as the labels); a name not listed yet may be after ``list_changed``."""
        labels = self._tool_labels.setdefault(server, set())
        room = tool in labels or len(labels) < MAX_TOOL_LABELS
        if tool is not None and room and tool in self._tools_of(server):
            labels.add(tool)
            child = self._tools[server, tool, outcome] = self._tool_calls.labels(server, tool, outcome)
            return child
        other = self._others.get((server, outcome))
        if other is None:
            other = self._others[server, outcome] = self._tool_calls.labels(server, OTHER, outcome)
        return other


class GatewayMetrics:
    """One gateway's registry: the call counters (``observer``) and the state read at scrape time."""

    def __init__(self, gateway: GatewayState) -> None:
        self.registry = CollectorRegistry()
        self.observer = CallMetrics(self.registry, lambda server: listed_tools(gateway.manager, server))
        self.registry.register(StateCollector(gateway))

    def render(self) -> bytes:
        """The text exposition of every metric, as a scrape gets it."""
        return generate_latest(self.registry)


def listed_tools(manager: UpstreamManager, server: str) -> frozenset[str]:
    """The tool names ``server``'s upstream lists (an isolated server: any of its session links)."""
    link = manager.links.get(server)
    if link is not None:
        return link.tools.names
    pool = manager.pools.get(server)
    if pool is not None:
        for session_link in pool.links:
            if session_link.tools.names:
                return session_link.tools.names
    return frozenset()
