"""Limits answer with clear errors and break nothing else: message size from an upstream, request
body size, sessions per route and per upstream. Raw HTTP (tests/raw_http.py) where the SDK client's
own limits would get in the way."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from conftest import (
    FIXTURE_SERVER,
    fixture_stdio,
    free_port,
    make_config,
    serve,
    stop_process,
    wait_for_port,
)
from mcp_central.config.model import ServerConfig
from raw_http import Session, call

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


async def test_stdio_lines_far_past_asyncio_defaults_work_by_default(gateway: str) -> None:
    # 12 MB on one stdio line (the default maxMessageBytes is 32 MiB); TBXark broke on long lines.
    async with http() as client:
        session = await Session(client, f"{gateway}/default/mcp").open()
        assert text_of(await call(session, 2, "big", size=6_000_000)) == "x" * 6_000_000
