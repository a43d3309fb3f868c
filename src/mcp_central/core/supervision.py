"""The life of one upstream link as a sans-IO state machine, and its restart schedule.

    STOPPED ──start──> STARTING ──ok──> READY <──answer── DEGRADED (a request missed its deadline)
                          │               │
                       failed           lost (process exited, connection dropped)
                          v               v
                        FAILED <──give up── RESTARTING ──ok──> READY

``Lifecycle`` records what happened (attempts, losses, answers, missed deadlines) and says what the
state is and how long to wait before the next attempt (``RestartPolicy``: jittered, capped
exponential backoff). It never sleeps, spawns or reads a clock itself: the caller passes ``now``
and a random number, so every schedule is testable without time passing (the one clock it holds
is handed to it, and only stamps when the state last changed, for the dashboard's time in state).
``upstream.supervisor`` does the waiting and the restarting.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass


class LinkState(enum.Enum):
    STOPPED = "stopped"
    """Not started yet (``lazyStart``), stopped while idle (``idleStop``), or closed."""
    STARTING = "starting"
    READY = "ready"
    DEGRADED = "degraded"
    """Connected, but its latest request got no answer within the deadline (a stalled upstream)."""
    RESTARTING = "restarting"
    """It was ready and lost its process or connection; restart attempts are under way."""
    FAILED = "failed"
    """It never started, or gave up after ``maxAttempts``; retries of a server that never started
    keep it FAILED (attempts continue on the backoff schedule until ``maxAttempts``)."""


SERVING = frozenset({LinkState.READY, LinkState.DEGRADED})


@dataclass(frozen=True)
class RestartPolicy:
    """``mcpServers.NAME.restart``: when to try again after a crash or a failed start."""

    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    """Each delay is shortened by up to this fraction, at random, so restarts of many links spread out."""
    max_attempts: int | None = None
    """Consecutive failed attempts after which the link stays FAILED (``None``: never give up)."""

    def delay(self, attempt: int, random: float) -> float:
        """Seconds to wait before attempt number ``attempt`` (1 = the first retry); ``random`` in [0, 1).

        Capped before jitter, and jitter only shortens: ``max_delay`` is a promise, never exceeded.
        """
        try:
            base = min(self.max_delay, self.initial_delay * self.multiplier ** max(attempt - 1, 0))
        except OverflowError:  # the thousandth retry of a long outage
            base = self.max_delay
        return base * (1.0 - self.jitter * random)


class Lifecycle:
    """What a link's supervisor needs to know; every method is a fact reported by the link."""

    def __init__(self, policy: RestartPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._state = LinkState.STOPPED
        self.state_since = clock()
        """When ``state`` last changed (``clock`` time): how long a link has been in its state."""
        self.failures = 0
        """Consecutive failed attempts since the link was last ready (the backoff exponent)."""
        self.restarts = 0
        """Attempts made to bring the link back after a loss or a failed start (not the first start)."""
        self.last_error: str | None = None
        self.ready_since: float | None = None
        self._was_ready = False
        self._retrying = False
        self._step = 0
        """Retries in the current streak: grows with every attempt, and only a link that stayed up
        for ``max_delay`` starts over. So a server that crashes right after each start backs off."""

    @property
    def state(self) -> LinkState:
        return self._state

    @state.setter
    def state(self, value: LinkState) -> None:
        if value is not self._state:
            self._state = value
            self.state_since = self._clock()

    @property
    def serving(self) -> bool:
        return self.state in SERVING

    @property
    def recovering(self) -> bool:
        """A loss is being repaired and no attempt has failed yet: callers may wait for it."""
        return self.state is LinkState.RESTARTING and self.failures == 0

    @property
    def gave_up(self) -> bool:
        limit = self.policy.max_attempts
        return limit is not None and self.failures >= limit

    def attempting(self) -> None:
        if self._retrying:
            self.restarts += 1
            self._step += 1
        if not self._retrying:
            self.state = LinkState.STARTING
        elif self._was_ready:
            self.state = LinkState.RESTARTING
        # else: a server that never started stays FAILED while it is tried again

    def ready(self, now: float) -> None:
        self.state = LinkState.READY
        self.failures = 0
        self.last_error = None
        self.ready_since = now
        self._was_ready = True
        self._retrying = False

    def attempt_failed(self, reason: str) -> None:
        self.failures += 1
        self.last_error = reason
        self._retrying = True
        if self.gave_up or not self._was_ready:
            self.state = LinkState.FAILED
        else:
            self.state = LinkState.RESTARTING

    def lost(self, reason: str, now: float) -> None:
        """The connection went away while the link served. A link that stayed up for ``max_delay``
        counts as healthy again: its first restart comes after ``initial_delay``, not a long one."""
        if self.ready_since is not None and now - self.ready_since >= self.policy.max_delay:
            self._step = 0
        self.last_error = reason
        self.ready_since = None
        self._retrying = True
        self.state = LinkState.RESTARTING

    def stopped(self) -> None:
        """Stopped on purpose (idle, closed): the next start is a fresh one, not a restart."""
        self.state = LinkState.STOPPED
        self.ready_since = None
        self._retrying = False
        self.failures = 0
        self._step = 0

    def next_delay(self, random: float) -> float | None:
        """How long to wait before the next attempt, or ``None`` when no attempt should follow."""
        if self.serving or self.state is LinkState.STOPPED or self.gave_up:
            return None
        return self.policy.delay(self._step + 1, random)

    def deadline_missed(self) -> None:
        if self.state is LinkState.READY:
            self.state = LinkState.DEGRADED

    def heard_from(self) -> None:
        if self.state is LinkState.DEGRADED:
            self.state = LinkState.READY
