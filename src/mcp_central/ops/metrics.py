"""``/metrics``: the gateway's Prometheus metrics, written by ``prometheus-client``.

Two sources, one registry per ``Gateway`` (never the library's global one, so several gateways in
one process keep their own counts):

- ``CallMetrics``, a ``CallObserver``: every answered or refused call counts in
  ``mcp_central_requests_total``, ``mcp_central_request_duration_seconds`` and, for
  ``tools/call``, ``mcp_central_tool_calls_total``. It runs on each answer's path, so it counts in
  plain slotted objects cached per label tuple (one dict lookup, two additions and a bisect: about
  a fifth of a ``prometheus_client`` child's ``inc`` + ``observe``, which take a lock each), and is
  a custom collector that hands the counts to ``prometheus_client`` at scrape time. Everything
  runs on the event loop's thread, scrapes included: no lock is needed.
- ``ops.metrics_state.StateCollector``: what already lives in the gateway (sessions, link states,
  restarts, dropped messages, refusals, reloads), read at scrape time: no cost between scrapes.

Label values stay bounded whatever clients send: route and server names come from the config,
methods outside ``MCP_METHODS`` are ``other``, outcomes are ``core.calls.OUTCOMES``, and a tool is
named only if its upstream lists it (at most ``MAX_TOOL_LABELS`` per server), else ``other``. Ids
and arguments never become labels. This module neither answers HTTP nor decides who may read it
(``downstream.app`` does both).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

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

_BUCKET_LABELS = (*(repr(float(bound)) for bound in DURATION_BUCKETS), "+Inf")
"""``le`` as Prometheus writes it (``0.0001``, ``60.0``): no bound here needs an exponent."""

OTHER = "other"
_OUTCOMES = frozenset(OUTCOMES)

ToolNames = Callable[[str], frozenset[str]]
"""A server's listed tool names (``frozenset()`` while unknown)."""


class _Durations:
    """One histogram series: counts per bucket (not cumulative; the last is +Inf) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.total = 0.0


class _Slot:
    """One (route, server, method, outcome): its request count and its (server, method) histogram."""

    __slots__ = ("count", "durations")

    def __init__(self, durations: _Durations) -> None:
        self.count = 0
        self.durations = durations


class _Count:
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class CallMetrics(Collector):
    """The ``CallObserver`` behind the call counters (cheap enough for every answer), and the
    collector that shows them."""

    def __init__(self, tools_of: ToolNames) -> None:
        self._tools_of = tools_of
        self._slots: dict[tuple[str, str, str, str], _Slot] = {}
        """(route, server, method, outcome) → its counts (bounded: every part is)."""
        self._durations: dict[tuple[str, str], _Durations] = {}
        self._tool_counts: dict[tuple[str, str, str], _Count] = {}
        """(server, tool label, outcome) → its count."""
        self._tools: dict[tuple[str, str | None, str], _Count] = {}
        """(server, tool as sent, outcome) → its count, for listed names only (as bounded as the labels)."""
        self._tool_labels: dict[str, set[str]] = {}
        """The tool labels given out per server (capped at ``MAX_TOOL_LABELS``)."""

    def call_finished(self, record: CallRecord) -> None:
        method = record.method
        if method not in MCP_METHODS:
            method = OTHER
        outcome = record.outcome if record.outcome in _OUTCOMES else "error"
        key = (record.context.route, record.server, method, outcome)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._new_slot(key)
        slot.count += 1
        durations = slot.durations
        duration = record.duration
        durations.counts[bisect_left(DURATION_BUCKETS, duration)] += 1  # le: the first bound ≥ it
        durations.total += duration
        if method == "tools/call":
            tool = self._tools.get((record.server, record.target, outcome))
            if tool is None:
                tool = self._tool_count(record.server, record.target, outcome)
            tool.count += 1

    def _new_slot(self, key: tuple[str, str, str, str]) -> _Slot:
        series = key[1], key[2]
        durations = self._durations.get(series)
        if durations is None:
            durations = self._durations[series] = _Durations()
        slot = self._slots[key] = _Slot(durations)
        return slot

    def _tool_count(self, server: str, tool: str | None, outcome: str) -> _Count:
        """The count for a name not cached yet. Only listed names are cached; a name not listed
        (yet: it may be after ``list_changed``) counts as ``other``."""
        labels = self._tool_labels.setdefault(server, set())
        room = tool in labels or len(labels) < MAX_TOOL_LABELS
        label = OTHER
        if tool is not None and room and tool in self._tools_of(server):
            labels.add(tool)
            label = tool
        count = self._tool_counts.get((server, label, outcome))
        if count is None:
            count = self._tool_counts[server, label, outcome] = _Count()
        if label != OTHER:
            self._tools[server, tool, outcome] = count
        return count

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "mcp_central_requests",
            "Client requests answered (or refused before reaching an upstream), by outcome.",
            labels=("route", "server", "method", "outcome"),
        )
        for key, slot in self._slots.items():
            requests.add_metric(key, slot.count)
        durations = HistogramMetricFamily(
            "mcp_central_request_duration_seconds",
            "Seconds from a client request's arrival to its answer.",
            labels=("server", "method"),
        )
        for series, histogram in self._durations.items():
            cumulative = list(accumulate(histogram.counts))
            durations.add_metric(series, list(zip(_BUCKET_LABELS, cumulative, strict=True)), histogram.total)
        tools = CounterMetricFamily(
            "mcp_central_tool_calls",
            "tools/call requests answered, by the upstream's tool name (other: a name it does not "
            "list) and outcome.",
            labels=("server", "tool", "outcome"),
        )
        for tool_key, count in self._tool_counts.items():
            tools.add_metric(tool_key, count.count)
        yield from (requests, durations, tools)


class GatewayMetrics:
    """One gateway's registry: the call counters (``observer``) and the state read at scrape time."""

    def __init__(self, gateway: GatewayState) -> None:
        self.registry = CollectorRegistry()
        self.observer = CallMetrics(lambda server: listed_tools(gateway.manager, server))
        self.registry.register(self.observer)
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
