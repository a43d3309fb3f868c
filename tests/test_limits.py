"""Limits answer with clear errors and break nothing else: message size from an upstream, request
body size, sessions per route and per upstream. Raw HTTP (tests/raw_http.py) where the SDK client's
own limits would get in the way."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from conftest import (
    FIXTURE_SERVER,
    INIT_REQUEST,
    fixture_stdio,
    free_port,
    make_config,
    serve,
    stop_process,
    wait_for_port,
)
from mcp_central.config.model import ServerConfig
from raw_http import HEADERS, Session, call

pytestmark = pytest.mark.anyio

LIMIT = 4 * 1024 * 1024
"""maxMessageBytes of the limited routes; ``big`` answers carry the text twice (content and
structured content), so ``big(1_500_000)`` is about 3 MB and ``big(3_000_000)`` about 6 MB."""


@pytest.fixture(scope="module")
def http_upstream() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURE_SERVER), "--transport", "streamable-http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(proc, port, "fixture server (streamable-http)")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
async def gateway(http_upstream: str) -> AsyncIterator[str]:
    config = make_config(
        fixture_stdio("small", max_message_bytes=LIMIT),
        fixture_stdio("default"),
        ServerConfig(
            name="remote", transport="streamable-http", url=http_upstream, timeout=30, max_message_bytes=LIMIT
        ),
    )
    async with serve(config) as (url, _app):
        yield url


def http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(30))


def text_of(answer: dict[str, object]) -> str:
    return str(answer["result"]["content"][0]["text"])  # type: ignore[index]


@pytest.mark.parametrize("route", ["small", "remote"])
async def test_messages_up_to_max_message_bytes_pass_and_larger_ones_get_a_clear_error(
    gateway: str, route: str
) -> None:
    async with http() as client:
        session = await Session(client, f"{gateway}/{route}/mcp").open()
        assert text_of(await call(session, 2, "big", size=1_500_000)) == "x" * 1_500_000
        too_big = await call(session, 3, "big", size=3_000_000)
        assert too_big["id"] == 3
        assert f"more than maxMessageBytes ({LIMIT})" in too_big["error"]["message"] or (
            f"larger than {LIMIT} bytes (maxMessageBytes)" in too_big["error"]["message"]
        )
        # the upstream link carries on: framing intact, same process, answers in order
        assert text_of(await call(session, 4, "echo", text="still framed")) == "still framed"
        # and the operator sees the drop counted, for that server and reason
        metrics = (await client.get(f"{gateway}/metrics")).text
        counted = re.search(
            rf'mcp_central_messages_dropped_total\{{(?=[^}}]*server="{route}")(?=[^}}]*reason="over_limits")'
            r"[^}]*\} (\S+)",
            metrics,
        )
        assert counted is not None and float(counted.group(1)) >= 1, metrics


async def test_stdio_lines_far_past_asyncio_defaults_work_by_default(gateway: str) -> None:
    # 12 MB on one stdio line (the default maxMessageBytes is 32 MiB); TBXark broke on long lines.
    async with http() as client:
        session = await Session(client, f"{gateway}/default/mcp").open()
        assert text_of(await call(session, 2, "big", size=6_000_000)) == "x" * 6_000_000


async def test_bodies_over_max_body_bytes_get_413_naming_the_limit() -> None:
    config = make_config(fixture_stdio("tight", max_body_bytes=4096))
    async with serve(config) as (base, _app), http() as client:
        session = await Session(client, f"{base}/tight/mcp").open()
        fits = await call(session, 2, "echo", text="y" * 3000)
        assert text_of(fits) == "y" * 3000
        too_big = await call_status(session, 3, "echo", text="y" * 5000)
        assert too_big.status_code == 413 and "larger than 4096 bytes (maxBodyBytes)" in too_big.text
        async with client.stream("GET", f"{base}/tight/sse") as stream:
            lines = stream.aiter_lines()
            endpoint = await anext(lines)
            while not endpoint.startswith("data: "):
                endpoint = await anext(lines)
            message_url = base + endpoint.removeprefix("data: ")
            body = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "z" * 5000}}
            legacy = await client.post(message_url, json=body)
        assert legacy.status_code == 413 and "maxBodyBytes" in legacy.text
        assert text_of(await call(session, 4, "echo", text="after")) == "after"


async def call_status(session: Session, request_id: int, tool: str, **arguments: object) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    return await session.post(body)


async def test_max_sessions_per_route_and_per_upstream_are_clear_errors() -> None:
    config = make_config(fixture_stdio("open"), fixture_stdio("capped", max_sessions=2), max_sessions=3)
    async with serve(config) as (base, _app), http() as client:
        sessions = [await Session(client, f"{base}/open/mcp").open() for _ in range(3)]
        refused = await client.post(f"{base}/open/mcp", json=INIT_REQUEST, headers=HEADERS)
        assert refused.status_code == 503 and refused.headers["retry-after"]
        error = refused.json()["error"]
        assert "route 'open' already serves 3 sessions" in error["message"]
        assert "mcpProxy.options.maxSessions" in error["message"]
        async with client.stream("GET", f"{base}/open/sse") as legacy:
            assert legacy.status_code == 503
            assert "maxSessions" in (await legacy.aread()).decode()
        await client.delete(sessions[0].url, headers={**HEADERS, **sessions[0].headers})
        await Session(client, f"{base}/open/mcp").open()  # room again once one ended

        for _ in range(2):
            await Session(client, f"{base}/capped/mcp").open()
        third = await client.post(f"{base}/capped/mcp", json=INIT_REQUEST, headers=HEADERS)
        assert "upstream 'capped' already serves 2 sessions" in third.json()["error"]["message"]
        assert "mcpServers.capped.maxSessions" in third.json()["error"]["message"]
