"""Search mode's sans-IO parts (``core.discovery``) and the file of last known tool lists
(``upstream.known_tools``), on real files in ``tmp_path``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
import pytest

from mcp_central.core import discovery
from mcp_central.core.tool_index import IndexedTool
from mcp_central.upstream.known_tools import KnownTools


def tool(name: str, server: str, description: str = "") -> IndexedTool:
    return IndexedTool(
        name, server, {"name": name, "description": description, "inputSchema": {"type": "object"}}
    )


def test_search_mode_lists_the_meta_tools_and_what_always_list_names_by_either_name() -> None:
    tools = [
        tool("time__get_current_time", "time"),
        tool("fs__read_file", "fs"),
        tool("fs__write_file", "fs"),
    ]
    own = {
        "time__get_current_time": "get_current_time",
        "fs__read_file": "read_file",
        "fs__write_file": "write_file",
    }
    assert [t["name"] for t in discovery.listed(tools, (), own)] == [
        "search_tools",
        "describe_tool",
        "call_tool",
    ]
    names = [t["name"] for t in discovery.listed(tools, ("get_current_*", "fs__write_*"), own)]
    assert names[3:] == ["time__get_current_time", "fs__write_file"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"query": "read a file"}, ("read a file", discovery.DEFAULT_LIMIT)),
        ({"query": "read a file", "limit": 3}, ("read a file", 3)),
        ({"query": "x", "limit": 2.0}, ("x", 2)),
        ({"query": " "}, "needs 'query'"),
        ({"query": "x", "limit": 0}, "from 1 to 50"),
        ({"query": "x", "limit": True}, "from 1 to 50"),
        ({"query": "x", "limit": 51}, "from 1 to 50"),
        (None, "takes an object"),
    ],
)
def test_search_arguments_are_checked(arguments: object, expected: object) -> None:
    asked = discovery.search_request(arguments)
    if isinstance(expected, tuple):
        assert asked == expected
    else:
        assert isinstance(asked, str) and str(expected) in asked


def test_call_tool_arguments_are_checked_and_meta_tools_are_not_called_through_it() -> None:
    assert discovery.call_request({"name": "a__b"}) == ("a__b", {})
    assert discovery.call_request({"name": "a__b", "arguments": {"x": 1}}) == ("a__b", {"x": 1})
    assert "call search_tools directly" in str(discovery.call_request({"name": "search_tools"}))
    assert "must be an object" in str(discovery.call_request({"name": "a__b", "arguments": [1]}))
    assert "needs 'name'" in str(discovery.call_request({"arguments": {}}))


def test_descriptions_are_shortened_at_a_word_boundary() -> None:
    long = "Reads a file " + "and does more " * 40
    short = discovery.shorten(long)
    assert len(short) <= discovery.DESCRIPTION_CHARS + 1 and short.endswith("…")
    assert not short[:-1].endswith(" ")
    assert discovery.shorten("  short\n text ") == "short text"


def test_indexes_are_reused_for_the_same_tools_and_rebuilt_for_changed_ones() -> None:
    cache = discovery.IndexCache(size=2)
    first = [tool("fs__read_file", "fs", "Read a file"), tool("time__now", "time", "The current time")]
    index = cache.index(first)
    assert cache.index(list(first)) is index and cache.builds == 1
    changed = [first[0], tool("time__now", "time", "The current time in a timezone")]
    assert cache.index(changed) is not index and cache.builds == 2
    assert [match.tool.name for match in cache.index(changed).search("timezone", 5)] == ["time__now"]


def test_known_tools_of_every_server_survive_a_restart_in_a_file_with_the_configs_mode(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text("{}")
    config.chmod(0o640)
    store = KnownTools.beside(str(config))
    store.remember("eager", [{"name": "a"}])
    store.remember("lazy", [{"name": "b"}])
    path = tmp_path / "config.json.tools.json"
    assert path.stat().st_mode & 0o777 == 0o640
    assert set(orjson.loads(path.read_bytes())["servers"]) == {"eager", "lazy"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
    written = os.stat(path).st_mtime_ns
    os.utime(path, ns=(written - 10**9, written - 10**9))
    store.remember("lazy", [{"name": "b"}])
    assert os.stat(path).st_mtime_ns == written - 10**9  # unchanged list: not written again

    again = KnownTools.beside(str(config))
    assert again.tools_of("lazy") == [{"name": "b"}]
    assert again.tools_of("eager") == [{"name": "a"}]
    again.remember("eager", [{"name": "a"}])  # as the file says: not written
    assert os.stat(path).st_mtime_ns == written - 10**9
    again.remember("eager", [{"name": "a"}, {"name": "c"}])
    assert os.stat(path).st_mtime_ns != written - 10**9
    assert KnownTools.beside(str(config)).tools_of("eager") == [{"name": "a"}, {"name": "c"}]


def test_a_tools_file_of_the_first_format_is_not_read(tmp_path: Path) -> None:
    """Version 1 kept lists in the names clients saw: read now, they would be renamed twice."""
    config = tmp_path / "config.json"
    config.write_text("{}")
    old = {"version": 1, "servers": {"lazy": {"tools": [{"name": "now"}]}}}
    (tmp_path / "config.json.tools.json").write_bytes(orjson.dumps(old))
    assert KnownTools.beside(str(config)).tools_of("lazy") is None


def test_a_broken_tools_file_is_an_empty_memory_not_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "config.json"
    config.write_text("{}")
    (tmp_path / "config.json.tools.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert KnownTools.beside(str(config)).tools_of("lazy") is None
    assert "cannot read" in caplog.text
    assert KnownTools.beside("https://example.invalid/config.json").path is None
