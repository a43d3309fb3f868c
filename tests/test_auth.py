"""Bearer tokens: every MCP route answers 401 without a valid token, and nothing reaches the upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import INIT_REQUEST as INIT
from conftest import echo_stdio, make_config, mcp_client, route_url, serve

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    config = make_config(
        echo_stdio("guarded", auth_tokens=(TOKEN, "second-token")),
        echo_stdio("open"),
        tokens=(TOKEN,),
    )
    async with serve(config) as (url, _app):
        yield url


ROUTES = [
    ("POST", "/guarded/mcp"),
    ("GET", "/guarded/mcp"),
    ("DELETE", "/guarded/mcp"),
    ("GET", "/guarded/sse"),
    ("POST", "/guarded/message?sessionId=x"),
    ("GET", "/status"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_token(gateway: str, method: str, path: str) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:
        missing = await client.request(method, gateway + path, json=INIT, headers=headers)
        wrong = await client.request(
            method, gateway + path, json=INIT, headers={**headers, "Authorization": "Bearer nope"}
        )
        in_query = await client.request(method, f"{gateway}{path}{'&' if '?' in path else '?'}token={TOKEN}")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert in_query.status_code == 401  # tokens are only read from the Authorization header


async def test_unauthenticated_requests_never_reach_the_upstream(gateway: str) -> None:
    async with httpx.AsyncClient() as client:
        rejected = await client.post(f"{gateway}/guarded/mcp", json=INIT)
        status = (await client.get(f"{gateway}/status", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert rejected.status_code == 401
    guarded = next(up for up in status["upstreams"] if up["name"] == "guarded")
    assert guarded["sessions"] == 0


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_valid_tokens_reach_tools(gateway: str, transport: str) -> None:
    for token in (TOKEN, "second-token"):
        async with mcp_client(route_url(gateway, "guarded", transport), transport, token=token) as client:
            result = await client.call_tool("echo", {"text": "hi"})
        assert result.content[0].text == "hi"  # type: ignore[union-attr]


async def test_server_with_empty_token_list_is_open(gateway: str) -> None:
    async with mcp_client(f"{gateway}/open/mcp", "streamable-http") as client:
        tools = await client.list_tools()
    assert [tool.name for tool in tools.tools] == ["echo"]


async def test_health_endpoints_stay_open(gateway: str) -> None:
    async with httpx.AsyncClient() as client:
        for path in ("/", "/healthz"):
            assert (await client.get(gateway + path)).status_code == 200, path
        ready = await client.get(gateway + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "reasons": []}
