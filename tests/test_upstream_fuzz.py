"""An upstream that sends garbage among its answers: the link stays up and every answer is right.

``tests/servers/fuzzy_server.py`` writes random bad lines (not JSON, wrong shapes, unknown ids,
params of the wrong type, odd ids and tokens, over-long lines) before each answer. Eight clients
call it at once through the gateway; each must get exactly its own answers, the upstream must stay
``ready`` with no restart, and ``/status`` must count what it dropped.
"""

from __future__ import annotations

import asyncio
import sys

import anyio
import pytest
import uvicorn

from conftest import TESTS, http_client, make_config, mcp_client, serve
from mcp_central.config.model import ServerConfig
from servers.garbled_sse import GarbledSSE

pytestmark = pytest.mark.anyio

FUZZY = ServerConfig(
    name="fuzzy",
    transport="stdio",
    command=sys.executable,
    args=(str(TESTS / "servers" / "fuzzy_server.py"),),
    timeout=10,
    max_message_bytes=64 * 1024,
)


async def test_garbage_from_the_upstream_never_costs_an_answer_or_the_link() -> None:
    answers: dict[int, list[str]] = {}

    async def client(n: int) -> None:
        async with mcp_client(f"{base}/fuzzy/mcp", "streamable-http") as session:
            got = answers.setdefault(n, [])
            for k in range(10):
                result = await session.call_tool("echo", {"text": f"{n}-{k}", "seed": n * 100 + k})
                got.append(result.content[0].text)  # type: ignore[union-attr]

    async with serve(make_config(FUZZY)) as (base, _app):
        with anyio.fail_after(120):
            async with anyio.create_task_group() as group:
                for n in range(8):
                    group.start_soon(client, n)
        async with http_client() as http:
            (status,) = (await http.get(f"{base}/status")).json()["upstreams"]
    assert answers == {n: [f"{n}-{k}" for k in range(10)] for n in range(8)}
    assert status["state"] == "ready" and status["restarts"] == 0
    assert status["dropped"]["malformed"] > 0


async def test_a_legacy_sse_upstream_that_sends_garbage_keeps_its_stream() -> None:
    """Bad events on an SSE upstream's one stream are skipped; the stream (and the link) stay."""
    upstream = GarbledSSE()
    server = uvicorn.Server(
        uvicorn.Config(
            upstream,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        with anyio.fail_after(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
                await anyio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        garbled = ServerConfig(
            name="garbled", transport="sse", url=f"http://127.0.0.1:{port}/sse", timeout=10
        )
        async with serve(make_config(garbled)) as (base, _app):
            async with mcp_client(f"{base}/garbled/mcp", "streamable-http") as session:
                for k in range(5):
                    result = await session.call_tool("echo", {"text": f"t{k}"})
                    assert result.content[0].text == f"t{k}"  # type: ignore[union-attr]
            async with http_client() as http:
                (status,) = (await http.get(f"{base}/status")).json()["upstreams"]
        assert status["state"] == "ready" and status["restarts"] == 0
        assert status["dropped"]["malformed"] >= 5
    finally:
        server.should_exit = True
        await task
