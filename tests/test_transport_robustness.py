"""Transports and the isolated pool under review findings (issue 12): real processes, real sockets.

A stdio server that stops reading its stdin cannot hold a request past its deadline, nor make the
gateway queue without bound; an HTTP upstream's GET stream comes back however often it drops; a
group list that gives up on an isolated member's slow start leaves no link or process behind.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from conftest import (
    ECHO_SERVER,
    FIXTURE_SERVER,
    echo_stdio,
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
from test_features import Inbox
from test_supervision import FAST, status_of, text, wait_status

pytestmark = pytest.mark.anyio

TWO_MEGABYTES = "x" * 2_000_000
"""Far more than a pipe holds (64 KiB on Linux): writing it blocks until the server reads."""


async def test_a_large_request_to_a_stalled_stdio_server_fails_at_its_deadline() -> None:
    config = make_config(dataclasses.replace(fixture_stdio("stall"), timeout=1.0))
    async with (
        serve(config) as (base, _app),
        mcp_client(route_url(base, "stall", "streamable-http"), "streamable-http") as client,
    ):
        stalled = int(text(await client.call_tool("pid", {})))
        os.kill(stalled, signal.SIGSTOP)  # alive, its stdin open, but nothing reads it
        try:
            started = time.monotonic()
            with anyio.fail_after(5), pytest.raises(MCPError) as info:
                await client.call_tool("echo", {"text": TWO_MEGABYTES})
            assert "within 1s" in str(info.value) or "did not read its input" in str(info.value)
            assert time.monotonic() - started < 4
            with anyio.fail_after(5), pytest.raises(MCPError):  # a small one while it is stopped
                await client.call_tool("echo", {"text": "still stopped"})
        finally:
            os.kill(stalled, signal.SIGCONT)
        # The server resumes, reads the queued messages whole, and is served as before.
        with anyio.fail_after(10):
            assert text(await client.call_tool("echo", {"text": "after"})) == "after"
            assert int(text(await client.call_tool("pid", {}))) == stalled


async def test_a_stdio_server_that_never_reads_again_is_restarted_not_queued_for() -> None:
    """Past ``maxMessageBytes`` waiting unread, the server counts as lost: memory stays bounded."""
    server = dataclasses.replace(
        fixture_stdio("deaf", restart=FAST), timeout=1.0, max_message_bytes=1_000_000
    )
    async with (
        serve(make_config(server)) as (base, _app),
        mcp_client(route_url(base, "deaf", "streamable-http"), "streamable-http") as client,
    ):
        deaf = int(text(await client.call_tool("pid", {})))
        os.kill(deaf, signal.SIGSTOP)
        try:
            with anyio.fail_after(5), pytest.raises(MCPError):
                await client.call_tool("echo", {"text": TWO_MEGABYTES})
            await wait_status(base, "deaf", lambda up: up["restarts"] >= 1 and up["state"] == "ready")
            with anyio.fail_after(10):
                assert int(text(await client.call_tool("pid", {}))) != deaf
            with anyio.fail_after(10):
                while _alive(deaf):  # noqa: ASYNC110 - another process: nothing to await but its exit
                    await anyio.sleep(0.05)
        finally:
            if _alive(deaf):
                os.kill(deaf, signal.SIGKILL)


async def test_a_message_the_link_cannot_handle_is_logged_and_does_not_leave_it_deaf(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The transport's reader never dies silently (the link stayed "ready" with every call timing
    out, and asyncio reported "Task exception was never retrieved" at some later moment)."""
    caplog.set_level(logging.WARNING)
    server = dataclasses.replace(echo_stdio(restart=FAST), timeout=30.0)
    # params must be an object: a server that sends a list is faulty, not a reason to stop listening
    faulty = json.dumps({"jsonrpc": "2.0", "method": "notifications/progress", "params": [1]})
    async with (
        serve(make_config(server)) as (base, _app),
        mcp_client(route_url(base, "echo", "streamable-http"), "streamable-http") as client,
    ):
        with anyio.fail_after(5):  # far inside the 30 s timeout: whatever happens, it is answered
            try:
                await client.call_tool("emit", {"lines": [faulty]})
            except MCPError as exc:
                assert "upstream 'echo'" in str(exc)  # the link may restart the server instead
        logged = [
            r for r in caplog.records if r.name.startswith("mcp_central") and r.levelno >= logging.WARNING
        ]
        assert logged, "the faulty message left no trace in the log"
        with anyio.fail_after(20):
            assert text(await client.call_tool("echo", {"text": "after"})) == "after"
    gc.collect()  # a task that failed unobserved is reported when it is collected
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_an_http_upstreams_get_stream_is_opened_again_however_often_it_drops() -> None:
    """Server → client messages without a request (``list_changed``) come on the GET stream of a
    streamable-HTTP upstream: it is opened again with backoff for the life of the link."""
    cuts = 5
    port = free_port()
    upstream = start_fixture_cutting_get_streams(port, cuts)
    try:
        server = ServerConfig(
            name="remote", transport="streamable-http", url=f"http://127.0.0.1:{port}/mcp", timeout=30
        )
        inbox = Inbox()
        async with (
            serve(make_config(server)) as (base, _app),
            mcp_client(
                route_url(base, "remote", "streamable-http"),
                "streamable-http",
                message_handler=inbox.on_message,
            ) as client,
        ):
            with anyio.fail_after(30):  # 5 drops with backoff: 0.2 + 0.4 + 0.8 + 1.6 + 3.2 s
                while int(text(await client.call_tool("get_streams", {}))) <= cuts:  # noqa: ASYNC110
                    await anyio.sleep(0.1)  # the upstream's own count: only asking it tells
            assert text(await client.call_tool("grow", {"name": "late"})) == "grown"
            await inbox.wait_for(lambda: inbox.tools_changed >= 1)
            assert (await status_of(base, "remote"))["restarts"] == 0  # the link itself never dropped
    finally:
        stop_process(upstream)


def start_fixture_cutting_get_streams(port: int, cuts: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(FIXTURE_SERVER), "--transport", "streamable-http", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--name", "remote", "--cut-get-streams", str(cuts)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(proc, port, "fixture server (streamable-http)")
    return proc


async def test_a_group_list_that_gives_up_on_an_isolated_start_leaves_nothing_behind() -> None:
    marker = f"slow-start-{uuid.uuid4().hex}"  # in the command line of every process of this server
    slow = ServerConfig(
        name="slow",
        transport="stdio",
        command=sys.executable,
        args=(
            "-c",  # sleeps before it reads anything, then serves as the echo server
            "import runpy, sys, time; time.sleep(3); sys.argv = sys.argv[1:2]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')",
            str(ECHO_SERVER),
            marker,
        ),
        timeout=10,
        session_mode="isolated",
    )
    config = make_config(echo_stdio(), slow, aggregate_timeout=0.5)
    try:
        async with serve(config) as (base, _app):
            for _ in range(4):
                async with mcp_client(f"{base}/mcp", "streamable-http") as client:
                    with anyio.fail_after(5):  # the slow member is skipped after aggregateTimeout
                        listed = await client.list_tools()
                    assert [tool.name for tool in listed.tools] == ["echo__echo"]
            with anyio.fail_after(20):  # cancelled starts are closed in the background
                while _processes_with(marker) or (await status_of(base, "slow"))["links"]:  # noqa: ASYNC110
                    await anyio.sleep(0.1)  # other processes and /status: nothing to await
            status = await status_of(base, "slow")
            assert status["links"] == 0 and status["opened"] == 0
    finally:
        for pid in _processes_with(marker):  # the test's own leftovers if it failed
            os.kill(pid, signal.SIGKILL)


def _processes_with(marker: str) -> list[int]:
    """Running processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found
