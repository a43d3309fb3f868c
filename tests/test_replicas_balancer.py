"""deploy/haproxy/haproxy.cfg in front of two real replicas: when the replica holding a client's
tool call is killed with ``kill -9``, the shipped settings give that one call an error at once and
the client carries on; without ``option httpclose`` HAProxy closes the client's keep-alive
connection with no answer and the official SDK client dies with it (issue 17).

Clients speak the stateless 2026-07-28 revision, so any replica serves any request without a
session store: what is shown here is the balancer's part alone.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from conftest import FIXTURE_SERVER
from replicas import Cluster, Replica, replicas_behind_haproxy

pytestmark = pytest.mark.anyio

STATELESS = "2026-07-28"
SLOW_SECONDS = 30  # the killed replica's upstream is killed by PID too; this bounds it regardless
DEADLINE = 20  # "at once" with generous room on a shared 2-core machine; far below SLOW_SECONDS

CONFIG: dict[str, Any] = {
    "mcpProxy": {"addr": "127.0.0.1:9090", "name": "replicas", "options": {"logEnabled": False}},
    "mcpServers": {
        "fixture": {
            "command": sys.executable,
            "args": [str(FIXTURE_SERVER), "--transport", "stdio", "--name", "fixture"],
        }
    },
}


@asynccontextmanager
async def sdk_client(base: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(60)) as http,
        Client(streamable_http_client(f"{base}/fixture/mcp", http_client=http), mode=STATELESS) as client,
    ):
        yield client


async def upstream_pid(replica: Replica) -> int:
    """The fixture server process behind ``replica`` (to stop it by PID once the replica is gone)."""
    async with sdk_client(replica.url) as client:
        result = await client.call_tool("pid", {})
    return int(result.content[0].text)  # type: ignore[union-attr]


async def upstream_pids(cluster: Cluster) -> dict[int, int]:
    return {replica.port: await upstream_pid(replica) for replica in cluster.replicas}


def kill_with_its_upstream(replica: Replica, pids: dict[int, int]) -> None:
    """``kill -9`` the replica, then its stdio upstream by PID (orphaned, it would sleep on)."""
    replica.kill()
    with suppress(ProcessLookupError):
        os.kill(pids[replica.port], signal.SIGKILL)


async def holder_of_the_call(cluster: Cluster) -> Replica:
    """The replica with a request in flight to its upstream, per its own /status."""
    async with httpx.AsyncClient(timeout=5) as http, asyncio.timeout(DEADLINE):
        while True:
            for replica in cluster.replicas:
                status = (await http.get(f"{replica.url}/status")).json()
                if any(upstream.get("inFlight") for upstream in status["upstreams"]):
                    return replica
            await asyncio.sleep(0.05)


async def kill_the_holder_mid_call(cluster: Cluster, client: Client) -> tuple[BaseException | None, float]:
    """Start a slow call through the balancer, ``kill -9`` the replica serving it (and its
    upstream); what the call ended with, and after how long."""
    pids = await upstream_pids(cluster)
    for _ in range(4):  # reuse the client's keep-alive connection, as a busy client does
        assert (await client.call_tool("echo", {"text": "warm"})).content[0].text == "warm"  # type: ignore[union-attr]
    started = time.monotonic()
    call = asyncio.ensure_future(client.call_tool("slow", {"seconds": SLOW_SECONDS}))
    kill_with_its_upstream(await holder_of_the_call(cluster), pids)
    outcome: BaseException | None = None
    try:
        async with asyncio.timeout(DEADLINE):
            await call
    except TimeoutError:
        raise AssertionError(f"the call hung: no answer {DEADLINE} s after its replica died") from None
    except BaseException as exc:  # what the client saw is the result
        outcome = exc
    return outcome, time.monotonic() - started


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


async def test_shipped_config_fails_only_the_call_in_flight_and_the_client_carries_on(
    tmp_path: Path,
) -> None:
    with replicas_behind_haproxy(CONFIG, tmp_path, count=2) as cluster:
        async with sdk_client(cluster.balancer_url) as client:
            outcome, took = await kill_the_holder_mid_call(cluster, client)
            assert isinstance(outcome, MCPError), repr(outcome)  # HAProxy's 502, as an error
            assert took < DEADLINE
            # The same client, without a new connect: every next call lands on the survivor.
            for n in range(4):
                result = await client.call_tool("echo", {"text": f"after {n}"})
                assert result.content[0].text == f"after {n}"  # type: ignore[union-attr]
        assert " 502 " in cluster.haproxy_log.read_text()


@pytest.mark.parametrize(
    ("without", "client_sees"),
    [((), "HTTP 502"), (("option httpclose",), "connection closed, no answer")],
    ids=["shipped", "without-httpclose"],
)
async def test_http_request_in_flight_on_a_killed_replica(
    tmp_path: Path, without: tuple[str, ...], client_sees: str
) -> None:
    """The same kill at the HTTP level, on one keep-alive client connection."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": STATELESS,
        "Mcp-Method": "tools/call",
    }
    meta = {
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }

    async def call(http: httpx.AsyncClient, name: str, arguments: dict[str, Any]) -> httpx.Response:
        params = {"name": name, "arguments": arguments, "_meta": meta}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        return await http.post("/fixture/mcp", json=body, headers={**headers, "Mcp-Name": name})

    with replicas_behind_haproxy(CONFIG, tmp_path, count=2, without=without) as cluster:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=cluster.balancer_url, timeout=60, limits=limits) as http:
            pids = await upstream_pids(cluster)
            for _ in range(2):
                assert (await call(http, "echo", {"text": "warm"})).status_code == 200
            pending = asyncio.ensure_future(call(http, "slow", {"seconds": SLOW_SECONDS}))
            kill_with_its_upstream(await holder_of_the_call(cluster), pids)
            async with asyncio.timeout(DEADLINE):
                try:
                    seen = f"HTTP {(await pending).status_code}"
                except httpx.RemoteProtocolError:
                    seen = "connection closed, no answer"
            assert seen == client_sees
            assert (await call(http, "echo", {"text": "after"})).status_code == 200


async def test_without_httpclose_the_kill_takes_the_whole_sdk_client_down(tmp_path: Path) -> None:
    """Why ``option httpclose`` is in the shipped config: HAProxy closes a keep-alive client
    connection silently when a replica dies before answering, and the SDK client does not survive."""
    outcome: BaseException | None = None
    with replicas_behind_haproxy(CONFIG, tmp_path, count=2, without=("option httpclose",)) as cluster:
        try:
            async with sdk_client(cluster.balancer_url) as client:
                outcome, _took = await kill_the_holder_mid_call(cluster, client)
                await client.call_tool("echo", {"text": "after"})
        except BaseException as exc:  # the client's end is what this test is about
            outcome = exc
    assert outcome is not None, "the client survived the kill without option httpclose"
    assert not isinstance(outcome, MCPError), "the call got an answer; the connection was not cut"
    assert any(isinstance(leaf, httpx2.RemoteProtocolError) for leaf in leaves(outcome)), repr(outcome)
