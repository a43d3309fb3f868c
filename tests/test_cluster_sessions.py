"""Replicas share client sessions through Redis (``sessionStore``): any replica carries on any
session, server→client requests and their answers cross replicas, and each answer reaches exactly
the client it belongs to.

Three gateways in this process share one real ``redis-server``; each SDK client's requests go to
the replicas in turn (``RoundRobin``), so consecutive requests of one session — its initialize, its
calls, its answers to sampling and elicitation — land on different replicas.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2
import orjson
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from cluster_helpers import RedisProcess, RoundRobin, redis_server
from conftest import fixture_over_http, http_client, make_config, serve
from mcp_central.config.loader import load_config_text
from mcp_central.config.model import ServerConfig
from mcp_central.downstream.app import Gateway
from mcp_central.errors import ConfigError
from test_attribution import CALLS, TOOLS, Witness, call

pytestmark = pytest.mark.anyio

REPLICAS = 3
CLIENTS = 8
CLIENT_INFO = {"name": "t", "version": "1"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT_INFO},
}


@asynccontextmanager
async def replicas(
    redis_port: int, count: int = REPLICAS, tokens: tuple[str, ...] = (), **proxy: Any
) -> AsyncIterator[list[tuple[str, Gateway]]]:
    """``count`` gateways sharing sessions through Redis, all in front of one fixture server over
    streamable HTTP (whose reply streams say which call a server→client request belongs to)."""
    async with AsyncExitStack() as stack:
        port = stack.enter_context(fixture_over_http("fx"))
        upstream = ServerConfig(
            name="fx", transport="streamable-http", url=f"http://127.0.0.1:{port}/mcp", timeout=30
        )
        config = make_config(
            upstream, tokens=tokens, session_store=f"redis://127.0.0.1:{redis_port}/0", **proxy
        )
        running = [await stack.enter_async_context(serve(config)) for _ in range(count)]
        for _url, app in running:
            assert app.share is not None
            with anyio.fail_after(10):
                await app.share.listening.wait()
        yield running


@asynccontextmanager
async def spread_client(
    bases: list[str], path: str, **callbacks: Any
) -> AsyncIterator[tuple[Client, RoundRobin]]:
    """An SDK client (streamable HTTP) whose every request goes to the next replica."""
    spread = RoundRobin(bases)
    async with (
        httpx2.AsyncClient(transport=spread, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(
            streamable_http_client(f"{bases[0]}{path}", http_client=http), mode="legacy", **callbacks
        ) as client,
    ):
        yield client, spread


async def test_any_replica_carries_on_any_session_and_answers_reach_their_own_client() -> None:
    """Eight clients at once, six concurrent calls each (sampling, elicitation, logs carrying the
    client's secret) on the server route and the aggregated route, every request on the next
    replica: every call comes back with its own client's answer, no client sees another's
    prompt, and no session is ever re-initialized."""
    with redis_server() as redis_port:
        async with replicas(redis_port) as running:
            bases = [url for url, _app in running]
            witnesses = [Witness(n) for n in range(CLIENTS)]
            outcomes: list[str] = []
            initializes: list[int] = []

            async def one(witness: Witness, path: str, prefix: str) -> None:
                async with spread_client(
                    bases,
                    path,
                    sampling_callback=witness.sample,
                    elicitation_callback=witness.elicit,
                    logging_callback=witness.on_log,
                ) as (client, spread):
                    await client.set_logging_level("info")

                    async def one_call(k: int) -> None:
                        outcomes.append(await call(client, witness, TOOLS[k % len(TOOLS)], prefix, k))

                    async with anyio.create_task_group() as calls:
                        for k in range(CALLS):
                            calls.start_soon(one_call, k)
                    assert len(set(spread.reached)) == REPLICAS  # it really went everywhere
                initializes.append(1)

            with anyio.fail_after(120):
                async with anyio.create_task_group() as group:
                    for n, witness in enumerate(witnesses):
                        path, prefix = ("/fx/mcp", "") if n % 2 else ("/mcp", "fx__")
                        group.start_soon(one, witness, path, prefix)

            assert outcomes.count("ok") == CLIENTS * CALLS, outcomes
            assert all(not w.foreign for w in witnesses), [w.foreign for w in witnesses]
            assert all(w.asked for w in witnesses)  # sampling and elicitation prompts did arrive
            # Each client ended its session (DELETE) on one replica: the copies on the others closed too.
            with anyio.fail_after(10):
                while any(app.routes["fx"].sessions or app.groups["all"].sessions for _u, app in running):  # noqa: ASYNC110 - other replicas' state
                    await asyncio.sleep(0.05)


@pytest.mark.parametrize(("path", "other_route"), [("/fx/mcp", "/mcp"), ("/mcp", "/fx/mcp")])
async def test_a_session_is_only_its_owners_on_every_replica(path: str, other_route: str) -> None:
    """A session id created with one token is unknown (404) to another token on another replica,
    and to another route; ending it (DELETE) on one replica ends it on the others. On a server
    route and on the aggregated route."""
    with redis_server() as redis_port:
        async with replicas(redis_port, 2, tokens=("alice-token-123456", "bob-token-1234567")) as running:
            (first, _), (second, _) = running
            init = INITIALIZE
            headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            async with http_client("alice-token-123456") as alice, http_client("bob-token-1234567") as bob:
                opened = await alice.post(f"{first}{path}", json=init, headers=headers)
                session = opened.headers["mcp-session-id"]
                with_session = {**headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
                stolen = await bob.post(f"{second}{path}", json=ping, headers=with_session)
                assert stolen.status_code == 404
                elsewhere = await alice.post(f"{second}{other_route}", json=ping, headers=with_session)
                assert elsewhere.status_code == 404
                carried = await alice.post(f"{second}{path}", json=ping, headers=with_session)
                assert carried.status_code == 200 and carried.json()["result"] == {}
                ended = await alice.delete(f"{second}{path}", headers=with_session)
                assert ended.status_code == 200
                with anyio.fail_after(10):  # the end reaches the first replica over Redis
                    while (  # noqa: ASYNC110
                        await alice.post(f"{first}{path}", json=ping, headers=with_session)
                    ).status_code != 404:
                        await asyncio.sleep(0.05)


async def test_legacy_sse_posts_reaching_another_replica_are_relayed_to_the_stream() -> None:
    """A legacy SSE client whose POSTs all land on other replicas than its stream's works as usual."""
    with redis_server() as redis_port:
        async with replicas(redis_port, 2) as running:
            bases = [url for url, _app in running]
            spread = RoundRobin(bases[1:])  # POSTs go to the second replica; the stream is on the first

            def factory(headers: Any = None, timeout: Any = None, auth: Any = None) -> httpx2.AsyncClient:
                return httpx2.AsyncClient(
                    headers=headers, timeout=timeout, auth=auth, transport=_StreamOnFirst(bases[0], spread)
                )

            witness = Witness(0)
            with anyio.fail_after(60):
                async with Client(
                    sse_client(f"{bases[0]}/fx/sse", httpx_client_factory=factory),
                    mode="legacy",
                    sampling_callback=witness.sample,
                ) as client:
                    assert await call(client, witness, "ask_llm", "", 1) == "ok"
                    assert await call(client, witness, "whisper", "", 2) == "ok"
            assert spread.reached, "no POST went to the other replica"


class _StreamOnFirst(httpx2.AsyncBaseTransport):
    """GETs (the SSE stream) to the first replica, POSTs through ``posts``."""

    def __init__(self, first: str, posts: RoundRobin) -> None:
        self._first = httpx2.AsyncHTTPTransport()
        self._posts = posts

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            return await self._posts.handle_async_request(request)
        return await self._first.handle_async_request(request)

    async def aclose(self) -> None:
        await self._first.aclose()
        await self._posts.aclose()


async def test_redis_outage_keeps_held_sessions_and_refuses_new_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While Redis is down, sessions a replica holds carry on; a new session gets 503 and one clear
    log line; when Redis is back, new sessions are served again."""
    caplog.set_level(logging.INFO, "mcp_central")
    redis = RedisProcess()
    redis.start()
    init = INITIALIZE
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    try:
        async with replicas(redis.port, 1) as running, http_client() as http:
            base, _app = running[0]
            async with spread_client([base], "/fx/mcp") as (client, _spread):
                assert (await client.call_tool("echo", {"text": "before"})).content[0].text == "before"
                redis.stop()
                assert (await client.call_tool("echo", {"text": "during"})).content[0].text == "during"
                refused = [await http.post(f"{base}/fx/mcp", json=init, headers=headers) for _ in range(3)]
                assert [answer.status_code for answer in refused] == [503] * 3
                assert "session store is unavailable" in refused[0].json()["error"]["message"]
                outage = [
                    r.getMessage() for r in caplog.records if "unavailable (could not" in r.getMessage()
                ]
                assert len(outage) == 1 and "new sessions get 503" in outage[0], outage
                redis.start()
                with anyio.fail_after(20):
                    while (await http.post(f"{base}/fx/mcp", json=init, headers=headers)).status_code != 200:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                assert any("is back after" in r.getMessage() for r in caplog.records)
                assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"
    finally:
        redis.close()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://cache:6379", 'expected "memory" or redis://host:port/db'),
        ("redis://:hunter2-secret@cache:6379/x", "the database must be a number"),
        (42, 'expected "memory" or a redis:// URL, got int'),
    ],
)
def test_a_bad_session_store_is_a_key_path_error_without_its_password(value: object, problem: str) -> None:
    text = orjson.dumps({"mcpProxy": {"options": {"sessionStore": value}}, "mcpServers": {}}).decode()
    with pytest.raises(ConfigError) as raised:
        load_config_text(text, "config.json")
    message = str(raised.value)
    assert "mcpProxy.options.sessionStore" in message and problem in message, message
    assert "hunter2-secret" not in message


def test_memory_and_redis_urls_are_accepted() -> None:
    for value, expected in (("memory", None), ("rediss://:pw@cache:6380/2", "rediss://:pw@cache:6380/2")):
        text = orjson.dumps({"mcpProxy": {"options": {"sessionStore": value}}, "mcpServers": {}}).decode()
        assert load_config_text(text, "config.json").proxy.session_store == expected
