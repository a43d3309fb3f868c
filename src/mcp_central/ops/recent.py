"""The dashboard's memory of calls: the last 100 calls, and per-server rates and latencies.

``RecentCalls`` is a ``CallObserver``. On the answer's path it only appends a small tuple to a
bounded deque and bumps a per-second bucket of its server (a count and a sparse histogram of
durations on fixed log-spaced bounds); percentiles, rates and the JSON shapes are computed when
the dashboard asks (``recent``, ``series``), about once a second per open page.

It keeps no arguments and no error text (an upstream's message may echo arguments), and never
does I/O. It reads no clock on the hot path: a call's second is when its answer came
(``started + duration``); readers pass ``now``.
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import Any, NamedTuple

from mcp_central.core.calls import CallRecord

RECENT_CALLS = 100
"""How many calls the dashboard lists."""
WINDOW_SECONDS = 600
"""How far back the per-server charts reach."""
STEP_SECONDS = 10
"""One chart point covers this many seconds."""


def _bounds() -> tuple[float, ...]:
    """Histogram bucket upper bounds from 100 µs to 60 s, 12 per decade (each ~21 % above the last)."""
    bounds, value = [], 1e-4
    while value < 60.0:
        bounds.append(value)
        value *= 10 ** (1 / 12)
    bounds.append(60.0)
    return tuple(bounds)


BOUNDS = _bounds()


class Call(NamedTuple):
    """What the dashboard shows of one call (no arguments, no error text)."""

    at: float
    route: str
    identity: str | None
    session: str
    server: str
    method: str
    target: str | None
    duration: float
    outcome: str


class _Second:
    """The calls of one server that were answered within one wall-clock second."""

    __slots__ = ("count", "histogram", "second")

    def __init__(self, second: int) -> None:
        self.second = second
        self.count = 0
        self.histogram: dict[int, int] = {}
        """Bucket index in ``BOUNDS`` → how many calls took up to that long (sparse)."""

    def add(self, duration: float) -> None:
        self.count += 1
        index = bisect.bisect_left(BOUNDS, duration)
        self.histogram[index] = self.histogram.get(index, 0) + 1


class RecentCalls:
    """A ``CallObserver`` keeping what the dashboard shows of calls."""

    def __init__(self, keep: int = RECENT_CALLS, window: int = WINDOW_SECONDS) -> None:
        self.window = window
        self.calls: deque[Call] = deque(maxlen=keep)
        self._seconds: dict[str, deque[_Second]] = {}

    def call_finished(self, record: CallRecord) -> None:
        context = record.context
        self.calls.append(
            Call(
                record.started,
                context.route,
                context.identity,
                context.session,
                record.server,
                record.method,
                record.target,
                record.duration,
                record.outcome,
            )
        )
        if not record.server:  # refused before any upstream: no server to chart
            return
        second = int(record.started + record.duration)
        seconds = self._seconds.get(record.server)
        if seconds is None:
            seconds = self._seconds[record.server] = deque()
        if seconds and seconds[0].second > second:
            seconds.clear()  # the wall clock stepped back past the window: start the charts over
        elif seconds and seconds[-1].second >= second:
            # Answers arrive in about the order they finish: a late one joins its own second.
            for bucket in reversed(seconds):
                if bucket.second <= second:
                    break
            bucket.add(record.duration)
            return
        bucket = _Second(second)
        bucket.add(record.duration)
        seconds.append(bucket)
        while seconds[0].second <= second - self.window:
            seconds.popleft()

    def recent(self) -> list[dict[str, Any]]:
        """The last calls, newest first, as the dashboard's JSON."""
        return [
            {
                "at": call.at,
                "route": call.route,
                "identity": call.identity,
                "session": call.session,
                "server": call.server,
                "method": call.method,
                "target": call.target,
                "durationMs": round(call.duration * 1000, 3),
                "outcome": call.outcome,
            }
            for call in reversed(self.calls)
        ]

    def series(self, now: float, step: int = STEP_SECONDS) -> dict[str, list[dict[str, Any]]]:
        """Per server, one point per ``step`` seconds over the window, oldest first: calls per second
        and p50/p99 latency in ms (``None`` where there were no calls). The current, unfinished
        step's rate is over the seconds it has had so far."""
        end = int(now)
        first = (end - self.window) // step * step + step
        points = (end - first) // step + 1
        out: dict[str, list[dict[str, Any]]] = {}
        for server, seconds in list(self._seconds.items()):
            while seconds and seconds[0].second <= end - self.window:
                seconds.popleft()
            if not seconds:
                del self._seconds[server]
                continue
            counts = [0] * points
            histograms: list[dict[int, int]] = [{} for _ in range(points)]
            for bucket in seconds:
                slot = (bucket.second - first) // step
                if 0 <= slot < points:
                    counts[slot] += bucket.count
                    merged = histograms[slot]
                    for index, count in bucket.histogram.items():
                        merged[index] = merged.get(index, 0) + count
            series = []
            for slot in range(points):
                start = first + slot * step
                span = min(step, end - start + 1)
                series.append(
                    {
                        "t": start,
                        "rate": round(counts[slot] / span, 3),
                        "p50": _quantile_ms(histograms[slot], counts[slot], 0.5),
                        "p99": _quantile_ms(histograms[slot], counts[slot], 0.99),
                    }
                )
            out[server] = series
        return out


def _quantile_ms(histogram: dict[int, int], total: int, q: float) -> float | None:
    """The ``q`` quantile as the upper bound of the bucket it falls in (within ~21 %), in ms."""
    if not total:
        return None
    rank = q * total
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            bound = BOUNDS[index] if index < len(BOUNDS) else BOUNDS[-1]
            return round(bound * 1000, 3)
    return round(BOUNDS[-1] * 1000, 3)
