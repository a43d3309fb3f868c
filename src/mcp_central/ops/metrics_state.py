"""The metrics read at scrape time from what the gateway already keeps: sessions per route, each
upstream's state and restarts, messages its link dropped, refusals per route and limit, reloads.

A ``prometheus_client`` custom collector: nothing is counted twice and nothing runs between
scrapes. It only reads; it never starts, stops or changes anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mcp_central.core.supervision import LinkState

if TYPE_CHECKING:
    from mcp_central.downstream.session import Route
    from mcp_central.ops.reload import Reloader
    from mcp_central.upstream.link import UpstreamLink
    from mcp_central.upstream.manager import UpstreamManager

TRANSPORTS = ("streamable-http", "sse")
"""Downstream session transports (``Session.transport_name``): each route shows both, 0 included."""

RELOAD_OUTCOMES = ("ok", "invalid")

DROP_REASONS = {
    "malformed": "malformed",
    "error": "malformed",
    "unknown-id": "unknown_id",
    "over-limit": "over_limits",
}
"""The link core's ``dropped`` keys → the ``reason`` label (a message the link could not handle is
malformed as far as the operator can act on it)."""


class GatewayState(Protocol):
    """What the collector reads of the gateway (``downstream.app.Gateway``)."""

    manager: UpstreamManager
    reloader: Reloader | None

    def all_routes(self) -> list[Route]: ...


class StateCollector(Collector):
    def __init__(self, gateway: GatewayState) -> None:
        self._gateway = gateway

    def collect(self) -> Iterator[Metric]:
        gateway = self._gateway
        yield _sessions(gateway.all_routes())
        yield from _upstreams(gateway.manager)
        yield _refusals(gateway.all_routes())
        reloads = CounterMetricFamily(
            "mcp_central_config_reloads", "Live reloads of the config file, by outcome.", labels=("outcome",)
        )
        outcomes = gateway.reloader.outcomes if gateway.reloader is not None else {}
        for outcome in RELOAD_OUTCOMES:
            reloads.add_metric((outcome,), outcomes.get(outcome, 0))
        yield reloads


def _sessions(routes: Iterable[Route]) -> Metric:
    family = GaugeMetricFamily(
        "mcp_central_sessions", "Client sessions open, by route and transport.", labels=("route", "transport")
    )
    for route in routes:
        counts = dict.fromkeys(TRANSPORTS, 0)
        for session in route.sessions.values():
            counts[session.transport_name] = counts.get(session.transport_name, 0) + 1
        for transport, count in counts.items():
            family.add_metric((route.label, transport), count)
    return family


def _upstreams(manager: UpstreamManager) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "mcp_central_upstream_up",
        "1 while the upstream serves (ready, or degraded: connected but slow); isolated servers: "
        "while one of their session links serves, or none is open and the last start did not fail.",
        labels=("server",),
    )
    state = GaugeMetricFamily(
        "mcp_central_upstream_state",
        "1 for the upstream's current state, 0 for the others (isolated servers: how many of their "
        "session links are in each state).",
        labels=("server", "state"),
    )
    restarts = CounterMetricFamily(
        "mcp_central_upstream_restarts",
        "Attempts to bring the upstream back after it was lost or failed to start.",
        labels=("server",),
    )
    dropped = CounterMetricFamily(
        "mcp_central_messages_dropped",
        "Messages from the upstream not delivered: malformed, answering no request in flight "
        "(unknown_id: late after a deadline), or with no client to attribute them to.",
        labels=("server", "reason"),
    )
    for name, link in manager.links.items():
        up.add_metric((name,), 1 if link.lifecycle.serving else 0)
        for each in LinkState:
            state.add_metric((name, each.value), 1 if link.state is each else 0)
        restarts.add_metric((name,), link.lifecycle.restarts)
        _add_dropped(dropped, name, [link])
    for name, pool in manager.pools.items():
        links = list(pool.links)
        serving = any(link.lifecycle.serving for link in links) or (not links and pool.last_error is None)
        up.add_metric((name,), 1 if serving else 0)
        for each in LinkState:
            state.add_metric((name, each.value), sum(link.state is each for link in links))
        restarts.add_metric((name,), sum(link.lifecycle.restarts for link in links))
        _add_dropped(dropped, name, links)
    yield from (up, state, restarts, dropped)


def _add_dropped(family: CounterMetricFamily, server: str, links: Iterable[UpstreamLink]) -> None:
    counts = dict.fromkeys(("malformed", "unknown_id", "unattributable", "over_limits"), 0)
    for link in links:
        for key, count in link.core.dropped.items():
            reason = DROP_REASONS.get(key, "malformed")
            counts[reason] += count
        counts["unattributable"] += sum(link.core.attribution.counts.values())
    for reason, count in counts.items():
        family.add_metric((server, reason), count)


def _refusals(routes: Iterable[Route]) -> Metric:
    family = CounterMetricFamily(
        "mcp_central_refusals",
        "Clients a route refused by limit (the limit's config key), slow readers included "
        "(maxQueuedMessages: what waited for them was dropped).",
        labels=("route", "limit"),
    )
    for route in routes:
        for limit, count in route.refusals.items():
            family.add_metric((route.label, limit), count)
    return family
