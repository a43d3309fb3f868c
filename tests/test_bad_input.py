"""Bad input never crashes or wedges the gateway: property-based tests (hypothesis) over the
downstream surface of a real ``mcp-central serve`` process, plus half-closed and slow connections.

Every generated request must get a well-formed answer (never a 500, never silence), nothing may
stay in flight upstream afterwards, and a normal client must be served throughout. The upstream is
the raw echo server, which answers anything at once, so any wait is the gateway's own.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ECHO_SERVER, INIT_REQUEST, free_port, stop_process, wait_for_port

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
ALLOWED = {200, 202, 400, 404, 405, 406, 413, 415}
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    config = tmp_path_factory.mktemp("bad-input") / "config.json"
    config.write_text(
        json.dumps(
            {
                "mcpProxy": {"addr": f"127.0.0.1:{port}", "options": {"maxBodyBytes": 65536}},
                "mcpServers": {
                    "echo": {"command": sys.executable, "args": [str(ECHO_SERVER)], "timeout": 10}
                },
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_central", "serve", "--config", str(config), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(proc, port, "mcp-central")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
        assert proc.stderr is not None
        log = proc.stderr.read().decode(errors="replace")
        assert proc.returncode == 0, log
        assert "Traceback" not in log and "Exception in ASGI application" not in log, log


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(15)) as http:
        yield http


def encode(value: Any) -> bytes:
    """JSON as any client might send it: big integers and Infinity included (orjson refuses both)."""
    return json.dumps(value).encode()


def open_session(client: httpx.Client, url: str) -> dict[str, str]:
    answer = client.post(url, json=INIT_REQUEST, headers=HEADERS)
    assert answer.status_code == 200
    return {
        **HEADERS,
        "Mcp-Session-Id": answer.headers["mcp-session-id"],
        "MCP-Protocol-Version": "2025-11-25",
    }


def assert_still_serving(client: httpx.Client, base: str) -> None:
    session = open_session(client, f"{base}/echo/mcp")
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "ok"}},
    }
    answer = client.post(f"{base}/echo/mcp", json=call, headers=session)
    assert answer.json()["result"]["content"][0]["text"] == "ok"


def nothing_in_flight(client: httpx.Client, base: str) -> None:
    deadline = time.monotonic() + 15
    while client.get(f"{base}/status").json()["upstreams"][0]["inFlight"]:
        assert time.monotonic() < deadline, "requests stayed in flight upstream"
        time.sleep(0.05)


def check_answer(response: httpx.Response, sent: Any) -> None:
    assert response.status_code in ALLOWED, (response.status_code, response.text, sent)
    if response.headers.get("content-type", "").startswith("application/json") and response.content:
        answer = response.json()
        assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0", answer
        assert ("result" in answer) != ("error" in answer), answer


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ids = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.text(max_size=30), st.none(), st.floats(allow_nan=False),
    st.booleans(), st.just(2**64), st.just("x" * 5000),
)  # fmt: skip
methods = st.sampled_from(
    [
        "tools/call", "tools/list", "resources/subscribe", "resources/unsubscribe", "logging/setLevel",
        "tasks/get", "tasks/result", "tasks/cancel", "tasks/list", "notifications/cancelled",
        "notifications/initialized", "notifications/progress", "initialize", "ping", "completion/complete",
        "subscriptions/listen", "server/discover", "x/unknown",
    ]
) | st.text(max_size=20)  # fmt: skip
params = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "name": json_values, "uri": json_values, "level": json_values, "taskId": json_values,
            "requestId": json_values, "cursor": json_values, "arguments": json_values,
            "_meta": st.fixed_dictionaries({}, optional={"progressToken": json_values}) | json_values,
            "task": json_values, "capabilities": json_values, "protocolVersion": json_values,
        },
    ),
)  # fmt: skip


@st.composite
def rpc_shaped(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0", 2]))}
    if draw(st.booleans()):
        message["method"] = draw(methods)
    if draw(st.booleans()):
        message["id"] = draw(ids)
    if draw(st.booleans()):
        message["params"] = draw(params)
    if draw(st.integers(0, 4)) == 0:
        message["result" if draw(st.booleans()) else "error"] = draw(json_values)
    return message


@PROPERTY
@given(body=st.binary(max_size=300) | json_values.map(encode))
def test_any_bytes_on_any_route_get_a_clear_answer(base: str, client: httpx.Client, body: bytes) -> None:
    for path in ("/echo/mcp", "/echo/message?sessionId=nope", "/mcp", "/echo/mcp/extra"):
        check_answer(client.post(base + path, content=body, headers=HEADERS), body)


@PROPERTY
@given(message=rpc_shaped())
def test_json_rpc_shaped_messages_on_a_session(
    base: str, client: httpx.Client, message: dict[str, Any]
) -> None:
    session = open_session(client, f"{base}/echo/mcp")
    response = client.post(f"{base}/echo/mcp", content=encode(message), headers=session)
    check_answer(response, message)
    client.delete(f"{base}/echo/mcp", headers=session)


@PROPERTY
@given(message=rpc_shaped())
def test_json_rpc_shaped_messages_without_a_session(
    base: str, client: httpx.Client, message: dict[str, Any]
) -> None:
    check_answer(client.post(f"{base}/echo/mcp", content=encode(message), headers=HEADERS), message)


@PROPERTY
@given(messages=st.lists(rpc_shaped(), min_size=1, max_size=5))
def test_json_rpc_shaped_messages_on_a_legacy_sse_session(
    base: str, client: httpx.Client, messages: list[dict[str, Any]]
) -> None:
    with client.stream("GET", f"{base}/echo/sse", headers={"Accept": "text/event-stream"}) as stream:
        lines = stream.iter_lines()
        endpoint = next(line for line in lines if line.startswith("data: ")).removeprefix("data: ")
        initialize = client.post(base + endpoint, json=INIT_REQUEST)
        assert initialize.status_code == 202
        for message in messages:
            response = client.post(base + endpoint, content=encode(message), headers=HEADERS)
            assert response.status_code in ALLOWED, (response.status_code, response.text, message)


@PROPERTY
@given(session_id=st.text(min_size=1, max_size=60).filter(lambda text: text.isascii() and text.isprintable()))
def test_unknown_sessions_are_404(base: str, client: httpx.Client, session_id: str) -> None:
    headers = {**HEADERS, "Mcp-Session-Id": session_id.strip() or "x"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert client.post(f"{base}/echo/mcp", json=ping, headers=headers).status_code == 404
    query = urlencode({"sessionId": session_id})
    assert client.post(f"{base}/echo/message?{query}", json=ping).status_code == 404


def test_after_all_that_nothing_is_in_flight_and_clients_are_served(base: str, client: httpx.Client) -> None:
    nothing_in_flight(client, base)
    assert_still_serving(client, base)


def test_a_duplicate_id_in_flight_is_refused_and_both_answers_stay_apart(
    base: str, client: httpx.Client
) -> None:
    session = open_session(client, f"{base}/echo/mcp")
    sleep = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"seconds": 1}},
    }
    first = raw_socket(base)
    try:
        first.sendall(raw_post(session, encode(sleep)))
        deadline = time.monotonic() + 10
        while not client.get(f"{base}/status").json()["upstreams"][0]["inFlight"]:
            assert time.monotonic() < deadline, "the first request never went upstream"
            time.sleep(0.02)
        again = client.post(f"{base}/echo/mcp", json=sleep, headers=session)
        assert again.status_code == 400 and "already in flight" in again.json()["error"]["message"]
        reply = b""
        while b'"slept"' not in reply:
            chunk = first.recv(65536)
            assert chunk, reply
            reply += chunk
        assert b'"id":7' in reply
    finally:
        first.close()


def raw_post(headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{key}: {value}" for key, value in headers.items()]
    head = "\r\n".join(["POST /echo/mcp HTTP/1.1", "Host: 127.0.0.1", *lines, f"Content-Length: {len(body)}"])
    return head.encode() + b"\r\n\r\n" + body


def raw_socket(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_half_closed_and_abandoned_connections_leave_nothing_behind(base: str, client: httpx.Client) -> None:
    session = open_session(client, f"{base}/echo/mcp")
    head = (
        "POST /echo/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\n"
        f"Mcp-Session-Id: {session['Mcp-Session-Id']}\r\nContent-Length: 1000\r\n\r\n"
    )
    for cut in (head[:20], head, head + '{"jsonrpc": "2.0", "id": 1,'):
        sock = raw_socket(base)
        sock.sendall(cut.encode())
        sock.shutdown(socket.SHUT_WR)  # half-closed: we will send nothing more
        sock.recv(65536)  # whatever the server says (or EOF); it must not hang on us
        sock.close()
    # a complete request whose client leaves before the answer
    sleep = orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "sleep", "arguments": {"seconds": 0.5}},
        }
    )
    sock = raw_socket(base)
    sock.sendall(head.replace("1000", str(len(sleep))).encode() + sleep)
    sock.close()
    nothing_in_flight(client, base)
    assert_still_serving(client, base)


def test_a_slow_client_does_not_hold_up_others(base: str, client: httpx.Client) -> None:
    slow = raw_socket(base)
    body = orjson.dumps(INIT_REQUEST)
    request = (
        f"POST /echo/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    try:
        for index, byte in enumerate(request[: len(request) // 2]):
            slow.send(bytes([byte]))
            if index % 40 == 0:
                assert_still_serving(client, base)  # served while the slow one trickles in
        slow.sendall(request[len(request) // 2 :])
        reply = b""
        while b"mcp-session-id" not in reply.lower():
            chunk = slow.recv(65536)
            assert chunk, reply
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200")
    finally:
        slow.close()


UNUSABLE_IDS: list[Any] = [[1], {"a": 1}, [], {}]


@pytest.mark.parametrize("bad_id", UNUSABLE_IDS, ids=repr)
def test_ids_that_are_arrays_or_objects_get_a_4xx_on_every_route(
    base: str, client: httpx.Client, bad_id: Any
) -> None:
    """``notifications/cancelled`` naming a list or object, and responses with such ids, are refused
    as malformed on server and group routes, with a session or without, over both transports."""
    messages = [
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": bad_id}},
        {"jsonrpc": "2.0", "id": bad_id, "result": {}},
        {"jsonrpc": "2.0", "id": bad_id, "error": {"code": -1, "message": "no"}},
        {"jsonrpc": "2.0", "id": bad_id, "method": "ping"},
    ]
    stateless = {**HEADERS, "MCP-Protocol-Version": "2026-07-28"}
    for path in ("/echo/mcp", "/mcp"):
        session = open_session(client, base + path)
        for message in messages:
            for headers in (session, stateless):
                response = client.post(base + path, content=encode(message), headers=headers)
                assert 400 <= response.status_code < 500, (path, message, response.status_code, response.text)
                assert "must be a string or an integer" in response.json()["error"]["message"]
    for path in ("/echo/sse", "/sse"):
        with client.stream("GET", base + path, headers={"Accept": "text/event-stream"}) as stream:
            lines = stream.iter_lines()
            endpoint = next(line for line in lines if line.startswith("data: ")).removeprefix("data: ")
            assert client.post(base + endpoint, json=INIT_REQUEST).status_code == 202
            for message in messages:
                response = client.post(base + endpoint, content=encode(message), headers=HEADERS)
                assert 400 <= response.status_code < 500, (path, message, response.status_code, response.text)
                assert "must be a string or an integer" in response.json()["error"]["message"]
    assert_still_serving(client, base)
