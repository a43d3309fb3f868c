"""Experimental tasks (2025-11-25) through a shared link: they work, and each belongs to its creator.

The upstream is npm's server-everything over stdio, whose ``simulate-research-query`` tool runs as
a task when asked (``params.task``) and finishes after four one-second stages. Two clients share the
link; neither may see, poll or fetch the other's task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from conftest import make_config, serve
from mcp_central.config.model import ServerConfig
from raw_http import Session
from test_node_peers import EVERYTHING

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not EVERYTHING.exists(), reason="npm peers not installed: run `make test`"),
]


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    upstream = ServerConfig(
        name="ev", transport="stdio", command="node", args=(str(EVERYTHING), "stdio"), timeout=30
    )
    async with serve(make_config(upstream)) as (url, _app):
        yield f"{url}/ev/mcp"


async def test_a_task_runs_to_its_result_and_stays_with_its_creator(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        alice = await Session(http, gateway).open()
        bob = await Session(http, gateway).open()
        with anyio.fail_after(30):
            created, before = await alice.rpc(
                1,
                "tools/call",
                {"name": "simulate-research-query", "arguments": {"topic": "owls"}, "task": {"ttl": 60000}},
            )
            task_id = created["result"]["task"]["taskId"]
            assert all(note["params"]["taskId"] == task_id for note in before)  # status went to alice

            bobs_list, _ = await bob.rpc(2, "tasks/list")
            assert task_id not in {task["taskId"] for task in bobs_list["result"]["tasks"]}
            for method in ("tasks/get", "tasks/result", "tasks/cancel"):
                refused, _ = await bob.rpc(3, method, {"taskId": task_id})
                assert refused["error"]["code"] == -32602 and "Unknown task" in refused["error"]["message"]

            alices_list, _ = await alice.rpc(4, "tasks/list")
            assert task_id in {task["taskId"] for task in alices_list["result"]["tasks"]}
            status, _ = await alice.rpc(5, "tasks/get", {"taskId": task_id})
            assert status["result"]["taskId"] == task_id
            final, _ = await alice.rpc(6, "tasks/result", {"taskId": task_id})
    assert "Research Report: owls" in final["result"]["content"][0]["text"]
    related = final["result"]["_meta"]["io.modelcontextprotocol/related-task"]
    assert related["taskId"] == task_id  # _meta passes untouched
