"""Identities on the wire: every route, method and credential, session hijacks, what Alice and Bob
each see when they call at once, and rate limits.

Alice may use servers ``a`` and ``s`` and groups ``team`` and ``all``; Bob servers ``b`` and ``s``
and no group; only Alice is an admin. The global token ``G`` stays an anonymous token with full
access. Upstreams are real (the echo server for the table, the SDK fixture server for tools).
Who got what is worked out here from those few rules, not from the gateway's code; that nothing
went upstream for a refusal is checked with the calls the gateway reports (``Gateway.observers``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import orjson
import pytest
from mcp.shared.exceptions import MCPError

from conftest import INIT_REQUEST, echo_stdio, fixture_stdio, http_client, make_config, mcp_client, serve
from mcp_central.config.model import Config, GroupConfig, IdentityConfig, NameFilter, RateLimit
from mcp_central.core.calls import CallRecord
from mcp_central.downstream.app import Gateway
from test_stateless_downstream import post as stateless_post
from test_stateless_downstream import request as stateless_request

pytestmark = pytest.mark.anyio

G, A, B, WRONG = "global-token", "alice-token", "bob-token", "wrong-token"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
ALICE = IdentityConfig("alice", (A,), servers=("a", "s"), groups=("team", "all"), admin=True)
BOB = IdentityConfig("bob", (B,), servers=("b", "s"), groups=())


class Recorder:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def call_finished(self, record: CallRecord) -> None:
        self.records.append(record)

    def upstream(self) -> int:
        return sum(1 for record in self.records if record.server)


def table_config() -> Config:
    servers = [echo_stdio(name, auth_tokens=(G,)) for name in ("a", "b", "s")]
    groups = {"team": GroupConfig("team", ("a", "b", "s"), (G,))}
    config = make_config(*servers, tokens=(G,), groups=groups)
    return Config(config.proxy, config.servers, "test", config.groups, {"alice": ALICE, "bob": BOB})


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[tuple[str, Gateway, Recorder]]:
    recorder = Recorder()
    async with serve(table_config()) as (url, app):
        app.observers.add(recorder)
        yield url, app, recorder


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


# (path, method, what a served request answers, who the route is for)
ROUTES = [
    ("/a/mcp", "POST", 200, A),
    ("/a/mcp", "GET", 400, A),  # served: no session named → 400
    ("/a/mcp", "DELETE", 400, A),
    ("/a/sse", "GET", 200, A),
    ("/a/message?sessionId=x", "POST", 404, A),
    ("/b/mcp", "POST", 200, B),
    ("/b/mcp", "GET", 400, B),
    ("/b/mcp", "DELETE", 400, B),
    ("/b/sse", "GET", 200, B),
    ("/b/message?sessionId=x", "POST", 404, B),
    ("/groups/team/mcp", "POST", 200, A),
    ("/groups/team/mcp", "GET", 400, A),
    ("/groups/team/mcp", "DELETE", 400, A),
    ("/groups/team/sse", "GET", 200, A),
    ("/groups/team/message?sessionId=x", "POST", 404, A),
    ("/mcp", "POST", 200, A),
    ("/mcp", "GET", 400, A),
    ("/mcp", "DELETE", 400, A),
    ("/sse", "GET", 200, A),
    ("/message?sessionId=x", "POST", 404, A),
    ("/a/mcp stateless", "POST", 200, A),
    ("/mcp stateless", "POST", 200, A),
    ("/status", "GET", 200, A),
]
CREDENTIALS = {"none": None, "wrong": WRONG, "alice": A, "bob": B, "global": G}


def expected_status(served: int, owner: str, credential: str | None) -> int:
    if credential in (None, WRONG):
        return 401
    if credential in (G, owner):
        return served
    return 403  # the other identity's valid token: a route it may not use


async def attempt(http: httpx.AsyncClient, base: str, path: str, method: str, token: str | None) -> int:
    headers = {**HEADERS, **bearer(token)}
    if path.endswith(" stateless"):
        url = f"{base}{path.split()[0]}"
        body = stateless_request(1, "tools/list")
        return (await stateless_post(http, url, body, **bearer(token))).status_code
    url = f"{base}{path}"
    if path.endswith("/sse"):
        async with http.stream("GET", url, headers=headers) as reply:
            return reply.status_code  # the stream is closed on leaving
    if method == "POST":
        # An initialize on /mcp; on /message a call: either would reach an upstream if let through.
        body = INIT_REQUEST if path.endswith("mcp") else {**INIT_REQUEST, "method": "tools/call"}
        reply = await http.post(url, content=orjson.dumps(body), headers=headers)
        if reply.status_code == 200 and "mcp-session-id" in reply.headers:
            await http.delete(url, headers={**headers, "Mcp-Session-Id": reply.headers["mcp-session-id"]})
        if reply.status_code == 403 and not path.startswith("/status"):
            route = path.partition("?")[0]
            assert f"may not use route '{route}'" in reply.json()["error"]["message"]
        return reply.status_code
    return (await http.request(method, url, headers=headers)).status_code


@pytest.mark.parametrize(("path", "method", "served", "owner"), ROUTES)
async def test_every_route_method_and_credential(
    gateway: tuple[str, Gateway, Recorder], path: str, method: str, served: int, owner: str
) -> None:
    base, _app, recorder = gateway
    async with http_client() as http:
        for label, credential in CREDENTIALS.items():
            want = expected_status(served, owner, credential)
            before_upstream, before = recorder.upstream(), len(recorder.records)
            got = await attempt(http, base, path, method, credential)
            assert got == want, (path, method, label)
            if want in (401, 403):
                assert recorder.upstream() == before_upstream, (path, method, label)  # nothing went upstream
                refused = [r for r in recorder.records[before:] if r.outcome == "refused"]
                assert refused, (path, method, label)
                assert refused[-1].server == ""
                assert refused[-1].context.identity == {A: "alice", B: "bob"}.get(str(credential))


# --------------------------------------------------------------------------- session hijack


async def test_alices_session_is_unknown_to_bobs_token() -> None:
    async with serve(table_config()) as (base, _app), http_client() as http:
        url = f"{base}/s/mcp"  # a route both may use
        opened = await http.post(url, content=orjson.dumps(INIT_REQUEST), headers={**HEADERS, **bearer(A)})
        session = opened.headers["mcp-session-id"]
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {}},
        }
        for token in (B, G):
            headers = {**HEADERS, **bearer(token), "Mcp-Session-Id": session}
            post = await http.post(url, content=orjson.dumps(call), headers=headers)
            assert post.status_code == 404, token
            assert (await http.get(url, headers=headers)).status_code == 404, token
            assert (await http.delete(url, headers=headers)).status_code == 404, token
        mine = {**HEADERS, **bearer(A), "Mcp-Session-Id": session}
        echoed = await http.post(url, content=orjson.dumps(call), headers=mine)
        assert echoed.status_code == 200 and "result" in echoed.json()
        # Legacy SSE: Alice's stream, Bob's POST naming it.
        async with mcp_client(f"{base}/s/sse", "sse", A) as client:
            assert [tool.name for tool in (await client.list_tools()).tools] == ["echo"]
            endpoint = next(iter(_app.routes["s"].sessions))
            hijack = await http.post(
                f"{base}/s/message?sessionId={endpoint}", headers=bearer(B), content=orjson.dumps(call)
            )
            assert hijack.status_code == 404
            assert (await client.call_tool("echo", {"text": "still mine"})).content[0].text == "still mine"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- who sees what, at once

ALICE_TOOLS = IdentityConfig(
    "alice",
    (A,),
    servers=("a", "s"),
    groups=("team", "all"),
    tool_filter=NameFilter("block", ("env", "s__add")),  # an own name everywhere, one server's tool
)
BOB_TOOLS = IdentityConfig(
    "bob", (B,), servers=("b", "s"), groups=("team", "all"), tool_filter=NameFilter("allow", ("echo", "add"))
)


def visible(identity: IdentityConfig, every: dict[str, set[str]]) -> set[str]:
    """What ``identity`` should see on /mcp: its servers' tools, minus its ``tools`` patterns
    (own name or server__tool)."""
    assert identity.tool_filter is not None
    patterns, allow = set(identity.tool_filter.patterns), identity.tool_filter.mode == "allow"
    names = set()
    for server in identity.servers or ():
        for tool in every[server]:
            matched = tool in patterns or f"{server}__{tool}" in patterns
            if matched == allow:
                names.add(f"{server}__{tool}")
    return names


async def test_alice_and_bob_at_once_each_see_and_call_only_their_own() -> None:
    servers = [fixture_stdio(name, auth_tokens=(G,)) for name in ("a", "b", "s")]
    base_config = make_config(
        *servers, tokens=(G,), groups={"team": GroupConfig("team", ("a", "b", "s"), (G,))}
    )
    config = Config(
        base_config.proxy,
        base_config.servers,
        "test",
        base_config.groups,
        {"alice": ALICE_TOOLS, "bob": BOB_TOOLS},
    )
    async with serve(config) as (base, _app):
        async with mcp_client(f"{base}/a/mcp", "streamable-http", G) as anonymous:
            own_tools = {tool.name for tool in (await anonymous.list_tools()).tools}
        every = {name: own_tools for name in ("a", "b", "s")}
        seen: dict[tuple[str, str, int], set[str]] = {}

        async def client(identity: IdentityConfig, token: str, path: str, number: int) -> None:
            async with mcp_client(f"{base}{path}/mcp", "streamable-http", token) as session:
                names = {tool.name for tool in (await session.list_tools()).tools}
                seen[identity.name, path, number] = names
                mine = sorted(name for name in names if name.endswith("__echo"))
                for name in mine:
                    answer = await session.call_tool(name, {"text": f"{identity.name}-{number}"})
                    assert answer.content[0].text == f"{identity.name}-{number}"  # type: ignore[union-attr]
                theirs = {"alice": ["b__echo", "s__add", "a__env"], "bob": ["a__echo", "s__whoami"]}
                for name in theirs[identity.name]:
                    with pytest.raises(MCPError, match=f"Unknown tool: {name}"):
                        await session.call_tool(name, {"text": "x", "a": 1, "b": 2, "name": "HOME"})

        with anyio.fail_after(120):
            async with anyio.create_task_group() as group:
                for number in range(3):
                    for path in ("", "/groups/team"):
                        group.start_soon(client, ALICE_TOOLS, A, path, number)
                        group.start_soon(client, BOB_TOOLS, B, path, number)
        for (name, _path, _number), names in seen.items():
            identity = ALICE_TOOLS if name == "alice" else BOB_TOOLS
            assert names == visible(identity, every), name
        assert len(seen) == 12
        # On a server route the same patterns hold: Alice may not call s's add (s__add) or env.
        async with mcp_client(f"{base}/s/mcp", "streamable-http", A) as session:
            names = {tool.name for tool in (await session.list_tools()).tools}
            assert names == own_tools - {"add", "env"}
            with pytest.raises(MCPError, match="Unknown tool: add"):
                await session.call_tool("add", {"a": 1, "b": 2})
        # Stateless requests too.
        async with http_client() as http:
            listed = await stateless_post(
                http, f"{base}/b/mcp", stateless_request(1, "tools/list"), **bearer(B)
            )
            assert {tool["name"] for tool in listed.json()["result"]["tools"]} == {"echo", "add"}
            call = stateless_request(2, "tools/call", {"name": "whoami", "arguments": {}})
            refused = await stateless_post(http, f"{base}/b/mcp", call, **bearer(B))
            assert refused.json()["error"]["message"] == "Unknown tool: whoami"


# --------------------------------------------------------------------------- rate limits


async def test_rate_limit_is_per_identity_answers_429_and_refills() -> None:
    limited = IdentityConfig("alice", (A,), rate_limit=RateLimit(3, 2.0))  # 1.5 per second
    config = make_config(echo_stdio("a", auth_tokens=(G,)), tokens=(G,))
    unlimited = IdentityConfig("bob", (B,))
    config = Config(config.proxy, config.servers, "test", {}, {"alice": limited, "bob": unlimited})
    async with serve(config) as (base, app), http_client() as http:
        url = f"{base}/a/mcp"

        async def post(token: str, body: dict[str, Any], session: str | None = None) -> httpx.Response:
            headers = {**HEADERS, **bearer(token), **({"Mcp-Session-Id": session} if session else {})}
            return await http.post(url, content=orjson.dumps(body), headers=headers)

        opened = await post(A, INIT_REQUEST)  # initialize counts: 1
        session = opened.headers["mcp-session-id"]
        ping = {"jsonrpc": "2.0", "id": 5, "method": "ping"}
        assert (
            await post(A, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        ).status_code == 202
        replies = [await post(A, {**ping, "id": n}, session) for n in range(6)]
        statuses = [reply.status_code for reply in replies]
        assert 429 in statuses and statuses[0] == 200, statuses
        over = replies[statuses.index(429)]
        assert int(over.headers["retry-after"]) >= 1
        assert over.json()["error"]["data"]["retryAfter"] == int(over.headers["retry-after"])
        assert "identities.alice.rateLimit" in over.json()["error"]["message"]
        # Bob (no limit) is not slowed by Alice's bucket.
        bob = await post(B, INIT_REQUEST)
        assert bob.status_code == 200
        # The bucket refills: within a deadline, Alice is served again.
        with anyio.fail_after(10):
            while (await post(A, ping, session)).status_code == 429:  # noqa: ASYNC110 - polling the wire
                await asyncio.sleep(0.1)
        admin = {"Authorization": f"Bearer {G}"}
        status = (await http.get(f"{base}/status", headers=admin)).json()
        assert status["identities"]["alice"]["limited"] >= 1
        assert status["identities"]["bob"]["limited"] == 0
        assert A not in orjson.dumps(status).decode()
        assert app.identities.by_name["alice"].limited == status["identities"]["alice"]["limited"]


async def test_rate_limit_on_legacy_sse_is_a_jsonrpc_error_on_the_stream() -> None:
    limited = IdentityConfig("alice", (A,), rate_limit=RateLimit(2, 3600.0))
    config = make_config(echo_stdio("a", auth_tokens=(G,)), tokens=(G,))
    config = Config(config.proxy, config.servers, "test", {}, {"alice": limited})
    async with serve(config) as (base, _app), mcp_client(f"{base}/a/sse", "sse", A) as client:
        # initialize and this list take both tokens; the next request is answered on the stream.
        await client.list_tools()
        with pytest.raises(MCPError, match="over its rate limit") as refused:
            await client.call_tool("echo", {"text": "x"})
        assert refused.value.error.data["retryAfter"] >= 1
