"""Shutdown as a container runtime or systemd does it, on real ``mcp-central serve`` processes.

SIGTERM/SIGINT: the port closes, requests in flight finish (or get an error once ``shutdownGrace``
is over), stdio servers get TERM and then KILL, the exit code is 0. ``kill -9`` of the proxy: its
stdio servers die with it, and so do the processes those servers started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from conftest import FIXTURE_SERVER, INIT_REQUEST, free_port, mcp_client, stop_process, wait_for_port
from raw_http import HEADERS
from test_supervision import signal_on

pytestmark = pytest.mark.anyio

FIXTURE = [sys.executable, str(FIXTURE_SERVER), "--transport", "stdio"]


def descendants(pid: int) -> list[int]:
    """Live (non-zombie) descendants of ``pid``, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def until(condition: Any, seconds: float, what: str) -> None:
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 - other processes' state: polled with a deadline
            await anyio.sleep(0.05)


@asynccontextmanager
async def proxy(tmp_path: Path, servers: dict[str, Any], **options: Any) -> AsyncIterator[tuple[Any, int]]:
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"mcpProxy": {"addr": f"127.0.0.1:{port}", "options": options}, "mcpServers": servers})
    )
    proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; the test waits for its port
        [sys.executable, "-m", "mcp_central", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(proc, port, "mcp-central")
        yield proc, port
    finally:
        if proc.poll() is None:
            stop_process(proc)


async def pid_of(client: Any) -> int:
    return int((await client.call_tool("pid", {})).content[0].text)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_lets_requests_in_flight_finish_and_exits_0(tmp_path: Path, sig: int) -> None:
    servers = {"fx": {"command": FIXTURE[0], "args": FIXTURE[1:]}}
    async with proxy(tmp_path, servers, shutdownGrace="30s") as (proc, port):
        url = f"http://127.0.0.1:{port}/fx/mcp"
        async with mcp_client(url, "streamable-http") as client, httpx.AsyncClient(timeout=30) as other:
            upstream = await pid_of(client)
            result: list[str] = []
            upstream_has_it = anyio.Event()

            async def in_flight() -> None:
                answer = await client.call_tool(
                    "gated", {"gate": "shutdown"}, progress_callback=signal_on(upstream_has_it)
                )
                result.append(answer.content[0].text)  # type: ignore[union-attr]

            async with anyio.create_task_group() as group:
                group.start_soon(in_flight)
                await upstream_has_it.wait()
                await pid_of(client)  # a second pooled connection, idle from now on
                assert (await other.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200  # kept alive
                proc.send_signal(sig)
                await until(lambda: not port_open(port), 10, "the port to close")
                # a kept-alive connection may still ask, but no new session starts while draining
                refused = await other.post(
                    f"http://127.0.0.1:{port}/fx/mcp", json=INIT_REQUEST, headers=HEADERS
                )
                assert refused.status_code == 503 and "shutting down" in refused.text
                assert proc.poll() is None and not result  # still serving the request in flight
                await client.call_tool("open_gate", {"gate": "shutdown"})
            assert result == ["passed shutdown"]
        with anyio.fail_after(30):
            while proc.poll() is None:  # noqa: ASYNC110 - another process: polled with a deadline
                await anyio.sleep(0.05)
    assert proc.returncode == 0
    assert not alive(upstream)


async def test_past_the_grace_requests_get_an_error_and_stubborn_children_are_killed(tmp_path: Path) -> None:
    # Ignores SIGTERM (inherited by everything it starts) and, once the server has exited on stdin's
    # EOF, lingers in `sleep`: only SIGKILL ends it.
    stubborn = 'trap "" TERM; "$0" "$@"; sleep 600'
    servers = {"fx": {"command": "/bin/sh", "args": ["-c", stubborn, *FIXTURE]}}
    async with proxy(tmp_path, servers, shutdownGrace="1s") as (proc, port):
        async with mcp_client(f"http://127.0.0.1:{port}/fx/mcp", "streamable-http") as client:
            await pid_of(client)
            children = descendants(proc.pid)
            assert len(children) >= 3  # the keeper, the sh, the server
            outcome: list[BaseException] = []
            upstream_has_it = anyio.Event()

            async def in_flight() -> None:
                try:
                    await client.call_tool(
                        "gated", {"gate": "never"}, progress_callback=signal_on(upstream_has_it)
                    )
                except MCPError as exc:
                    outcome.append(exc)

            async with anyio.create_task_group() as group:
                group.start_soon(in_flight)
                await upstream_has_it.wait()
                proc.send_signal(signal.SIGTERM)
            assert len(outcome) == 1 and "mcp-central is shutting down" in str(outcome[0])
        with anyio.fail_after(30):
            while proc.poll() is None:  # noqa: ASYNC110 - another process: polled with a deadline
                await anyio.sleep(0.05)
    assert proc.returncode == 0
    assert not [pid for pid in children if alive(pid)]


async def test_kill_9_of_the_proxy_takes_the_servers_helpers_along(tmp_path: Path) -> None:
    # The server starts a helper of its own (as npx starts node, or a browser server its browser).
    with_helper = 'sleep 600 & exec "$0" "$@"'
    servers = {"fx": {"command": "/bin/sh", "args": ["-c", with_helper, *FIXTURE]}}
    async with proxy(tmp_path, servers) as (proc, port):
        async with mcp_client(f"http://127.0.0.1:{port}/fx/mcp", "streamable-http") as client:
            server = await pid_of(client)
        family = descendants(proc.pid)
        assert server in family and len(family) >= 3  # the keeper, the server, its helper
        proc.kill()
        proc.wait()
    await until(lambda: not any(alive(pid) for pid in family), 10, "every descendant to die")
