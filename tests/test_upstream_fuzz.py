"""An upstream that sends garbage among its answers: the link stays up and every answer is right.

``tests/servers/fuzzy_server.py`` writes random bad lines (not JSON, wrong shapes, unknown ids,
params of the wrong type, odd ids and tokens, over-long lines) before each answer. Eight clients
call it at once through the gateway; each must get exactly its own answers, the upstream must stay
``ready`` with no restart, and ``/status`` must count what it dropped.
"""

from __future__ import annotations

import sys

import anyio
import pytest

from conftest import TESTS, http_client, make_config, mcp_client, serve
from mcp_central.config.model import ServerConfig

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
