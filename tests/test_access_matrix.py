"""Every route, method and credential of a gateway that has it all: identities with static tokens,
OAuth access tokens from a real authorization server, groups, the aggregated route, the OpenAPI
bridge, ``/status``, ``/metrics`` and the dashboard's data.

Alice may use server ``a``, group ``team`` and the aggregated route; Bob server ``b`` only; Ops is
an admin and may use no route. Alice and Ops come by OAuth (oauth2-mock-server via
``tests/servers/oauth_server.mjs``: their ``sub`` maps to the identity), Bob by his static token.
What each must get is worked out here from those rules. That a refusal sent nothing upstream is
read from the gateway's own ``mcp_central_requests_total`` (series with a server), before and after.
The gateway is a real ``mcp-central serve`` process; every process is stopped by PID.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import ECHO_SERVER, INIT_REQUEST, free_port, running_gateway
from test_oauth import issuer as issuer  # a fixture: the authorization server's URL
from test_oauth import mint

pytestmark = pytest.mark.anyio

BOB = "bob-static-token"
CAROL = "carol-static-token"
WRONG = "wrong-token"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def gateway(issuer: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    echo = {"command": sys.executable, "args": [str(ECHO_SERVER)]}
    config = {
        "mcpProxy": {
            "baseURL": base,
            "addr": f"127.0.0.1:{port}",
            "options": {
                "oauth": {
                    "issuer": issuer,
                    "requiredScopes": ["mcp"],
                    "identities": {"alice-sub": "alice", "carol-sub": "carol", "ops-*": "ops"},
                },
            },
        },
        "mcpServers": {"a": echo, "b": echo},
        "groups": {"team": {"servers": ["a", "b"]}},
        "identities": {
            "alice": {"servers": ["a"], "groups": ["team", "all"]},
            "bob": {"tokens": [BOB], "servers": ["b"], "groups": []},
            "ops": {"servers": [], "groups": [], "admin": True},
            "carol": {"tokens": [CAROL], "servers": ["a"], "groups": ["team"]},
        },
    }
    path = tmp_path_factory.mktemp("matrix") / "config.json"
    path.write_text(json.dumps(config))
    with running_gateway(["serve", "--config", str(path)], port, ready="/readyz"):
        yield base


# (path, method, the status a served request gets, who may use it)
MCP_ROUTES = [
    (f"{route}{leaf}", method, served, owner)
    for route, owner in (("/a", "alice"), ("/b", "bob"), ("/groups/team", "alice"), ("", "alice"))
    for leaf, method, served in (
        ("/mcp", "POST", 200),
        ("/mcp", "GET", 400),  # served, but no session named
        ("/mcp", "DELETE", 400),
        ("/sse", "GET", 200),
        ("/message?sessionId=x", "POST", 404),
    )
]
OPENAPI_ROUTES = [
    (f"/openapi{route}/{leaf}", method, served, owner)
    for route, owner in (("/a", "alice"), ("/b", "bob"), ("/groups/team", "alice"), ("", "alice"))
    for leaf, method, served in (("openapi.json", "GET", 200), ("resources", "GET", 200))
] + [("/openapi/a/echo", "POST", 200, "alice"), ("/openapi/b/echo", "POST", 200, "bob")]
ADMIN_VIEWS = [(path, "GET", 200, "ops") for path in ("/status", "/metrics", "/ui/api/state")]
TABLE = MCP_ROUTES + OPENAPI_ROUTES + ADMIN_VIEWS
CREDENTIALS = ("none", "wrong", "expired", "alice", "bob", "ops")


def expected(served: int, owner: str, credential: str) -> int:
    if credential in ("none", "wrong", "expired"):
        return 401
    return served if credential == owner else 403


async def tokens(authorization_server: str, base: str) -> dict[str, str | None]:
    def claims(sub: str) -> dict[str, Any]:
        return {"sub": sub, "aud": base, "scope": "mcp"}

    return {
        "none": None,
        "wrong": WRONG,
        "expired": await mint(authorization_server, claims("alice-sub"), expiresIn=-600),
        "alice": await mint(authorization_server, claims("alice-sub")),
        "bob": BOB,
        "ops": await mint(authorization_server, claims("ops-1")),
    }


async def attempt(http: httpx.AsyncClient, url: str, method: str, token: str | None) -> httpx.Response:
    headers = dict(HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if url.endswith("/sse"):
        async with http.stream("GET", url, headers=headers) as reply:
            await reply.aclose()
            return reply
    if method == "POST" and "/openapi/" in url:
        return await http.post(url, json={"text": "hi"}, headers=headers)
    if method == "POST":
        body = INIT_REQUEST if url.endswith("mcp") else {**INIT_REQUEST, "method": "tools/call"}
        reply = await http.post(url, json=body, headers=headers)
        if reply.status_code == 200 and "mcp-session-id" in reply.headers:
            await http.delete(url, headers={**headers, "Mcp-Session-Id": reply.headers["mcp-session-id"]})
        return reply
    return await http.request(method, url, headers=headers)


async def upstream_requests(http: httpx.AsyncClient, base: str, ops: str) -> float:
    """Requests the gateway has answered from an upstream (series with a server), all routes."""
    text = (await http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {ops}"})).text
    pattern = r'^mcp_central_requests_total\{(?=[^}]*server="[^"]+")[^}]*\} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, text, flags=re.M))


async def test_every_route_method_and_credential(gateway: str, issuer: str) -> None:
    credentials = await tokens(issuer, gateway)
    ops = credentials["ops"]
    assert ops is not None
    failures = []
    async with httpx.AsyncClient(timeout=30) as http:
        for path, method, served, owner in TABLE:
            for label in CREDENTIALS:
                want = expected(served, owner, label)
                before = await upstream_requests(http, gateway, ops)
                reply = await attempt(http, f"{gateway}{path}", method, credentials[label])
                if reply.status_code != want:
                    failures.append((path, method, label, reply.status_code, want))
                    continue
                if want == 401:  # the challenge that sends an OAuth client to the metadata
                    challenge = reply.headers.get("www-authenticate", "")
                    assert challenge.startswith("Bearer") and "resource_metadata=" in challenge, (path, label)
                if want in (401, 403):
                    assert await upstream_requests(http, gateway, ops) == before, (path, method, label)
    assert not failures, "\n".join(f"{m} {p} as {c}: {got}, want {w}" for p, m, c, got, w in failures)


async def test_a_session_opened_by_oauth_is_unknown_to_another_identity(gateway: str, issuer: str) -> None:
    """Alice's session id with the token of Carol, who may use the same route (her static token or
    her access token), is 404 on POST, GET and DELETE, as if unknown; Alice, with a newly issued
    token (a refresh), keeps her session."""
    credentials = await tokens(issuer, gateway)
    credentials["carol"] = CAROL
    credentials["carol by OAuth"] = await mint(issuer, {"sub": "carol-sub", "aud": gateway, "scope": "mcp"})
    url = f"{gateway}/groups/team/mcp"
    async with httpx.AsyncClient(timeout=30) as http:
        reply = await http.post(
            url, json=INIT_REQUEST, headers={**HEADERS, "Authorization": f"Bearer {credentials['alice']}"}
        )
        assert reply.status_code == 200
        session = reply.headers["mcp-session-id"]
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        for intruder in ("carol", "carol by OAuth"):
            headers = {
                **HEADERS,
                "Mcp-Session-Id": session,
                "Authorization": f"Bearer {credentials[intruder]}",
            }
            assert (await http.post(url, json=ping, headers=headers)).status_code == 404
            async with http.stream("GET", url, headers=headers) as stream:
                assert stream.status_code == 404
            assert (await http.delete(url, headers=headers)).status_code == 404
        refreshed = await mint(issuer, {"sub": "alice-sub", "aud": gateway, "scope": "mcp", "n": 2})
        headers = {**HEADERS, "Mcp-Session-Id": session, "Authorization": f"Bearer {refreshed}"}
        answer = await http.post(url, json=ping, headers=headers)
        assert answer.status_code == 200 and '"result"' in answer.text
        assert (await http.delete(url, headers=headers)).status_code in (200, 202, 204)


def test_the_table_covers_every_kind_of_route() -> None:
    kinds = {path.split("?")[0].rsplit("/", 1)[-1] for path, *_ in TABLE}
    assert {"mcp", "sse", "message", "openapi.json", "echo", "status", "metrics", "state"} <= kinds
