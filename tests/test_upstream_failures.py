"""Why an upstream cannot start, as ``/status`` and the log say it on every attempt.

Real failing upstreams, served by a real gateway: stdio servers that exit at once (with a status, by
a signal, cleanly) or cannot be executed, an HTTP address nobody listens on, and an HTTP server that
refuses every request. ``lastError`` must name the exit status or connection error and quote the
server's last stderr lines, never a bare "not connected" and never the command's arguments or the
URL's credentials (they may hold expanded secrets).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from conftest import INIT_REQUEST, echo_stdio, free_port, http_client, make_config, route_url, serve
from mcp_central.config.expand import Expanded
from mcp_central.config.model import ServerConfig
from mcp_central.core.supervision import RestartPolicy
from raw_http import HEADERS
from test_supervision import status_of

pytestmark = pytest.mark.anyio

ATTEMPTS = 4
QUICK = RestartPolicy(initial_delay=0.05, max_delay=0.1, jitter=0.0, max_attempts=ATTEMPTS)
SECRET = "apikey-NOT-FOR-STATUS"
"""Stands for an expanded ``${VAR}`` in the arguments or URL: must appear in no failure report."""


def python_server(name: str, script: str) -> ServerConfig:
    return ServerConfig(
        name=name,
        transport="stdio",
        command=sys.executable,
        args=("-c", script, f"--api-key={SECRET}"),
        timeout=10,
        restart=QUICK,
    )


async def failures_until_it_gives_up(base: str, name: str) -> list[str]:
    """Every ``lastError`` seen on ``/status`` until the link gave up after ``ATTEMPTS`` attempts."""
    seen: list[str] = []
    with anyio.fail_after(30):
        while True:
            status = await status_of(base, name)
            if status["lastError"] is not None:
                seen.append(status["lastError"])
            if status["failedAttempts"] >= ATTEMPTS and status["nextAttemptIn"] is None:
                assert status["state"] == "failed"
                return seen
            await anyio.sleep(0.02)


def failure_lines(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    """The supervisor's log line for each failed attempt (the last one is its 'gave up' line)."""
    lines = [r.getMessage() for r in caplog.records if r.name == "mcp_central.upstream"]
    return [line for line in lines if line.startswith(f"upstream '{name}' failed:") or "gave up" in line]


async def assert_every_attempt_says(
    base: str, name: str, caplog: pytest.LogCaptureFixture, *expected: str
) -> None:
    seen = await failures_until_it_gives_up(base, name)
    logged = failure_lines(caplog, name)
    assert len(logged) == ATTEMPTS, logged  # one line per failed attempt, the last says it gave up
    for report in [*seen, *logged]:
        for part in expected:
            assert part in report, f"{part!r} missing from {report!r}"
        assert "not connected" not in report and SECRET not in report
    assert SECRET not in caplog.text
    # a client of the failed server hears the same reason
    async with http_client() as http:
        reply = await http.post(route_url(base, name, "streamable-http"), json=INIT_REQUEST, headers=HEADERS)
    assert "error" in reply.json(), reply.text
    assert all(part in reply.json()["error"]["message"] for part in expected), reply.text


STDIO_CASES = {
    "exits-3": (
        "import sys; print('boom: no such database', file=sys.stderr); sys.exit(3)",
        ("exited with status 3", "boom: no such database"),
    ),
    "killed": (
        "import os, signal, sys; print('about to die', file=sys.stderr, flush=True);"
        " os.kill(os.getpid(), signal.SIGKILL)",
        ("killed by signal 9", "about to die"),
    ),
    "exits-0": ("print('bye', flush=True)", ("exited with status 0",)),
    "several-lines": (
        "import sys; sys.stderr.write('first line\\nsecond line\\nthird line\\n'); sys.exit(1)",
        ("exited with status 1", "first line", "second line", "third line"),
    ),
}


@pytest.mark.parametrize("case", list(STDIO_CASES))
async def test_a_stdio_server_that_dies_at_once_says_how_and_what_it_printed(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_central")
    script, expected = STDIO_CASES[case]
    async with serve(make_config(python_server(case, script))) as (base, _app):
        await assert_every_attempt_says(base, case, caplog, *expected)


async def test_a_command_that_is_not_executable_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_central")
    program = tmp_path / "server.sh"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o644)
    server = ServerConfig(
        name="plain-file",
        transport="stdio",
        command=str(program),
        args=(f"--api-key={SECRET}",),
        timeout=10,
        restart=QUICK,
    )
    async with serve(make_config(server)) as (base, _app):
        await assert_every_attempt_says(
            base, "plain-file", caplog, f"cannot start '{program}'", "not executable"
        )


async def test_an_http_address_nobody_listens_on_says_it_cannot_connect_and_where(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_central")
    port = free_port()  # bound and released: nothing listens there
    server = ServerConfig(
        name="nowhere",
        transport="streamable-http",
        url=f"http://user:{SECRET}@127.0.0.1:{port}/mcp?apikey={SECRET}",
        timeout=10,
        restart=QUICK,
    )
    async with serve(make_config(server)) as (base, _app):
        await assert_every_attempt_says(
            base, "nowhere", caplog, f"cannot connect to http://127.0.0.1:{port}/mcp"
        )


@asynccontextmanager
async def refusing_http_server(status_line: str, body: bytes) -> AsyncIterator[int]:
    """A real HTTP server on 127.0.0.1 that answers every request with ``status_line``."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            writer.write(
                f"HTTP/1.1 {status_line}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_an_http_server_that_refuses_says_its_status(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp_central")
    async with refusing_http_server("401 Unauthorized", b"bad api key") as port:
        server = ServerConfig(
            name="refusing",
            transport="streamable-http",
            url=f"http://127.0.0.1:{port}/mcp?apikey={SECRET}",
            timeout=10,
            restart=QUICK,
        )
        async with serve(make_config(server)) as (base, _app):
            await assert_every_attempt_says(base, "refusing", caplog, "HTTP 401", "bad api key")


async def test_a_server_that_starts_is_logged_without_its_arguments(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp_central")
    server = echo_stdio("keyed")
    # As the loader leaves it: an argument expanded from ${KEY} remembers how it was written.
    secret_arg = Expanded(f"--api-key={SECRET}", "--api-key=${KEY}", ("KEY",))
    server = dataclasses.replace(server, args=(*server.args, secret_arg))
    async with serve(make_config(server)) as (base, _app):
        assert (await status_of(base, "keyed"))["state"] == "ready"
    ready = [r.getMessage() for r in caplog.records if "upstream 'keyed' ready" in r.getMessage()]
    assert ready == [
        f"upstream 'keyed' ready ({sys.executable} {server.args[0]} --api-key=${{KEY}}, restarts: 0)"
    ]
    assert SECRET not in caplog.text
