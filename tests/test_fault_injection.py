"""Fault injection under load: ``kill -9`` of one upstream while 32 sessions call three upstreams,
and 200 sessions opened at once.

Every call carries a unique text and must get exactly that text back (a crossed answer would show),
every call has a deadline (a hung call would show), and errors are counted per upstream. The
figures printed here (``pytest -s``) are the ones in the README's Reliability section; only
correctness and deadlines are asserted, never speed.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from conftest import echo_stdio, fixture_stdio, make_config, serve
from mcp_central.core.supervision import RestartPolicy
from raw_http import HEADERS, Session, call
from test_supervision import BACK_WITHIN, status_of, wait_status

pytestmark = pytest.mark.anyio

CALL_DEADLINE = 15.0
"""Longer than any answer can take unless something hangs (the servers' timeout is 30 s)."""


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    config = make_config(
        fixture_stdio("alpha"),
        echo_stdio("beta"),
        fixture_stdio("victim", restart=RestartPolicy(initial_delay=0.2, max_delay=1.0)),
    )
    async with serve(config) as (url, _app):
        yield url


class Load:
    def __init__(self) -> None:
        self.ok: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.crossed = 0
        self.hung = 0
        self.after_recovery: Counter[int] = Counter()
        """Successful calls per victim session once the victim was back."""
        self.recovered = False

    async def run(self, index: int, session: Session, route: str, stop: anyio.Event) -> None:
        request_id = 1
        while not stop.is_set():
            request_id += 1
            text = f"{route}-{index}-{request_id}"
            try:
                with anyio.fail_after(CALL_DEADLINE):
                    answer = await call(session, request_id, "echo", text=text)
            except TimeoutError:
                self.hung += 1
                continue
            if answer.get("id") != request_id:
                self.crossed += 1
            elif "error" in answer:
                self.errors[route] += 1
            elif answer["result"]["content"][0]["text"] != text:
                self.crossed += 1
            else:
                self.ok[route] += 1
                if route == "victim" and self.recovered:
                    self.after_recovery[index] += 1


async def test_kill_9_of_one_upstream_under_32_sessions(gateway: str) -> None:
    routes = ["alpha", "beta", "victim"]
    load = Load()
    stop = anyio.Event()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30), limits=limits) as client:
        sessions = [
            (i, routes[i % 3], await Session(client, f"{gateway}/{routes[i % 3]}/mcp").open())
            for i in range(32)
        ]
        victim_sessions = {i for i, route, _ in sessions if route == "victim"}
        pid_answer = await call(next(s for i, r, s in sessions if r == "victim"), 1, "pid")
        victim_pid = int(pid_answer["result"]["content"][0]["text"])
        before = (await status_of(gateway, "victim"))["restarts"]
        async with anyio.create_task_group() as group:
            for index, route, session in sessions:
                group.start_soon(load.run, index, session, route, stop)
            with anyio.fail_after(30):
                while sum(load.ok.values()) < 32 * 5:  # noqa: ASYNC110 - the load is warm
                    await anyio.sleep(0.01)
            killed_at = time.monotonic()
            os.kill(victim_pid, signal.SIGKILL)
            await wait_status(
                gateway, "victim", lambda up: up["restarts"] == before + 1 and up["state"] == "ready"
            )
            back_after = time.monotonic() - killed_at
            load.recovered = True
            with anyio.fail_after(BACK_WITHIN):  # every victim session carries on after the restart
                while not all(load.after_recovery[i] >= 5 for i in victim_sessions):  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            stop.set()
        for _index, _route, session in sessions:
            await client.delete(session.url, headers={**HEADERS, **session.headers})
    total = sum(load.ok.values()) + sum(load.errors.values())
    print(
        f"\n32 sessions: {total} calls, errors {dict(load.errors)}, crossed {load.crossed}, "
        f"hung {load.hung}, victim back after {back_after:.2f}s"
    )
    assert load.errors["alpha"] == 0 and load.errors["beta"] == 0  # the other upstreams never noticed
    assert load.crossed == 0 and load.hung == 0
    assert back_after < BACK_WITHIN


async def test_200_sessions_at_once(gateway: str) -> None:
    limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
    routes = ["alpha", "beta"]
    async with httpx.AsyncClient(timeout=httpx.Timeout(60), limits=limits) as client:
        baseline = [(await status_of(gateway, route))["sessions"] for route in routes]
        opened: list[tuple[str, Session]] = []
        errors: list[Any] = []
        all_open = anyio.Event()

        async def one(index: int) -> None:
            route = routes[index % 2]
            session = await Session(client, f"{gateway}/{route}/mcp").open()
            opened.append((route, session))
            if len(opened) == 200:
                all_open.set()
            await all_open.wait()  # all 200 live at the same time
            text = f"session-{index}"
            answer = await call(session, 2, "echo", text=text)
            if answer.get("result", {}).get("content", [{}])[0].get("text") != text:
                errors.append(answer)

        started = time.monotonic()
        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for index in range(200):
                    group.start_soon(one, index)
        elapsed = time.monotonic() - started
        peak = [(await status_of(gateway, route))["sessions"] for route in routes]
        for _route, session in opened:
            response = await client.delete(session.url, headers={**HEADERS, **session.headers})
            assert response.status_code == 200
        after = [(await status_of(gateway, route))["sessions"] for route in routes]
    print(f"\n200 sessions: opened, called and answered in {elapsed:.2f}s, {len(errors)} errors")
    assert not errors and len(opened) == 200
    assert sum(peak) - sum(baseline) == 200 and after == baseline
