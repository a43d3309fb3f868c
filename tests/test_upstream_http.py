"""HTTP upstreams: the SDK fixture server served over legacy SSE and over streamable HTTP, reached
through the gateway by the SDK client over both downstream transports.

The fixture server runs as a real subprocess on a free 127.0.0.1 port and is stopped by PID.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from conftest import (
    make_config,
    mcp_client,
    route_url,
    serve,
    start_fixture,
    stop_process,
)
from mcp_central.config.model import ServerConfig

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def http_upstreams() -> Iterator[dict[str, str]]:
    started = []
    try:
        started.append(start_fixture("sse", "fixture-sse"))
        started.append(start_fixture("streamable-http", "fixture-http"))
        started.append(start_fixture("streamable-http", "fixture-json", "--json-response"))
        ports = [port for _proc, port in started]
        yield {
            "sse": f"http://127.0.0.1:{ports[0]}/sse",
            "http": f"http://127.0.0.1:{ports[1]}/mcp",
            "json": f"http://127.0.0.1:{ports[2]}/mcp",
            "http_port": str(ports[1]),
        }
    finally:
        for proc, _port in started:
            stop_process(proc)


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
        ServerConfig(name="up-json", transport="streamable-http", url=http_upstreams["json"], timeout=20),
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
    ("upstream", "server_name"),
    [("up-sse", "fixture-sse"), ("up-http", "fixture-http"), ("up-json", "fixture-json")],
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
        # In JSON-response mode the upstream itself has no stream to send progress on.
        assert seen == ([] if upstream == "up-json" else [1, 2])
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
