"""Shared fixtures: a gateway served in-process on 127.0.0.1, SDK clients for both transports,
and server configs for the real upstream peers.

The gateway runs under a real uvicorn server in the test's event loop, so clients talk real HTTP
on loopback while the test keeps one process; the CLI tests start real subprocesses instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from mcp_central.cli.serve import KEEP_ALIVE_SECONDS, GatewayServer
from mcp_central.config.model import Config, GroupConfig, ProxyConfig, ServerConfig
from mcp_central.downstream.app import Gateway

TESTS = Path(__file__).parent
FIXTURE_SERVER = TESTS / "servers" / "fixture_server.py"
ECHO_SERVER = TESTS / "servers" / "echo_server.py"

INIT_REQUEST = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def fixture_stdio(name: str = "fixture", **overrides: Any) -> ServerConfig:
    """The SDK-written fixture server (tests/servers/fixture_server.py) over stdio."""
    args = (str(FIXTURE_SERVER), "--transport", "stdio", "--name", name)
    return ServerConfig(
        name=name, transport="stdio", command=sys.executable, args=args, timeout=30, **overrides
    )


def echo_stdio(name: str = "echo", **overrides: Any) -> ServerConfig:
    """tests/servers/echo_server.py: reflects every request it receives."""
    return ServerConfig(
        name=name,
        transport="stdio",
        command=sys.executable,
        args=(str(ECHO_SERVER),),
        timeout=10,
        **overrides,
    )


def time_stdio(name: str = "time") -> ServerConfig:
    """``mcp-server-time`` from PyPI, over stdio."""
    return ServerConfig(
        name=name, transport="stdio", command=sys.executable, args=("-m", "mcp_server_time"), timeout=30
    )


def make_config(
    *servers: ServerConfig,
    tokens: tuple[str, ...] = (),
    groups: dict[str, GroupConfig] | None = None,
    **proxy: Any,
) -> Config:
    return Config(
        proxy=ProxyConfig(auth_tokens=tokens, **proxy),
        servers={server.name: server for server in servers},
        source="test",
        groups=groups or {},
    )


@asynccontextmanager
async def serve(config: Config, **gateway: Any) -> AsyncIterator[tuple[str, Gateway]]:
    """Run a gateway for ``config`` on a free loopback port; yield its base URL and the app."""
    app = Gateway(config, **gateway)
    server = GatewayServer(
        app,
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            lifespan="on",
            log_level="warning",
            log_config=None,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        ),
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("gateway exited during start-up")
                await asyncio.sleep(0.01)
            # Every upstream's first start has settled: tests see a steady state, not a race.
            await app.manager.settled.wait()
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}{config.proxy.base_path}", app
    finally:
        server.should_exit = True
        async with asyncio.timeout(30):
            await task


def http_client(token: str | None = None, headers: dict[str, str] | None = None) -> httpx2.AsyncClient:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return httpx2.AsyncClient(headers=all_headers, timeout=httpx2.Timeout(30, read=60))


@asynccontextmanager
async def mcp_client(
    url: str, transport: str, token: str | None = None, **kwargs: Any
) -> AsyncIterator[Client]:
    """An official-SDK client on ``url`` (``…/mcp`` or ``…/sse``) over ``transport``."""
    if transport == "streamable-http":
        async with (
            http_client(token) as http,
            Client(streamable_http_client(url, http_client=http), mode="legacy", **kwargs) as client,
        ):
            yield client
    elif transport == "sse":
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with Client(sse_client(url, headers=headers), mode="legacy", **kwargs) as client:
            yield client
    else:
        raise ValueError(transport)


def route_url(base: str, name: str, transport: str) -> str:
    return f"{base}/{name}/{'mcp' if transport == 'streamable-http' else 'sse'}"


TRANSPORTS = ["streamable-http", "sse"]


@pytest.fixture(params=TRANSPORTS)
def downstream(request: pytest.FixtureRequest) -> str:
    """Each behaviour test runs once per downstream transport."""
    return str(request.param)


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    """Block until ``proc`` listens on 127.0.0.1:``port`` (30 s deadline; fails if it exits)."""
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{what} did not listen within 30 s"
        time.sleep(0.05)


CLI = [sys.executable, "-m", "mcp_central"]


@contextmanager
def running_gateway(
    args: list[str], port: int, env: dict[str, str] | None = None, ready: str = "/healthz"
) -> Iterator[subprocess.Popen[bytes]]:
    """``mcp-central ARGS`` as a process until ``GET ready`` on 127.0.0.1:``port`` answers 200 (60 s at
    most); stopped by PID afterwards. Its output goes to a file, not a pipe nobody drains."""
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            CLI + args, env={**os.environ, **(env or {})}, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    output.seek(0)
                    log = output.read().decode()
                    raise AssertionError(f"mcp-central exited with {proc.returncode}:\n{log}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"mcp-central did not answer {ready} within 60 s"
                time.sleep(0.05)
            yield proc
        finally:
            stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process we started, by its PID: TERM, then KILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_fixture(transport: str, name: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """``tests/servers/fixture_server.py`` over HTTP (``streamable-http`` or ``sse``) on a free
    loopback port, once it accepts connections; the caller stops it by PID."""
    port = free_port()
    command = [sys.executable, str(FIXTURE_SERVER), "--transport", transport, "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--name", name, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(proc, port, f"fixture server ({transport})")
    except BaseException:
        stop_process(proc)
        raise
    return proc, port


@contextmanager
def fixture_over_http(name: str = "fixture", *extra: str) -> Iterator[int]:
    """The fixture server over streamable HTTP for a ``with`` block: its port; stopped by PID after."""
    proc, port = start_fixture("streamable-http", name, *extra)
    try:
        yield port
    finally:
        stop_process(proc)
