"""Losing a replica (issue 17): three replicas sharing sessions through Redis behind
deploy/haproxy/haproxy.cfg, 32 SDK client sessions calling tools without pause.

- ``kill -9`` of one replica: only calls in flight when it died fail, each at once (no call hangs);
  every session carries on with its next call without a new ``initialize``; no answer reaches
  another client.
- A rolling restart (SIGTERM, one replica at a time, each started again before the next): not one
  call fails, thanks to draining.

Every call carries its session's and its own number and must come back with exactly them.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import FIXTURE_SERVER, running_gateway
from replicas import Cluster, replicas_behind_haproxy

pytestmark = pytest.mark.anyio

SESSIONS = 32
CALL_DEADLINE = 20.0
"""A call that takes longer has hung (an echo takes milliseconds)."""

CONFIG: dict[str, Any] = {
    "mcpProxy": {
        "addr": "127.0.0.1:9090",
        "name": "replicas",
        "options": {"shutdownGrace": "5s", "drainDelay": "5s"},
    },
    "mcpServers": {
        "fixture": {
            "command": sys.executable,
            "args": [str(FIXTURE_SERVER), "--transport", "stdio", "--name", "fixture"],
        }
    },
}


@dataclass
class Tally:
    """What every session saw: calls answered, failed (with their start and end) and crossed."""

    ok: int = 0
    failed: list[tuple[int, float, float, str]] = field(default_factory=list)
    crossed: list[str] = field(default_factory=list)
    hung: list[int] = field(default_factory=list)
    per_session: dict[int, int] = field(default_factory=dict)
    """Calls answered after ``mark``, per session."""
    mark: float = float("inf")


async def caller(
    base: str, number: int, tally: Tally, stop: asyncio.Event, ready: Callable[[], None]
) -> None:
    """One SDK session: echo calls one after another until ``stop``; one initialize, ever."""
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(60)) as http,
        Client(streamable_http_client(f"{base}/fixture/mcp", http_client=http), mode="legacy") as client,
    ):
        k = 0
        while not stop.is_set():
            k += 1
            text = f"session-{number}-call-{k}"
            started = time.monotonic()
            try:
                with anyio.fail_after(CALL_DEADLINE):
                    result = await client.call_tool("echo", {"text": text})
            except TimeoutError:
                tally.hung.append(number)
                return
            except Exception as exc:
                tally.failed.append((number, started, time.monotonic(), repr(exc)[:200]))
                continue
            answer = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            if result.is_error or answer != text:
                tally.crossed.append(f"{text} -> {answer}")
                continue
            tally.ok += 1
            if started > tally.mark:
                tally.per_session[number] = tally.per_session.get(number, 0) + 1
            if k == 3:
                ready()


async def under_load(cluster: Cluster, disrupt: Callable[[Tally], Any], after: int = 5) -> Tally:
    """Run ``SESSIONS`` callers through the balancer; once each made 3 calls, ``disrupt``; then
    wait until every session made ``after`` more calls, and stop."""
    tally = Tally()
    stop = asyncio.Event()
    warmed = 0
    all_warm = asyncio.Event()

    def one_warm() -> None:
        nonlocal warmed
        warmed += 1
        if warmed == SESSIONS:
            all_warm.set()

    async with anyio.create_task_group() as group:
        for number in range(SESSIONS):
            group.start_soon(caller, cluster.balancer_url, number, tally, stop, one_warm)
        with anyio.fail_after(120):
            await all_warm.wait()
        await disrupt(tally)
        with anyio.fail_after(180):
            while len(tally.per_session) < SESSIONS or min(tally.per_session.values()) < after:
                if tally.hung:
                    break
                await asyncio.sleep(0.1)
        stop.set()
    return tally


async def test_kill_9_fails_only_the_calls_in_flight_and_every_session_carries_on(tmp_path: Path) -> None:
    with replicas_behind_haproxy(CONFIG, tmp_path, count=3, store=True) as cluster:
        killed_at = 0.0

        async def kill(tally: Tally) -> None:
            nonlocal killed_at
            killed_at = time.monotonic()
            cluster.replicas[0].kill()
            tally.mark = time.monotonic()

        tally = await under_load(cluster, kill)

    assert not tally.hung, f"calls hung in sessions {tally.hung}"
    assert not tally.crossed, tally.crossed
    # Only calls in flight when the replica died failed: each started before the kill, and each
    # session had at most one call in flight.
    assert all(started <= killed_at for _n, started, _end, _why in tally.failed), tally.failed
    assert len(tally.failed) <= SESSIONS, tally.failed
    assert len({number for number, *_ in tally.failed}) == len(tally.failed)
    # Every session carried on (no new initialize: a lost session cannot make another call).
    assert len(tally.per_session) == SESSIONS and min(tally.per_session.values()) >= 5
    assert tally.ok > SESSIONS * 8


async def test_a_rolling_restart_fails_no_call(tmp_path: Path) -> None:
    with replicas_behind_haproxy(CONFIG, tmp_path, count=3, store=True) as cluster, ExitStack() as restarted:

        async def roll(tally: Tally) -> None:
            tally.mark = time.monotonic()
            for replica in cluster.replicas:
                replica.process.terminate()  # SIGTERM: drain, then exit
                await asyncio.to_thread(replica.process.wait, 30)
                args = [
                    *("serve", "--config", str(tmp_path / "config.json")),
                    *("--host", "127.0.0.1", "--port", str(replica.port)),
                ]
                started = running_gateway(args, replica.port, ready="/readyz")
                replica.process = await asyncio.to_thread(restarted.enter_context, started)

        tally = await under_load(cluster, roll)

    assert not tally.hung, f"calls hung in sessions {tally.hung}"
    assert not tally.crossed, tally.crossed
    assert tally.failed == [], tally.failed
    assert len(tally.per_session) == SESSIONS
