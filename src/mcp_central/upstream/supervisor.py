"""Keeps one upstream link alive: restarts after a crash, retries failed starts, stops it when idle.

The schedule and the states are ``core.supervision``'s (sans-IO); this module does the waiting.
A lost link is restarted after a jittered, capped, growing delay and re-initialized by
``UpstreamLink.start``; its downstream sessions stay attached and simply carry on. Requests that
arrive during the first restart attempt after a crash wait for it (within their deadline), because
a quick restart should cost a client nothing; once an attempt has failed they are answered at once.

It must not touch messages, sessions or transports: it only calls the link's ``start``/``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

from mcp_central.config.model import ServerConfig
from mcp_central.core.supervision import Lifecycle, LinkState
from mcp_central.errors import UpstreamError, UpstreamUnavailable

log = logging.getLogger("mcp_central.upstream")

ON_DEMAND_RETRY_SECONDS = 5.0
"""A failed link is started on demand by a client at most this often, so a dead upstream answers fast."""


class Supervised(Protocol):
    """What a supervisor needs of its link (``upstream.link.UpstreamLink``)."""

    server: ServerConfig
    lifecycle: Lifecycle
    closed: bool

    @property
    def name(self) -> str: ...

    @property
    def startup_deadline(self) -> float: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def idle_for(self, now: float) -> float: ...


class Supervisor:
    def __init__(self, link: Supervised, rng: Callable[[], float] = random.random) -> None:
        self.link = link
        self.lifecycle = link.lifecycle
        self.next_attempt_at: float | None = None
        """Monotonic time of the scheduled restart attempt, if one is scheduled."""
        self._rng = rng
        self._retry: asyncio.Task[None] | None = None
        self._idle: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._failed_at = 0.0

    # ----------------------------------------------------------------- facts from the link

    def attempt_finished(self) -> None:
        """A start attempt succeeded or failed; wake whoever waits, and plan what comes next."""
        self._wake()
        if self.lifecycle.serving:
            self.next_attempt_at = None
            if self.link.server.idle_stop is not None and self._idle is None:
                self._idle = asyncio.get_running_loop().create_task(self._stop_when_idle())
            return
        self._failed_at = time.monotonic()
        self._schedule()

    def lost(self) -> None:
        self._wake()
        self._schedule()

    def close(self) -> None:
        for task in (self._retry, self._idle):
            if task is not None:
                task.cancel()
        self._retry = self._idle = None
        self.next_attempt_at = None
        self._wake()

    # ----------------------------------------------------------------- for callers

    async def ensure_ready(self) -> None:
        """Return once the link serves; ``UpstreamUnavailable`` at once when it cannot soon."""
        life, link = self.lifecycle, self.link
        if life.serving:
            return
        if link.closed:
            raise UpstreamUnavailable(link.name, "stopped")
        if life.recovering or life.state is LinkState.STARTING:
            # A first start may fetch a package (npx, uvx): it gets the start-up deadline.
            patience = link.server.timeout if life.recovering else link.startup_deadline
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(patience):
                    await self._attempt_settled()
            if life.serving:
                return
        elif life.state is LinkState.STOPPED or time.monotonic() - self._failed_at >= ON_DEMAND_RETRY_SECONDS:
            await link.start()  # lazy start, idle restart, or a client's own try of a failed link
            return
        raise UpstreamUnavailable(link.name, self._why_not())

    def status(self) -> dict[str, object]:
        life = self.lifecycle
        due = self.next_attempt_at
        return {
            "restarts": life.restarts,
            "failedAttempts": life.failures,
            "nextAttemptIn": round(max(due - time.monotonic(), 0.0), 3) if due is not None else None,
        }

    # ----------------------------------------------------------------- internals

    def _why_not(self) -> str:
        life = self.lifecycle
        reason = life.last_error or life.state.value
        if life.gave_up:
            return f"{reason} (gave up after {life.failures} attempts; a client retries every 5s)"
        if self.next_attempt_at is not None:
            wait = max(self.next_attempt_at - time.monotonic(), 0.0)
            return f"{reason} ({life.state.value}; next attempt in {wait:.1f}s)"
        return reason

    def _schedule(self) -> None:
        if self.link.closed or (self._retry is not None and not self._retry.done()):
            return
        delay = self.lifecycle.next_delay(self._rng())
        if delay is None:
            if self.lifecycle.gave_up:
                log.error(
                    "upstream '%s' gave up after %d failed attempts: %s",
                    self.link.name,
                    self.lifecycle.failures,
                    self.lifecycle.last_error,
                )
            return
        self.next_attempt_at = time.monotonic() + delay
        log.warning(
            "upstream '%s' %s: %s; restart %d in %.2fs",
            self.link.name,
            self.lifecycle.state.value,
            self.lifecycle.last_error,
            self.lifecycle.restarts + 1,
            delay,
        )
        self._retry = asyncio.get_running_loop().create_task(self._retry_after(delay))

    async def _retry_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._retry = None  # a failure of this attempt schedules the next one
        self.next_attempt_at = None
        with contextlib.suppress(UpstreamError):
            await self.link.start()

    async def _attempt_settled(self) -> None:
        while self.lifecycle.recovering or self.lifecycle.state is LinkState.STARTING:
            await self._changed.wait()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _stop_when_idle(self) -> None:
        """``idleStop``: stop the upstream when nothing has happened on it for that long."""
        idle_stop = self.link.server.idle_stop
        assert idle_stop is not None
        period = min(max(idle_stop / 4, 0.05), 30.0)
        try:
            while True:
                await asyncio.sleep(period)
                if self.lifecycle.serving and self.link.idle_for(time.monotonic()) >= idle_stop:
                    log.info("upstream '%s' stopped after %gs without use", self.link.name, idle_stop)
                    await self.link.stop()
                    return
        finally:
            self._idle = None


def describe_failure(exc: BaseException, startup_deadline: float) -> str:
    """Why a start attempt failed, for ``/status`` and the log."""
    if isinstance(exc, TimeoutError):
        return f"no answer to initialize within {startup_deadline:g}s"
    if isinstance(exc, UpstreamError):
        return exc.detail
    return f"{type(exc).__name__}: {exc}"
