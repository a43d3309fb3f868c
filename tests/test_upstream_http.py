"""HTTP upstreams: the SDK fixture server served over legacy SSE and over streamable HTTP, reached
through the gateway by the SDK client over both downstream transports.

The fixture server runs as a real subprocess on a free 127.0.0.1 port and is stopped by PID.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from conftest import FIXTURE_SERVER, make_config, mcp_client, route_url, serve
from mcp_central.config.model import ServerConfig

pytestmark = pytest.mark.anyio


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_fixture(transport: str, name: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURE_SERVER), "--transport", transport, "--port", str(port), "--name", name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        assert proc.poll() is None, f"fixture server ({transport}) exited"
        assert time.monotonic() < deadline, f"fixture server ({transport}) did not listen within 30 s"
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def http_upstreams() -> Iterator[dict[str, str]]:
    sse_proc, sse_port = start_fixture("sse", "fixture-sse")
    try:
        http_proc, http_port = start_fixture("streamable-http", "fixture-http")
        try:
            yield {
                "sse": f"http://127.0.0.1:{sse_port}/sse",
                "http": f"http://127.0.0.1:{http_port}/mcp",
                "http_port": str(http_port),
            }
        finally:
            stop(http_proc)
    finally:
        stop(sse_proc)


@pytest.fixture(scope="module")
async def gateway(http_upstreams: dict[str, str]) -> AsyncIterator[str]:
    config = make_config(
        ServerConfig(name="up-sse", transport="sse", url=http_upstreams["sse"], timeout=20),
        ServerConfig(
            name="up-http",
            transport="streamable-http",
            url=http_upstreams["http"],
            timeout=20,
            headers={"X-Upstream-Key": "k"},
        ),
        ServerConfig(
            name="wrong-path",
            transport="streamable-http",
            url=f"http://127.0.0.1:{http_upstreams['http_port']}/no-such-path",
            timeout=5,
        ),
    )
    async with serve(config) as (url, _app):
        yield url


@pytest.mark.parametrize(
    ("upstream", "server_name"), [("up-sse", "fixture-sse"), ("up-http", "fixture-http")]
)
async def test_http_upstreams_through_both_transports(
    gateway: str, downstream: str, upstream: str, server_name: str
) -> None:
    async with mcp_client(route_url(gateway, upstream, downstream), downstream) as client:
        assert (await client.call_tool("whoami", {})).content[0].text == server_name  # type: ignore[union-attr]
        assert (await client.call_tool("add", {"a": 1, "b": 2})).content[0].text == "3"  # type: ignore[union-attr]
        seen: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(progress)

        await client.call_tool("progress", {"steps": 2}, progress_callback=on_progress)
        assert seen == [1, 2]
        resource = await client.read_resource("fixture://hello")
        assert resource.contents[0].text == "hello"  # type: ignore[union-attr]


async def test_configured_headers_reach_the_upstream_and_client_tokens_do_not(gateway: str) -> None:
    url = route_url(gateway, "up-http", "streamable-http")
    async with mcp_client(url, "streamable-http", token="client-secret") as client:
        key = await client.call_tool("header", {"name": "X-Upstream-Key"})
        auth = await client.call_tool("header", {"name": "Authorization"})
    assert key.content[0].text == "k"  # type: ignore[union-attr]
    assert auth.content[0].text == ""  # type: ignore[union-attr]


async def test_upstream_http_errors_become_clear_json_rpc_errors(gateway: str) -> None:
    async with httpx.AsyncClient() as client:
        status = (await client.get(f"{gateway}/status")).json()
    wrong = next(up for up in status["upstreams"] if up["name"] == "wrong-path")
    assert wrong["state"] == "failed"
    assert "HTTP 404" in wrong["lastError"]
    ok = next(up for up in status["upstreams"] if up["name"] == "up-http")
    assert ok["state"] == "ready"
