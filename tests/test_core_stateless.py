"""``core.stateless`` without sockets: the 2026-07-28 envelope, mirrored headers and result rules."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_central.core import stateless


def message(method: str = "tools/call", **params: Any) -> dict[str, Any]:
    meta = {
        stateless.META_VERSION: "2026-07-28",
        stateless.META_CAPABILITIES: {"sampling": {}},
        stateless.META_CLIENT_INFO: {"name": "c", "version": "1"},
        stateless.META_LOG_LEVEL: "info",
        "traceparent": "00-1-2-01",
    }
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}


def headers(**values: str) -> Any:
    base = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "add"}
    base.update({key.replace("_", "-"): value for key, value in values.items()})
    return lambda name: base.get(name)


def test_a_valid_request_yields_its_envelope() -> None:
    envelope = stateless.check_request(message(name="add"), headers())
    assert envelope.version == "2026-07-28"
    assert envelope.capabilities == {"sampling": {}}
    assert envelope.log_level == "info"


@pytest.mark.parametrize(
    ("header_values", "code", "words"),
    [
        ({"mcp_method": "tools/list"}, stateless.HEADER_MISMATCH, "Mcp-Method"),
        ({"mcp_name": "sub"}, stateless.HEADER_MISMATCH, "Mcp-Name 'sub'"),
        ({"mcp_name": "=?base64?YWRk?="}, None, ""),  # "add", base64-encoded: accepted
        ({"mcp_name": "a\x01d"}, stateless.HEADER_MISMATCH, "invalid"),
        ({"mcp_protocol_version": "2025-11-25"}, stateless.HEADER_MISMATCH, "MCP-Protocol-Version"),
    ],
)
def test_mirrored_headers_must_match_the_body(
    header_values: dict[str, str], code: int | None, words: str
) -> None:
    if code is None:
        stateless.check_request(message(name="add"), headers(**header_values))
        return
    with pytest.raises(stateless.Rejection) as caught:
        stateless.check_request(message(name="add"), headers(**header_values))
    assert caught.value.code == code and words in caught.value.message
    assert caught.value.status == 400


def test_an_unknown_version_lists_what_is_supported() -> None:
    request = message(name="add")
    request["params"]["_meta"][stateless.META_VERSION] = "2030-01-01"
    with pytest.raises(stateless.Rejection) as caught:
        stateless.check_request(request, headers(mcp_protocol_version="2030-01-01"))
    assert caught.value.code == stateless.UNSUPPORTED_PROTOCOL_VERSION
    assert caught.value.data["requested"] == "2030-01-01"
    assert "2026-07-28" in caught.value.data["supported"] and "2024-11-05" in caught.value.data["supported"]


def test_the_envelope_is_stripped_for_the_upstream_and_nothing_else() -> None:
    original = message(name="add", arguments={"a": 1}, requestState="s", inputResponses={"k": {}})
    forwarded = stateless.upstream_request(original)
    assert forwarded["params"] == {
        "name": "add",
        "arguments": {"a": 1},
        "_meta": {"traceparent": "00-1-2-01"},
    }
    assert stateless.META_VERSION in original["params"]["_meta"]  # the caller's message is not mutated


def test_results_get_result_type_cache_hints_and_server_info() -> None:
    listed = stateless.complete({"tools": []}, "tools/list", {"name": "up"})
    assert listed == {
        "tools": [],
        "resultType": "complete",
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": {stateless.META_SERVER_INFO: {"name": "up"}},
    }
    called = stateless.complete({"content": [], "ttlMs": 5}, "tools/call", None)
    assert called == {"content": [], "ttlMs": 5, "resultType": "complete"}


def test_listen_filters_are_checked_and_tagging_copies() -> None:
    agreed = stateless.listen_agreement(
        {"notifications": {"toolsListChanged": True, "resourceSubscriptions": ["a", "a"]}}
    )
    assert agreed == {"toolsListChanged": True, "resourceSubscriptions": ["a"]}
    assert stateless.listened_methods(agreed) == {
        "notifications/tools/list_changed",
        "notifications/resources/updated",
    }
    with pytest.raises(stateless.Rejection):
        stateless.listen_agreement({"notifications": {"resourceSubscriptions": "a"}})
    note = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {}}
    assert stateless.tagged(note, 7)["params"]["_meta"] == {stateless.META_SUBSCRIPTION_ID: 7}
    assert note["params"] == {}


def test_requests_to_a_modern_upstream_carry_the_envelope() -> None:
    from mcp_central.core import stateless_client

    original = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "x", "_meta": {"progressToken": 3}},
    }
    out = stateless_client.stamped(original, {"sampling": {}}, {"name": "gw", "version": "1"}, "warning")
    meta = out["params"]["_meta"]
    assert meta[stateless.META_VERSION] == "2026-07-28" and meta["progressToken"] == 3
    assert (
        meta[stateless.META_CAPABILITIES] == {"sampling": {}} and meta[stateless.META_LOG_LEVEL] == "warning"
    )
    assert original["params"]["_meta"] == {"progressToken": 3}
    request = {"jsonrpc": "2.0", "id": 1, "method": "server/discover"}
    discover = stateless_client.stamped(request, {}, {"name": "gw", "version": "1"}, None)
    assert (
        discover["method"] == "server/discover"
        and stateless.META_LOG_LEVEL not in discover["params"]["_meta"]
    )


def test_input_required_results_become_retries() -> None:
    from mcp_central.core import stateless_client

    result = {
        "resultType": "input_required",
        "inputRequests": {"ask": {"method": "elicitation/create", "params": {"message": "?"}}, "bad": 3},
        "requestState": "opaque",
    }
    assert stateless_client.input_requests(result) == {
        "ask": {"method": "elicitation/create", "params": {"message": "?"}}
    }
    assert stateless_client.input_requests({"resultType": "complete"}) is None
    original = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "x"}}
    again = stateless_client.retried(original, {"ask": {"action": "accept"}}, "opaque")
    assert again["params"] == {
        "name": "x",
        "inputResponses": {"ask": {"action": "accept"}},
        "requestState": "opaque",
    }
    assert original["params"] == {"name": "x"}
    discovered = {
        "supportedVersions": ["2026-07-28"],
        "capabilities": {"tools": {}},
        "_meta": {stateless.META_SERVER_INFO: {"name": "up", "version": "2"}},
        "instructions": "hi",
    }
    assert stateless_client.speaks_stateless(discovered) and not stateless_client.speaks_stateless(
        {"supportedVersions": ["2025-11-25"]}
    )
    assert stateless_client.handshake_result(discovered) == {
        "protocolVersion": "2026-07-28",
        "capabilities": {"tools": {}},
        "serverInfo": {"name": "up", "version": "2"},
        "instructions": "hi",
    }
