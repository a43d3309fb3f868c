"""``core.aggregate`` without sockets: exposed names and URIs, merged lists and capabilities."""

from __future__ import annotations

import re

from mcp_central.core import aggregate


def test_plain_names_and_their_way_back() -> None:
    names = aggregate.Namespace("__")
    assert names.expose("fetch", "get") == "fetch__get"
    assert names.resolve("fetch__get", ["fetch"]) == ("fetch", "get")
    # Resolvable without the table too (a client may call before listing, e.g. after a restart):
    assert aggregate.Namespace("__").resolve("fetch__get", ["fetch"]) == ("fetch", "get")
    assert names.resolve("fetch__get", ["other"]) is None
    assert names.resolve("nothing-here", ["fetch"]) is None


def test_ambiguous_too_long_or_unsafe_names_are_shortened_deterministically() -> None:
    first, second = aggregate.Namespace("__"), aggregate.Namespace("__")
    pairs = [("a", "b__c"), ("a__b", "c"), ("x" * 70, "read_file"), ("srv", "tool with spaces/ü")]
    exposed = [first.expose(server, name) for server, name in pairs]
    assert exposed == [second.expose(server, name) for server, name in reversed(pairs)][::-1]
    assert len(set(exposed)) == len(exposed)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) for name in exposed)
    assert exposed[0] == "a__b__c"  # unambiguous: the server name has no separator
    assert exposed[1] != "a__b__c" and exposed[2].endswith("__read_file")
    for (server, name), shown in zip(pairs, exposed, strict=True):
        assert first.resolve(shown, [s for s, _ in pairs]) == (server, name)


def test_uris_and_templates_round_trip() -> None:
    exposed = aggregate.expose_uri("my server", "test://template/{id}/data")
    assert exposed == "mcp-central://my%20server/test://template/{id}/data"
    assert aggregate.resolve_uri(exposed.replace("{id}", "7")) == ("my server", "test://template/7/data")
    assert aggregate.resolve_uri("file:///etc/passwd") is None


def test_results_speak_the_groups_names() -> None:
    names = aggregate.Namespace("__")
    call = {
        "content": [
            {"type": "resource_link", "uri": "file:///a", "name": "a"},
            {"type": "resource", "resource": {"uri": "file:///b", "text": "b"}},
            {"type": "text", "text": "file:///c"},
        ]
    }
    aggregate.expose_result("fs", "tools/call", call, names)
    assert [block.get("uri") or block.get("resource", {}).get("uri") for block in call["content"]][:2] == [
        "mcp-central://fs/file:///a",
        "mcp-central://fs/file:///b",
    ]
    assert call["content"][2]["text"] == "file:///c"  # text is never rewritten
    listed = {"tools": [{"name": "read"}], "nextCursor": None}
    aggregate.expose_result("fs", "tools/list", listed, names)
    assert listed["tools"] == [{"name": "fs__read"}]
    merged = aggregate.merge_lists("tools/list", [listed, {"tools": [{"name": "b__x"}]}])
    assert merged == {"tools": [{"name": "fs__read"}, {"name": "b__x"}]}


def test_capabilities_are_united() -> None:
    merged = aggregate.merge_capabilities(
        [{"tools": {}, "logging": {}}, {"resources": {"subscribe": True}, "completions": {}}, {}]
    )
    assert merged["resources"] == {"listChanged": True, "subscribe": True}
    assert merged["tools"]["listChanged"] and "logging" in merged and "completions" in merged
    assert aggregate.merge_capabilities([{}])["resources"]["subscribe"] is False
    text = aggregate.merge_instructions({"a": "Use me.", "b": None, "c": "  "}, "__")
    assert text is not None and "'a__…'" in text and "Use me." in text and "'b" not in text
