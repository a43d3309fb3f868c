"""npm's reference ``server-everything`` as an upstream, over stdio and over streamable HTTP.

The HTTP mode listens on every interface by itself; ``servers/loopback_only.mjs`` is preloaded so it
binds 127.0.0.1 only. The process is stopped by PID at the end.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest

from conftest import TESTS, free_port, make_config, mcp_client, route_url, serve, stop_process, wait_for_port
from mcp_central.config.model import ServerConfig

EVERYTHING = (
    TESTS.parent / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
)
LOOPBACK_ONLY = TESTS / "servers" / "loopback_only.mjs"

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not EVERYTHING.exists(), reason="npm peers not installed: run `make test`"),
]


@pytest.fixture(scope="module")
def everything_http() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        ["node", "--import", str(LOOPBACK_ONLY), str(EVERYTHING), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(proc, port, "server-everything")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
async def gateway(everything_http: str) -> AsyncIterator[str]:
    config = make_config(
        ServerConfig(
            name="ev-stdio", transport="stdio", command="node", args=(str(EVERYTHING), "stdio"), timeout=30
        ),
        ServerConfig(name="ev-http", transport="streamable-http", url=everything_http, timeout=30),
    )
    async with serve(config) as (url, _app):
        yield url


@pytest.mark.parametrize("upstream", ["ev-stdio", "ev-http"])
async def test_server_everything_tools_resources_prompts(
    gateway: str, downstream: str, upstream: str
) -> None:
    async with mcp_client(route_url(gateway, upstream, downstream), downstream) as client:
        assert client.server_info is not None and "everything" in client.server_info.name.lower()
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"echo", "get-sum", "get-tiny-image"} <= names
        echoed = await client.call_tool("echo", {"message": "through the gateway"})
        assert "through the gateway" in echoed.content[0].text  # type: ignore[union-attr]
        total = await client.call_tool("get-sum", {"a": 19, "b": 23})
        assert "42" in total.content[0].text  # type: ignore[union-attr]
        image = await client.call_tool("get-tiny-image", {})
        assert any(block.type == "image" for block in image.content)
        resources = await client.list_resources()
        assert resources.resources
        first = await client.read_resource(resources.resources[0].uri)
        assert first.contents
        prompts = await client.list_prompts()
        assert prompts.prompts
