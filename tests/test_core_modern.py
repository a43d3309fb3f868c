"""``core.modern`` without sockets: the 2026-07-28 envelope, mirrored headers and result rules."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_central.core import modern


def message(method: str = "tools/call", **params: Any) -> dict[str, Any]:
    meta = {
        modern.META_VERSION: "2026-07-28",
        modern.META_CAPABILITIES: {"sampling": {}},
        modern.META_CLIENT_INFO: {"name": "c", "version": "1"},
        modern.META_LOG_LEVEL: "info",
        "traceparent": "00-1-2-01",
    }
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}


def headers(**values: str) -> Any:
    base = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "add"}
    base.update({key.replace("_", "-"): value for key, value in values.items()})
    return lambda name: base.get(name)


def test_a_valid_request_yields_its_envelope() -> None:
    envelope = modern.check_request(message(name="add"), headers())
    assert envelope.version == "2026-07-28"
    assert envelope.capabilities == {"sampling": {}}
    assert envelope.log_level == "info"


@pytest.mark.parametrize(
    ("header_values", "code", "words"),
    [
        ({"mcp_method": "tools/list"}, modern.HEADER_MISMATCH, "Mcp-Method"),
        ({"mcp_name": "sub"}, modern.HEADER_MISMATCH, "Mcp-Name 'sub'"),
        ({"mcp_name": "=?base64?YWRk?="}, None, ""),  # "add", base64-encoded: accepted
        ({"mcp_name": "a\x01d"}, modern.HEADER_MISMATCH, "invalid"),
        ({"mcp_protocol_version": "2025-11-25"}, modern.HEADER_MISMATCH, "MCP-Protocol-Version"),
    ],
)
def test_mirrored_headers_must_match_the_body(
    header_values: dict[str, str], code: int | None, words: str
) -> None:
    if code is None:
        modern.check_request(message(name="add"), headers(**header_values))
        return
    with pytest.raises(modern.Rejection) as caught:
        modern.check_request(message(name="add"), headers(**header_values))
    assert caught.value.code == code and words in caught.value.message
    assert caught.value.status == 400


def test_an_unknown_version_lists_what_is_supported() -> None:
    request = message(name="add")
    request["params"]["_meta"][modern.META_VERSION] = "2030-01-01"
    with pytest.raises(modern.Rejection) as caught:
        modern.check_request(request, headers(mcp_protocol_version="2030-01-01"))
    assert caught.value.code == modern.UNSUPPORTED_PROTOCOL_VERSION
    assert caught.value.data["requested"] == "2030-01-01"
    assert "2026-07-28" in caught.value.data["supported"] and "2024-11-05" in caught.value.data["supported"]


def test_the_envelope_is_stripped_for_the_upstream_and_nothing_else() -> None:
    original = message(name="add", arguments={"a": 1}, requestState="s", inputResponses={"k": {}})
    forwarded = modern.upstream_request(original)
    assert forwarded["params"] == {
        "name": "add",
        "arguments": {"a": 1},
        "_meta": {"traceparent": "00-1-2-01"},
    }
    assert modern.META_VERSION in original["params"]["_meta"]  # the caller's message is not mutated


def test_results_get_result_type_cache_hints_and_server_info() -> None:
    listed = modern.complete({"tools": []}, "tools/list", {"name": "up"})
    assert listed == {
        "tools": [],
        "resultType": "complete",
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": {modern.META_SERVER_INFO: {"name": "up"}},
    }
    called = modern.complete({"content": [], "ttlMs": 5}, "tools/call", None)
    assert called == {"content": [], "ttlMs": 5, "resultType": "complete"}


def test_listen_filters_are_checked_and_tagging_copies() -> None:
    agreed = modern.listen_agreement(
        {"notifications": {"toolsListChanged": True, "resourceSubscriptions": ["a", "a"]}}
    )
    assert agreed == {"toolsListChanged": True, "resourceSubscriptions": ["a"]}
    assert modern.listened_methods(agreed) == {
        "notifications/tools/list_changed",
        "notifications/resources/updated",
    }
    with pytest.raises(modern.Rejection):
        modern.listen_agreement({"notifications": {"resourceSubscriptions": "a"}})
    note = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {}}
    assert modern.tagged(note, 7)["params"]["_meta"] == {modern.META_SUBSCRIPTION_ID: 7}
    assert note["params"] == {}
