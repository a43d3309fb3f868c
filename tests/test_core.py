"""Sans-IO core: id/progress remapping, JSON-RPC shapes, version negotiation, filters, Origin policy."""

from __future__ import annotations

import pytest

from mcp_central.config.model import NameFilter
from mcp_central.core import jsonrpc, protocol
from mcp_central.core.filters import allows, filter_listed
from mcp_central.core.requests import RequestTable
from mcp_central.core.tasks import TaskOwners, creates_task, task_id_of
from mcp_central.downstream.origin import OriginPolicy


def request(rid: object, token: object = None, method: str = "tools/call") -> dict:  # type: ignore[type-arg]
    params: dict = {"name": "x"}  # type: ignore[type-arg]
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


def test_colliding_client_ids_get_distinct_upstream_ids_and_come_back() -> None:
    table: RequestTable[str] = RequestTable()
    first, second = request(1), request(1)
    table.outgoing("alice", first)
    table.outgoing("bob", second)
    assert first["id"] != second["id"]
    answer = {"jsonrpc": "2.0", "id": second["id"], "result": {}}
    pending = table.incoming_response(answer)
    assert pending is not None and pending.owner == "bob"
    assert answer["id"] == 1
    assert table.incoming_response({"jsonrpc": "2.0", "id": second["id"], "result": {}}) is None


def test_progress_tokens_are_remapped_and_restored() -> None:
    table: RequestTable[str] = RequestTable()
    a, b = request("r", token="same"), request("r", token="same")
    table.outgoing("alice", a)
    table.outgoing("bob", b)
    upstream_a = a["params"]["_meta"]["progressToken"]
    upstream_b = b["params"]["_meta"]["progressToken"]
    assert upstream_a != upstream_b
    owner = table.progress_owner(upstream_b)
    assert owner is not None and owner.owner == "bob" and owner.progress_token == "same"


def test_cancellation_lookup_by_owner_and_downstream_id() -> None:
    table: RequestTable[str] = RequestTable()
    message = request("abc")
    table.outgoing("alice", message)
    assert table.upstream_id_of("alice", "abc") == message["id"]
    assert table.upstream_id_of("bob", "abc") is None
    table.pop(message["id"])
    assert table.upstream_id_of("alice", "abc") is None


def test_drain_returns_everything_in_flight() -> None:
    table: RequestTable[str] = RequestTable()
    for rid in range(3):
        table.outgoing("alice", request(rid))
    assert len(table.drain()) == 3
    assert len(table) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", -32700),
        (b"[]x", -32700),
        (b'"text"', -32600),
        (b'{"jsonrpc": "2.0"}', -32600),
        (b'{"jsonrpc": "2.0", "method": 5}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1.5, "method": "x"}', -32600),
        (b'{"jsonrpc": "2.0", "id": true, "method": "x"}', -32600),
        (b'{"id": 1, "method": "x"}', -32600),
    ],
)
def test_bad_bodies_get_the_right_json_rpc_error(body: bytes, code: int) -> None:
    with pytest.raises(jsonrpc.DecodeError) as info:
        jsonrpc.decode(body)
    assert info.value.error["code"] == code


def test_good_messages_decode_with_every_field_kept() -> None:
    message = jsonrpc.decode(
        b'{"jsonrpc":"2.0","id":"a","method":"m","params":{"_meta":{"k":1}},"extra":[1]}'
    )
    assert isinstance(message, dict)
    assert message["extra"] == [1] and message["params"]["_meta"] == {"k": 1}
    assert jsonrpc.is_request(message)


def test_version_negotiation() -> None:
    assert protocol.negotiate("2024-11-05") == "2024-11-05"
    assert protocol.negotiate("2025-06-18") == "2025-06-18"
    assert protocol.negotiate("2099-01-01") == protocol.LATEST_VERSION
    result = protocol.initialize_result(
        {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "s"}, "x": 1},
        "2025-03-26",
    )
    assert result["protocolVersion"] == "2025-03-26"
    assert result["x"] == 1 and result["serverInfo"] == {"name": "s"}


def test_tool_filters_allow_and_block_with_globs() -> None:
    block = NameFilter("block", ("delete_*", "drop"))
    allow = NameFilter("allow", ("read_*",))
    assert not allows("delete_file", block) and allows("read_file", block)
    assert allows("read_file", allow) and not allows("write_file", allow)
    result = {"tools": [{"name": "read_a"}, {"name": "write_b"}], "nextCursor": "c"}
    filter_listed(result, "tools", allow)
    assert result == {"tools": [{"name": "read_a"}], "nextCursor": "c"}


def test_origin_policy() -> None:
    policy = OriginPolicy("http://linuxserver.lan:9090", ("https://webui.lan",))
    assert policy.allows(None)
    assert policy.allows("http://localhost:5173")
    assert policy.allows("http://linuxserver.lan:3000")
    assert policy.allows("https://webui.lan/")
    assert not policy.allows("https://evil.example")
    assert not policy.allows("null")
    assert OriginPolicy("", ("*",)).allows("https://anything.example")


def test_server_requests_map_answers_back_only_from_their_client() -> None:
    from mcp_central.core.server_requests import ServerRequests, refusal

    table: ServerRequests[str] = ServerRequests()
    out = table.downstream({"jsonrpc": "2.0", "id": 7, "method": "sampling/createMessage"}, "alice")
    assert out["id"] != 7
    assert table.upstream("bob", {"jsonrpc": "2.0", "id": out["id"], "result": {}}) is None
    back = table.upstream("alice", {"jsonrpc": "2.0", "id": out["id"], "result": {}})
    assert back == {"jsonrpc": "2.0", "id": 7, "result": {}}
    second = table.downstream({"jsonrpc": "2.0", "id": 8, "method": "elicitation/create"}, "alice")
    assert table.drop("alice") == [8] and table.upstream("alice", {"id": second["id"]}) is None
    offered = {"sampling": {}}
    assert refusal("sampling/createMessage", None, {}, offered) is not None
    assert refusal("sampling/createMessage", "alice", {}, offered) is not None
    assert refusal("sampling/createMessage", "alice", {"sampling": {}}, offered) is None
    assert refusal("roots/list", "alice", {"roots": {}}, offered) is not None  # not offered on this link


def test_subscriptions_ask_upstream_once_per_uri() -> None:
    from mcp_central.core.fanout import Subscriptions

    subs: Subscriptions[str] = Subscriptions()
    assert subs.subscribe("a", "r://1") is True
    assert subs.subscribe("b", "r://1") is False
    assert subs.subscribers("r://1") == {"a", "b"}
    assert subs.unsubscribe("a", "r://1") is False
    assert subs.drop("b") == ["r://1"]
    assert subs.subscribers("r://1") == set()


def test_log_levels_upstream_gets_the_most_verbose() -> None:
    from mcp_central.core.fanout import LogLevels

    levels: LogLevels[str] = LogLevels()
    assert levels.set("a", "error") == "error"
    assert levels.set("b", "debug") == "debug"
    assert levels.set("a", "warning") is None  # b still wants debug
    assert levels.wants("a", "info") is False and levels.wants("a", "error") is True
    assert levels.wants("c", "debug") is True  # no level set: everything
    assert levels.drop("b") == "warning"


def test_tasks_belong_to_their_creator() -> None:
    owners: TaskOwners[str] = TaskOwners()
    assert creates_task({"method": "tools/call", "params": {"name": "x", "task": {"ttl": 1}}})
    assert not creates_task({"method": "tools/call", "params": {"name": "x"}})
    assert task_id_of({"task": {"taskId": "t1"}}) == "t1" and task_id_of({"taskId": "t2"}) == "t2"
    owners.claim("alice", "t1")
    owners.claim("bob", "t1")  # a later claim never steals a task
    owners.claim("bob", "t2")
    assert owners.allows("alice", "t1") and not owners.allows("bob", "t1")
    assert not owners.allows("alice", "unknown")
    listed = {"tasks": [{"taskId": "t1"}, {"taskId": "t2"}, {"taskId": "t3"}], "nextCursor": "c"}
    owners.filter_list("bob", listed)
    assert listed == {"tasks": [{"taskId": "t2"}], "nextCursor": "c"}
    owners.drop("bob")
    assert owners.owner_of("t2") is None and owners.owner_of("t1") == "alice"
