"""Supervision by fault injection: real upstreams are killed, stalled and dropped while clients use them.

A crashed stdio server is restarted on its backoff and its downstream sessions carry on; requests
in flight when it dies are answered at once; a stalled one hits its deadline, is cancelled upstream
and shows as degraded; lazy servers start on first use and idle ones stop. State and restart count
are read from ``/status`` (polled with deadlines: it is another component's state, not an event).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from conftest import (
    FIXTURE_SERVER,
    fixture_stdio,
    free_port,
    make_config,
    mcp_client,
    route_url,
    serve,
    stop_process,
    wait_for_port,
)
from mcp_central.config.model import ServerConfig
from mcp_central.core.supervision import RestartPolicy
from test_features import Inbox

pytestmark = pytest.mark.anyio

FAST = RestartPolicy(initial_delay=0.2, max_delay=1.0, multiplier=2.0, jitter=0.2)
BACK_WITHIN = 20.0
"""Deadline for a restarted link: its backoff (≤ 1 s here) plus spawning and initializing a Python
server on a busy 2-core machine."""


def text(result: Any) -> str:
    return str(result.content[0].text)


async def status_of(base: str, name: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        upstreams = (await http.get(f"{base}/status")).json()["upstreams"]
    return next(up for up in upstreams if up["name"] == name)


async def wait_status(
    base: str, name: str, wanted: Callable[[dict[str, Any]], bool], seconds: float = BACK_WITHIN
) -> dict[str, Any]:
    with anyio.fail_after(seconds):
        while not wanted(status := await status_of(base, name)):  # noqa: ASYNC110 - polled over HTTP
            await anyio.sleep(0.05)
    return status


def signal_on(event: anyio.Event) -> Callable[[float, float | None, str | None], Awaitable[None]]:
    """A progress callback that sets ``event``: the upstream is working on the request."""

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        event.set()

    return on_progress


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    marker = tmp_path_factory.mktemp("flaky") / "broken"
    # Starts the fixture unless the marker file exists: a server that comes up once, then cannot.
    flaky = ServerConfig(
        name="flaky",
        transport="stdio",
        command="/bin/sh",
        args=(
            "-c",
            'test -e "$FLAKY_MARKER" && exit 3; exec "$0" "$@"',
            sys.executable,
            *fixture_stdio().args,
        ),
        timeout=30,
        restart=RestartPolicy(initial_delay=0.1, max_delay=0.2, jitter=0.0, max_attempts=2),
        env={"FLAKY_MARKER": str(marker)},
    )
    config = make_config(
        fixture_stdio("victim", restart=FAST),
        dataclasses.replace(fixture_stdio("stall"), timeout=1.0),
        fixture_stdio("lazy", lazy_start=True, idle_stop=0.5),
        fixture_stdio("solo", session_mode="isolated", restart=FAST),
        flaky,
    )
    async with serve(config) as (url, _app):
        yield url


async def test_a_killed_stdio_upstream_restarts_and_its_sessions_carry_on(
    gateway: str, downstream: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_central.upstream")
    await wait_status(gateway, "victim", lambda up: up["state"] == "ready")
    before = (await status_of(gateway, "victim"))["restarts"]
    async with mcp_client(route_url(gateway, "victim", downstream), downstream) as client:
        first = int(text(await client.call_tool("pid", {})))
        os.kill(first, signal.SIGKILL)
        status = await wait_status(
            gateway, "victim", lambda up: up["restarts"] == before + 1 and up["state"] == "ready"
        )
        # the same client session, untouched by the crash, reaches the new process
        second = int(text(await client.call_tool("pid", {})))
        assert second != first and not alive(first)
        assert text(await client.call_tool("echo", {"text": "carried on"})) == "carried on"
    assert status["lastError"] is None and status["readySince"] is not None
    logged = caplog.text
    assert (
        "upstream 'victim' restarting: connection lost: the process was killed by signal 9 (SIGKILL)"
        in logged
    )
    assert "upstream 'victim' ready (" in logged and f"restarts: {before + 1})" in logged


async def test_subscriptions_and_log_levels_survive_a_restart(gateway: str) -> None:
    inbox = Inbox()
    await wait_status(gateway, "victim", lambda up: up["state"] == "ready")
    before = (await status_of(gateway, "victim"))["restarts"]
    url = route_url(gateway, "victim", "streamable-http")
    async with (
        mcp_client(
            url, "streamable-http", logging_callback=inbox.on_log, message_handler=inbox.on_message
        ) as client,
        mcp_client(url, "streamable-http") as other,
    ):
        await client.subscribe_resource("fixture://hello")
        await client.set_logging_level("error")
        os.kill(int(text(await client.call_tool("pid", {}))), signal.SIGKILL)
        await wait_status(
            gateway, "victim", lambda up: up["restarts"] == before + 1 and up["state"] == "ready"
        )
        # The new process was told again what the sessions asked of the old one.
        await other.call_tool("touch", {"uri": "fixture://hello"})
        await client.call_tool("log_each_level", {})
        await inbox.wait_for(lambda: inbox.updated == ["fixture://hello"] and inbox.logs == ["error"])


async def test_an_isolated_session_gets_its_own_server_back(gateway: str) -> None:
    async with mcp_client(route_url(gateway, "solo", "streamable-http"), "streamable-http") as client:
        first = int(text(await client.call_tool("pid", {})))
        os.kill(first, signal.SIGKILL)
        with anyio.fail_after(BACK_WITHIN):
            while True:  # the session's own calls tell when its server is back
                try:
                    second = int(text(await client.call_tool("pid", {})))
                    break
                except MCPError:
                    await anyio.sleep(0.05)
        solo = await status_of(gateway, "solo")  # one entry for all of the server's session links
        assert solo["restarts"] >= 1 and solo["linkStates"].get("ready", 0) >= 1
    assert second != first


async def test_requests_in_flight_when_it_dies_are_answered_at_once(gateway: str, downstream: str) -> None:
    await wait_status(gateway, "victim", lambda up: up["state"] == "ready")
    async with mcp_client(route_url(gateway, "victim", downstream), downstream) as client:
        victim = int(text(await client.call_tool("pid", {})))
        outcome: list[BaseException] = []
        upstream_has_it = anyio.Event()  # gated reports progress once the server is working on it

        async def waits_forever() -> None:
            try:
                await client.call_tool(
                    "gated", {"gate": f"never-{downstream}"}, progress_callback=signal_on(upstream_has_it)
                )
            except MCPError as exc:
                outcome.append(exc)

        # The server's timeout is 30 s: an answer well before it can only come from the crash.
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(waits_forever)
                await upstream_has_it.wait()
                os.kill(victim, signal.SIGKILL)
        assert len(outcome) == 1 and "connection lost" in str(outcome[0])
        await wait_status(gateway, "victim", lambda up: up["state"] == "ready")
        assert text(await client.call_tool("echo", {"text": "after"})) == "after"


async def test_a_stalled_upstream_hits_the_deadline_is_cancelled_and_shows_degraded(gateway: str) -> None:
    async with mcp_client(route_url(gateway, "stall", "streamable-http"), "streamable-http") as client:
        stalled = int(text(await client.call_tool("pid", {})))
        os.kill(stalled, signal.SIGSTOP)  # the process is alive and its pipe open, but nothing answers
        try:
            with pytest.raises(MCPError) as info:
                await client.call_tool("gated", {"gate": "stalled"})
            assert "no answer to 'tools/call' within 1s" in str(info.value)
            assert (await status_of(gateway, "stall"))["state"] == "degraded"
        finally:
            os.kill(stalled, signal.SIGCONT)
        with anyio.fail_after(10):  # the upstream got notifications/cancelled for the stalled call
            while "stalled" not in text(await client.call_tool("cancelled_gates", {})):  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the upstream's own state: only asking it tells
        assert (await status_of(gateway, "stall"))["state"] == "ready"


async def test_lazy_start_on_first_use_and_idle_stop(gateway: str) -> None:
    status = await status_of(gateway, "lazy")
    assert status["state"] == "stopped" and status["starts"] == 0
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{gateway}/readyz")).status_code == 200
    async with mcp_client(route_url(gateway, "lazy", "streamable-http"), "streamable-http") as client:
        first = int(text(await client.call_tool("pid", {})))
        stopped = await wait_status(gateway, "lazy", lambda up: up["state"] == "stopped", seconds=10)
        with anyio.fail_after(10):
            while alive(first):  # noqa: ASYNC110 - another process: nothing to await but its exit
                await anyio.sleep(0.05)
        # the session outlives the idle stop: its next call starts the server again
        second = int(text(await client.call_tool("pid", {})))
    assert second != first and stopped["restarts"] == 0 and stopped["lastError"] is None


async def test_restarts_give_up_after_max_attempts_with_a_clear_error(gateway: str) -> None:
    await wait_status(gateway, "flaky", lambda up: up["state"] == "ready")
    async with mcp_client(route_url(gateway, "flaky", "streamable-http"), "streamable-http") as client:
        marker = anyio.Path(text(await client.call_tool("env", {"name": "FLAKY_MARKER"})))
        pid = int(text(await client.call_tool("pid", {})))
        await marker.touch()  # from now on the server exits at once: every restart attempt fails
        try:
            os.kill(pid, signal.SIGKILL)
            status = await wait_status(gateway, "flaky", lambda up: up["state"] == "failed")
            assert status["failedAttempts"] == 2 and status["restarts"] == 2
            assert status["nextAttemptIn"] is None
            with pytest.raises(MCPError) as info:
                await client.call_tool("echo", {"text": "anyone?"})
            assert "upstream 'flaky'" in str(info.value) and "gave up after 2 attempts" in str(info.value)
        finally:
            await marker.unlink()


def start_http_fixture(transport: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(FIXTURE_SERVER),
            "--transport",
            transport,
            "--port",
            str(port),
            "--name",
            "remote",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(proc, port, f"fixture server ({transport})")
    return proc


@pytest.mark.parametrize(("transport", "path"), [("streamable-http", "mcp"), ("sse", "sse")])
async def test_an_http_upstream_dropped_mid_stream_answers_at_once_and_reconnects(
    transport: str, path: str
) -> None:
    port = free_port()
    upstream = start_http_fixture(transport, port)
    server = ServerConfig(
        name="remote", transport=transport, url=f"http://127.0.0.1:{port}/{path}", timeout=30, restart=FAST
    )  # type: ignore[arg-type]
    try:
        async with (
            serve(make_config(server)) as (base, _app),
            mcp_client(route_url(base, "remote", "streamable-http"), "streamable-http") as client,
        ):
            outcome: list[BaseException] = []
            upstream_has_it = anyio.Event()

            async def in_flight() -> None:
                try:  # reports progress first, so its reply is an open SSE stream when the server dies
                    await client.call_tool(
                        "gated", {"gate": "dropped"}, progress_callback=signal_on(upstream_has_it)
                    )
                except MCPError as exc:
                    outcome.append(exc)

            with anyio.fail_after(10):  # well inside the 30 s timeout: the drop answers it
                async with anyio.create_task_group() as group:
                    group.start_soon(in_flight)
                    await upstream_has_it.wait()
                    upstream.kill()
                    upstream.wait()
            assert len(outcome) == 1 and "upstream 'remote'" in str(outcome[0])
            status = await wait_status(base, "remote", lambda up: up["state"] in ("restarting", "failed"))
            assert status["lastError"]
            upstream = start_http_fixture(transport, port)  # the server comes back on the same address
            await wait_status(base, "remote", lambda up: up["state"] == "ready")
            # the downstream session did not notice anything but the one error
            assert text(await client.call_tool("echo", {"text": "reconnected"})) == "reconnected"
    finally:
        stop_process(upstream)
