"""Streamable-HTTP and legacy-SSE wire rules on a per-server route, checked with raw HTTP.

The upstream is tests/servers/echo_server.py, which reflects what it receives, so these tests also
prove that messages pass through untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from conftest import INIT_REQUEST as INIT
from conftest import echo_stdio, make_config, serve

pytestmark = pytest.mark.anyio

ACCEPT_BOTH = "application/json, text/event-stream"


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    config = make_config(echo_stdio(), allowed_origins=("https://app.example",))
    async with serve(config) as (url, _app):
        yield url


async def post(client: httpx.AsyncClient, url: str, body: Any, **headers: str) -> httpx.Response:
    base = {"Accept": ACCEPT_BOTH, "Content-Type": "application/json"}
    base.update(headers)
    return await client.post(url, content=orjson.dumps(body), headers=base)


async def open_session(client: httpx.AsyncClient, url: str) -> str:
    response = await post(client, url, INIT)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["serverInfo"]["name"] == "echo-server"
    return response.headers["mcp-session-id"]


async def test_initialize_issues_a_visible_ascii_session_id(gateway: str) -> None:
    async with httpx.AsyncClient() as client:
        session_id = await open_session(client, f"{gateway}/echo/mcp")
    assert len(session_id) >= 16
    assert all(0x21 <= ord(ch) <= 0x7E for ch in session_id)


async def test_unknown_methods_fields_and_meta_pass_untouched(gateway: str) -> None:
    url = f"{gateway}/echo/mcp"
    async with httpx.AsyncClient() as client:
        session_id = await open_session(client, url)
        request = {
            "jsonrpc": "2.0",
            "id": "abc",
            "method": "vendor/unknownThing",
            "params": {"_meta": {"progressToken": "tok-1", "x-trace": [1, 2]}, "deep": {"a": None}},
            "extraTopLevel": True,
        }
        response = await post(client, url, request, **{"Mcp-Session-Id": session_id})
    assert response.status_code == 200
    answer = response.json()
    assert answer["id"] == "abc"  # the client's own id comes back, whatever the upstream saw
    received = answer["result"]["received"]
    assert received["method"] == "vendor/unknownThing"
    assert received["extraTopLevel"] is True
    assert received["params"]["deep"] == {"a": None}
    assert received["params"]["_meta"]["x-trace"] == [1, 2]
    assert "progressToken" in received["params"]["_meta"]


async def test_wrong_accept_is_406(gateway: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await post(client, f"{gateway}/echo/mcp", INIT, Accept="application/json")
        get = await client.get(f"{gateway}/echo/mcp", headers={"Accept": "application/json"})
    assert response.status_code == 406
    assert get.status_code == 406


async def test_unsupported_protocol_version_is_400(gateway: str) -> None:
    url = f"{gateway}/echo/mcp"
    async with httpx.AsyncClient() as client:
        session_id = await open_session(client, url)
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        bad = await post(
            client, url, ping, **{"Mcp-Session-Id": session_id, "MCP-Protocol-Version": "1999-01-01"}
        )
        good = await post(
            client, url, ping, **{"Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-06-18"}
        )
    assert bad.status_code == 400
    assert "1999-01-01" in bad.json()["error"]["message"]
    assert good.status_code == 200


async def test_missing_session_is_400_and_unknown_session_is_404(gateway: str) -> None:
    url = f"{gateway}/echo/mcp"
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    async with httpx.AsyncClient() as client:
        missing = await post(client, url, ping)
        unknown = await post(client, url, ping, **{"Mcp-Session-Id": "no-such-session"})
    assert missing.status_code == 400
    assert unknown.status_code == 404


async def test_delete_ends_the_session(gateway: str) -> None:
    url = f"{gateway}/echo/mcp"
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    async with httpx.AsyncClient() as client:
        session_id = await open_session(client, url)
        deleted = await client.delete(url, headers={"Mcp-Session-Id": session_id})
        after = await post(client, url, ping, **{"Mcp-Session-Id": session_id})
        again = await client.delete(url, headers={"Mcp-Session-Id": session_id})
    assert deleted.status_code == 200
    assert after.status_code == 404
    assert again.status_code == 404


async def test_notifications_get_202_without_body(gateway: str) -> None:
    url = f"{gateway}/echo/mcp"
    async with httpx.AsyncClient() as client:
        session_id = await open_session(client, url)
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        response = await post(client, url, note, **{"Mcp-Session-Id": session_id})
    assert response.status_code == 202
    assert response.content == b""


async def test_malformed_bodies_get_json_rpc_errors(gateway: str) -> None:
    url = f"{gateway}/echo/mcp"
    headers = {"Accept": ACCEPT_BOTH, "Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:
        broken = await client.post(url, content=b"{not json", headers=headers)
        wrong_shape = await client.post(url, content=b'{"jsonrpc": "1.0", "id": 1}', headers=headers)
        wrong_type = await client.post(url, content=b"{}", headers={**headers, "Content-Type": "text/plain"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == -32700
    assert wrong_shape.status_code == 400 and wrong_shape.json()["error"]["code"] == -32600
    assert wrong_type.status_code == 415


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1.evil.example", "null"])
async def test_foreign_origin_is_403(gateway: str, origin: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await post(client, f"{gateway}/echo/mcp", INIT, Origin=origin)
        sse = await client.get(f"{gateway}/echo/sse", headers={"Origin": origin})
    assert response.status_code == 403
    assert sse.status_code == 403


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:6274", "https://app.example"])
async def test_loopback_and_configured_origins_are_allowed(gateway: str, origin: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await post(client, f"{gateway}/echo/mcp", INIT, Origin=origin)
    assert response.status_code == 200


async def test_legacy_sse_endpoint_event_and_message_flow(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream(
            "GET", f"{gateway}/echo/sse", headers={"Accept": "text/event-stream"}
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await anext(lines) == "event: endpoint"
            endpoint = (await anext(lines)).removeprefix("data: ")
            assert endpoint.startswith("/echo/message?sessionId=")
            accepted = await client.post(f"{gateway}{endpoint}", json=INIT)
            assert accepted.status_code == 202
            event: list[str] = []
            async for line in lines:
                if line == "" and event:
                    break
                if line:
                    event.append(line)
            assert event[0] == "event: message"
            answer = orjson.loads(event[1].removeprefix("data: "))
            assert answer["id"] == 1
            assert answer["result"]["protocolVersion"] == "2025-11-25"
        unknown = await client.post(f"{gateway}/echo/message?sessionId=nope", json=INIT)
    assert unknown.status_code == 404


async def test_base_url_path_prefixes_every_route() -> None:
    config = make_config(echo_stdio(), base_url="http://127.0.0.1/proxy", base_path="/proxy")
    async with serve(config) as (url, _app):
        assert url.endswith("/proxy")
        async with httpx.AsyncClient() as client:
            assert (await client.get(url + "/")).status_code == 200
            assert (await post(client, f"{url}/echo/mcp", INIT)).status_code == 200
            root = url.removesuffix("/proxy")
            assert (await post(client, f"{root}/echo/mcp", INIT)).status_code == 404


async def test_concurrent_sessions_each_get_their_own_answers(gateway: str) -> None:
    url = f"{gateway}/echo/mcp"

    async def one_client(client: httpx.AsyncClient, n: int) -> list[str]:
        session_id = await open_session(client, url)
        texts = []
        for i in range(5):
            # every client uses the same request ids: the gateway must keep them apart
            call = {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": f"client-{n}-call-{i}"}},
            }
            answer = (await post(client, url, call, **{"Mcp-Session-Id": session_id})).json()
            assert answer["id"] == i
            texts.append(answer["result"]["content"][0]["text"])
        return texts

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=40)) as client:
        results = await asyncio.gather(*(one_client(client, n) for n in range(20)))
    for n, texts in enumerate(results):
        assert texts == [f"client-{n}-call-{i}" for i in range(5)]


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
async def test_streamable_clients_of_each_revision_are_served(gateway: str, version: str) -> None:
    url = f"{gateway}/echo/mcp"
    init = {**INIT, "params": {**INIT["params"], "protocolVersion": version}}
    async with httpx.AsyncClient() as client:
        answer = await post(client, url, init)
        assert answer.json()["result"]["protocolVersion"] == version
        session = {"Mcp-Session-Id": answer.headers["mcp-session-id"], "MCP-Protocol-Version": version}
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": version}},
        }
        reply = await post(client, url, call, **session)
        headerless = await post(
            client, url, {**call, "id": 3}, **{"Mcp-Session-Id": session["Mcp-Session-Id"]}
        )
    assert reply.json()["result"]["content"][0]["text"] == version
    assert headerless.status_code == 200  # no MCP-Protocol-Version header: assumed 2025-03-26, still served


async def test_a_2024_11_05_client_on_the_legacy_sse_route(gateway: str) -> None:
    init = {**INIT, "params": {**INIT["params"], "protocolVersion": "2024-11-05"}}
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", f"{gateway}/echo/sse") as stream,
    ):
        lines = stream.aiter_lines()
        assert await anext(lines) == "event: endpoint"
        endpoint = (await anext(lines)).removeprefix("data: ")
        assert (await client.post(f"{gateway}{endpoint}", json=init)).status_code == 202
        async for line in lines:
            if line.startswith("data: "):
                answer = orjson.loads(line.removeprefix("data: "))
                break
    assert answer["result"]["protocolVersion"] == "2024-11-05"
    assert answer["result"]["serverInfo"]["name"] == "echo-server"


async def test_an_unknown_client_revision_gets_our_latest(gateway: str) -> None:
    init = {**INIT, "params": {**INIT["params"], "protocolVersion": "2030-01-01"}}
    async with httpx.AsyncClient() as client:
        answer = await post(client, f"{gateway}/echo/mcp", init)
    assert answer.json()["result"]["protocolVersion"] == "2025-11-25"
