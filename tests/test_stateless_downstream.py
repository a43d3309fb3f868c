"""Stateless 2026-07-28 clients on ``/{name}/mcp``, served over handshake-era upstream links.

The SDK client (v2, default ``mode="auto"``) probes ``server/discover`` and stays modern when the
gateway answers it; the upstream is the SDK fixture server over stdio, which speaks 2025-11-25 to
the gateway. Raw HTTP checks the wire rules (mirrored headers, error codes, result fields).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import mcp_types as types
import orjson
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.subscriptions import ResourceUpdated, ToolsListChanged

from conftest import echo_stdio, fixture_stdio, http_client, make_config, serve

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
CAPS = {"sampling": {}, "elicitation": {"form": {}}}


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    config = make_config(fixture_stdio("fx"), echo_stdio(), fixture_stdio("solo", session_mode="isolated"))
    async with serve(config) as (url, _app):
        yield url


@asynccontextmanager
async def dual_era_client(url: str, **kwargs: Any) -> AsyncIterator[Client]:
    async with (
        http_client() as http,
        Client(streamable_http_client(url, http_client=http), **kwargs) as client,
    ):
        yield client


def text(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


def envelope(capabilities: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": CAPS if capabilities is None else capabilities,
        **extra,
    }


def request(
    request_id: int, method: str, params: dict[str, Any] | None = None, **meta: Any
) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {**(params or {}), "_meta": envelope(**meta)},
    }


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    params = body.get("params") or {}
    base = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": body["method"],
    }
    name = params.get("name") or params.get("uri")
    if name is not None:
        base["Mcp-Name"] = name
    base.update(headers)
    return await client.post(url, content=orjson.dumps(body), headers=base)


async def until_tools_changed_and_updated(sub: Any) -> list[Any]:
    """Events of a listen stream until both a tools list change and a resource update came (10 s)."""
    seen: list[Any] = []
    with anyio.fail_after(10):
        async for event in sub:
            seen.append(event)
            kinds = {type(e) for e in seen}
            if ToolsListChanged in kinds and ResourceUpdated in kinds:
                break
    return seen


# ---------------------------------------------------------------- with the SDK client


async def test_a_dual_era_client_stays_modern_and_uses_tools(gateway: str) -> None:
    async with dual_era_client(f"{gateway}/fx/mcp") as client:
        assert client.session.protocol_version == MODERN  # discover answered: no initialize happened
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"add", "ask_llm", "gated"} <= names
        assert text(await client.call_tool("add", {"a": 40, "b": 2})) == "42"
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        assert "Ada" in str(prompt.messages[0].content)


async def test_sampling_and_elicitation_become_input_required_round_trips(gateway: str) -> None:
    asked: list[str] = []

    async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append("sampling")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="Paris"), model="test-model"
        )

    async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append("elicitation")
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    url = f"{gateway}/fx/mcp"
    async with dual_era_client(url, sampling_callback=sample, elicitation_callback=elicit) as client:
        assert client.session.protocol_version == MODERN
        assert text(await client.call_tool("ask_llm", {"prompt": "capital of France?"})) == "Paris"
        assert text(await client.call_tool("ask_user", {"question": "name?"})) == "accept:Ada"
    assert asked == ["sampling", "elicitation"]


async def test_progress_arrives_and_logs_only_when_opted_in(gateway: str) -> None:
    steps: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append(progress)

    logs: dict[str, list[str]] = {"opted-in": [], "silent": []}

    def recorder(key: str) -> Any:
        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            logs[key].append(str(params.level))

        return on_log

    url = f"{gateway}/fx/mcp"
    async with (
        dual_era_client(url, logging_callback=recorder("opted-in"), log_level="warning") as loud,
        dual_era_client(url, logging_callback=recorder("silent")) as quiet,
    ):
        result = await loud.call_tool("progress", {"steps": 3}, progress_callback=on_progress)
        assert text(result) == "3 steps"
        assert text(await loud.call_tool("log_each_level", {})) == "logged"
        assert text(await quiet.call_tool("log_each_level", {})) == "logged"
    assert steps == [1, 2, 3]
    assert logs["opted-in"] == ["warning", "error"]
    assert logs["silent"] == []  # no logLevel in _meta: no log messages for that request


async def test_listen_delivers_opted_in_changes_to_that_stream(gateway: str) -> None:
    url = f"{gateway}/fx/mcp"
    async with dual_era_client(url) as listener, dual_era_client(url) as actor:
        async with listener.listen(
            tools_list_changed=True, resource_subscriptions=["fixture://hello"]
        ) as sub:
            assert sub.honored is not None and sub.honored.tools_list_changed
            assert list(sub.honored.resource_subscriptions or ()) == ["fixture://hello"]
            await actor.call_tool("touch", {"uri": "fixture://other"})  # not subscribed: must not arrive
            await actor.call_tool("touch", {"uri": "fixture://hello"})
            await actor.call_tool("grow", {"name": "grown_for_listen"})
            seen = await until_tools_changed_and_updated(sub)
        assert [e.uri for e in seen if isinstance(e, ResourceUpdated)] == ["fixture://hello"]
        assert "grown_for_listen" in {tool.name for tool in (await listener.list_tools()).tools}


async def test_32_modern_clients_never_get_each_others_answers(gateway: str) -> None:
    async def one(n: int) -> list[str]:
        async with dual_era_client(f"{gateway}/fx/mcp") as client:
            results = await asyncio.gather(
                *(client.call_tool("echo", {"text": f"{n}-{i}"}) for i in range(8))
            )
            return [text(result) for result in results]

    with anyio.fail_after(60):
        answers = await asyncio.gather(*(one(n) for n in range(32)))
    assert answers == [[f"{n}-{i}" for i in range(8)] for n in range(32)]


async def test_closing_the_stream_cancels_the_request_upstream(gateway: str) -> None:
    url = f"{gateway}/fx/mcp"
    body = request(
        5, "tools/call", {"name": "gated", "arguments": {"gate": "modern-cancel"}}, progressToken="t"
    )
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "gated",
    }
    # The fixture announces a cancelled gate as an update of resource gate://<gate>.
    async with (
        dual_era_client(url) as watcher,
        watcher.listen(resource_subscriptions=["gate://modern-cancel"]) as sub,
    ):
        async with httpx.AsyncClient(timeout=30) as raw:
            with anyio.fail_after(10):
                async with raw.stream("POST", url, content=orjson.dumps(body), headers=headers) as response:
                    assert response.headers["content-type"].startswith("text/event-stream")
                    async for chunk in response.aiter_bytes():
                        if b"notifications/progress" in chunk:
                            break  # the call is running upstream; now the client walks away
        with anyio.fail_after(10):
            event = await sub.__anext__()
        assert event == ResourceUpdated(uri="gate://modern-cancel")
        assert text(await watcher.call_tool("cancelled_gates", {})) == "modern-cancel"


async def test_an_isolated_route_sends_dual_era_clients_to_the_handshake(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as raw:
        response = await post(raw, f"{gateway}/solo/mcp", request(1, "server/discover"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32600 and "isolated" in error["message"]
    async with dual_era_client(f"{gateway}/solo/mcp") as client:
        assert client.session.protocol_version == "2025-11-25"
        assert text(await client.call_tool("add", {"a": 1, "b": 2})) == "3"


# ---------------------------------------------------------------- wire rules, raw


async def test_discover_and_results_carry_what_the_revision_requires(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as raw:
        discover = (await post(raw, f"{gateway}/fx/mcp", request(1, "server/discover"))).json()["result"]
        listed = (await post(raw, f"{gateway}/fx/mcp", request(2, "tools/list"))).json()["result"]
        called = await post(
            raw, f"{gateway}/fx/mcp", request(3, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}})
        )
    assert MODERN in discover["supportedVersions"] and "2025-11-25" in discover["supportedVersions"]
    assert discover["capabilities"]["tools"] is not None
    assert discover["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "fx"
    assert discover["instructions"].startswith("A fixture server")
    for result in (discover, listed):
        assert (
            result["resultType"] == "complete" and result["ttlMs"] == 0 and result["cacheScope"] == "private"
        )
    assert called.status_code == 200
    assert called.json()["result"]["resultType"] == "complete"
    assert "ttlMs" not in called.json()["result"]  # tools/call is not cacheable


async def test_the_envelope_stays_at_the_gateway_and_the_rest_passes(gateway: str) -> None:
    body = request(
        9, "tools/call", {"name": "echo", "arguments": {"text": "hi"}}, traceparent="00-abc-def-01"
    )
    async with httpx.AsyncClient(timeout=30) as raw:
        response = await post(raw, f"{gateway}/echo/mcp", body)
    result = response.json()["result"]
    received = result["_meta"]["received"]  # what the handshake-era upstream got
    assert received["params"]["_meta"] == {"traceparent": "00-abc-def-01"}
    assert received["params"]["arguments"] == {"text": "hi"}
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "echo-server"


@pytest.mark.parametrize(
    ("headers", "body_change", "status", "code"),
    [
        ({"Mcp-Method": "tools/list"}, None, 400, -32020),
        ({"Mcp-Name": "echo"}, None, 400, -32020),
        ({"Mcp-Name": "=?base64?not base64?="}, None, 400, -32020),
        ({"MCP-Protocol-Version": "2025-11-25"}, None, 400, -32020),
        ({"MCP-Protocol-Version": "2099-01-01"}, "version", 400, -32022),
        ({}, "no-capabilities", 400, -32602),
    ],
    ids=[
        "method-mismatch",
        "name-mismatch",
        "bad-base64",
        "version-mismatch",
        "unsupported",
        "no-capabilities",
    ],
)
async def test_bad_envelopes_get_a_400_naming_the_problem(
    gateway: str, headers: dict[str, str], body_change: str | None, status: int, code: int
) -> None:
    body = request(1, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}})
    if body_change == "version":
        body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2099-01-01"
    elif body_change == "no-capabilities":
        del body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]
    async with httpx.AsyncClient(timeout=30) as raw:
        response = await post(raw, f"{gateway}/fx/mcp", body, **headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    if code == -32022:
        assert MODERN in error["data"]["supported"] and error["data"]["requested"] == "2099-01-01"


async def test_an_mcp_name_may_travel_base64_encoded(gateway: str) -> None:
    encoded = "=?base64?" + base64.b64encode(b"fixture://hello").decode() + "?="
    async with httpx.AsyncClient(timeout=30) as raw:
        response = await post(
            raw,
            f"{gateway}/fx/mcp",
            request(1, "resources/read", {"uri": "fixture://hello"}),
            **{"Mcp-Name": encoded},
        )
    assert response.status_code == 200
    assert response.json()["result"]["contents"][0]["text"] == "hello"


async def test_session_era_methods_are_404_method_not_found(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as raw:
        response = await post(raw, f"{gateway}/fx/mcp", request(1, "ping"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32601


async def test_request_state_is_bound_to_its_request(gateway: str) -> None:
    url = f"{gateway}/fx/mcp"
    ask = request(1, "tools/call", {"name": "ask_llm", "arguments": {"prompt": "2+2?"}})
    async with httpx.AsyncClient(timeout=30) as raw:
        first = (await post(raw, url, ask)).json()["result"]
        assert first["resultType"] == "input_required"
        [(key, input_request)] = first["inputRequests"].items()
        assert input_request["method"] == "sampling/createMessage"
        assert input_request["params"]["messages"][0]["content"]["text"] == "2+2?"
        state = first["requestState"]

        forged = request(
            2, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}, "requestState": state}
        )
        refused = await post(raw, url, forged)
        assert refused.status_code == 400 and "requestState" in refused.json()["error"]["message"]
        unknown = request(3, "tools/call", {**ask["params"], "requestState": "made-up"})
        assert (await post(raw, url, unknown)).status_code == 400

        sampled = {"role": "assistant", "content": {"type": "text", "text": "4"}, "model": "m"}
        retry = request(
            4, "tools/call", {**ask["params"], "inputResponses": {key: sampled}, "requestState": state}
        )
        final = (await post(raw, url, retry)).json()
    assert final["id"] == 4
    assert final["result"]["resultType"] == "complete"
    assert final["result"]["content"][0]["text"] == "4"
