"""Requests that only one replica can serve, reaching another (``sessionStore`` in Redis): the
replica the client reached forwards the request to the one holding what it needs and writes its
answer back, so the client never notices which replica it talks to.

- a task lives on the upstream session of the replica that created it: ``tasks/get`` and
  ``tasks/result`` sent to another replica are answered by that one;
- a stateless (2026-07-28) call waiting for the client's input is parked on one replica: the retry
  with ``requestState`` reaching another is answered there;
- a reply stream dropped on one replica is resumed (``Last-Event-ID``) through another.
Raw HTTP on purpose: the test chooses which replica each request reaches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx
import pytest

from cluster_helpers import redis_server
from conftest import fixture_stdio, make_config, serve
from mcp_central.config.model import ServerConfig
from raw_http import Session, call, events_until, messages
from test_node_peers import EVERYTHING
from test_stateless_downstream import post, request

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def two_replicas(*servers: ServerConfig) -> AsyncIterator[tuple[str, str]]:
    with redis_server() as port:
        config = make_config(*servers, session_store=f"redis://127.0.0.1:{port}/0")
        async with AsyncExitStack() as stack:
            running = [await stack.enter_async_context(serve(config)) for _ in range(2)]
            for _url, app in running:
                assert app.share is not None
                with anyio.fail_after(10):
                    await app.share.listening.wait()
            yield running[0][0], running[1][0]


async def test_a_task_is_polled_and_fetched_through_another_replica() -> None:
    assert EVERYTHING.exists(), "npm peers not installed: run `make test`"
    everything = ServerConfig(
        name="ev", transport="stdio", command="node", args=(str(EVERYTHING), "stdio"), timeout=30
    )
    async with two_replicas(everything) as (first, second), httpx.AsyncClient(timeout=30) as http:
        alice = await Session(http, f"{first}/ev/mcp").open()
        bob = await Session(http, f"{second}/ev/mcp").open()
        with anyio.fail_after(40):
            created, _ = await alice.rpc(
                1,
                "tools/call",
                {"name": "simulate-research-query", "arguments": {"topic": "owls"}, "task": {"ttl": 60000}},
            )
            task_id = created["result"]["task"]["taskId"]
            alice.url = f"{second}/ev/mcp"  # from now on alice reaches the other replica
            status, _ = await alice.rpc(2, "tasks/get", {"taskId": task_id})
            assert status["result"]["taskId"] == task_id, status
            final, _ = await alice.rpc(3, "tasks/result", {"taskId": task_id})
            # Still the creator's alone, on every replica.
            refused, _ = await bob.rpc(4, "tasks/get", {"taskId": task_id})
    assert "Research Report: owls" in final["result"]["content"][0]["text"]
    assert refused["error"]["code"] == -32602 and "Unknown task" in refused["error"]["message"]


async def test_a_stateless_input_round_is_retried_through_another_replica() -> None:
    async with two_replicas(fixture_stdio("fx")) as (first, second), httpx.AsyncClient(timeout=30) as raw:
        ask = request(1, "tools/call", {"name": "ask_llm", "arguments": {"prompt": "2+2?"}})
        with anyio.fail_after(30):
            first_answer = (await post(raw, f"{first}/fx/mcp", ask)).json()["result"]
            assert first_answer["resultType"] == "input_required"
            [(key, _input)] = first_answer["inputRequests"].items()
            sampled = {"role": "assistant", "content": {"type": "text", "text": "4"}, "model": "m"}
            params = {
                **ask["params"],
                "inputResponses": {key: sampled},
                "requestState": first_answer["requestState"],
            }
            final = (await post(raw, f"{second}/fx/mcp", request(2, "tools/call", params))).json()
    assert final["id"] == 2
    assert final["result"]["resultType"] == "complete"
    assert final["result"]["content"][0]["text"] == "4"


async def test_a_dropped_reply_stream_is_resumed_through_another_replica() -> None:
    async with two_replicas(fixture_stdio("fx")) as (first, second), httpx.AsyncClient(timeout=30) as http:
        session = await Session(http, f"{first}/fx/mcp").open()
        with anyio.fail_after(30):
            async with session.stream_call(7, "gated", gate="across") as response:
                seen = await events_until(response, lambda events: len(events) >= 1)
            priming = seen[0]  # the connection is gone after it; the call goes on upstream
            opened = await call(session, 8, "open_gate", gate="across")
            assert opened["result"]["content"][0]["text"] == "opened"
            session.url = f"{second}/fx/mcp"
            async with session.resume(str(priming.id)) as resumed:
                assert resumed.status_code == 200
                replayed = await events_until(
                    resumed, lambda events: any("result" in m for m in messages(events))
                )
    got = messages(replayed)
    assert [m.get("method") for m in got] == ["notifications/progress", None]
    assert got[-1]["id"] == 7 and got[-1]["result"]["content"][0]["text"] == "passed across"
