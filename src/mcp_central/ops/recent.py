"""The dashboard's memory of calls: the last 100 calls, and per-server rates and latencies.

``RecentCalls`` is a ``CallObserver``. On the answer's path it only appends a plain tuple to a
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
from typing import Any

from mcp_central.core.calls import CallContext, CallRecord

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


Call = tuple[float, CallContext, str, str, "str | None", float, str]
"""What the dashboard keeps of one call (no arguments, no error text): when it started, where it
came from, server, method, target, duration, outcome. A plain tuple: cheapest to build per call."""


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
        self._current: dict[str, _Second] = {}
        """Each server's newest bucket: where nearly every call goes."""

    def call_finished(self, record: CallRecord) -> None:
        duration, server = record.duration, record.server
        self.calls.append(
            (record.started, record.context, server, record.method, record.target, duration, record.outcome)
        )
        if not server:  # refused before any upstream: no server to chart
            return
        second = int(record.started + duration)
        current = self._current.get(server)
        if current is not None and current.second == second:  # the usual case: this second's bucket
            current.add(duration)
            return
        seconds = self._seconds.get(server)
        if seconds is None:
            seconds = self._seconds[server] = deque()
        if seconds and seconds[0].second > second:
            seconds.clear()  # the wall clock stepped back past the window: start the charts over
        elif seconds and seconds[-1].second >= second:
            # Answers arrive in about the order they finish: a late one joins its own second.
            for bucket in reversed(seconds):
                if bucket.second <= second:
                    break
            bucket.add(duration)
            return
        bucket = self._current[server] = _Second(second)
        bucket.add(duration)
        seconds.append(bucket)
        while seconds[0].second <= second - self.window:
            seconds.popleft()

    def recent(self) -> list[dict[str, Any]]:
        """The last calls, newest first, as the dashboard's JSON."""
        return [
            {
                "at": started,
                "route": context.route,
                "identity": context.identity,
                "session": context.session,
                "server": server,
                "method": method,
                "target": target,
                "durationMs": round(duration * 1000, 3),
                "outcome": outcome,
            }
            for started, context, server, method, target, duration, outcome in reversed(self.calls)
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
                self._current.pop(server, None)
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
