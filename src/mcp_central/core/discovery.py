"""The three meta-tools of a ``toolDiscovery: "search"`` route. Sans-IO.

In search mode a route's ``tools/list`` shows ``search_tools``, ``describe_tool`` and ``call_tool``
(plus the tools its ``alwaysList`` names) instead of every tool. This module holds their
definitions, checks their arguments, shapes their results, and keeps the BM25 indexes
(``core.tool_index``) by what they were built from, so a route that lists the same tools again
reuses its index and a changed list (a member's ``list_changed``, a reload, a caller who sees
fewer tools) gets its own.

Must not: talk to upstreams or sessions, or decide who may see a tool — it indexes what the
route hands it, which is already the caller's own list (``downstream.discovery``).
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

import orjson

from mcp_central.core.tool_index import IndexedTool, Match, ToolIndex

SEARCH_TOOLS = "search_tools"
DESCRIBE_TOOL = "describe_tool"
CALL_TOOL = "call_tool"
META_NAMES = frozenset({SEARCH_TOOLS, DESCRIBE_TOOL, CALL_TOOL})
DEFAULT_LIMIT = 8
MAX_LIMIT = 50
DESCRIPTION_CHARS = 200
"""``search_tools`` shortens descriptions to about this many characters: enough to choose by."""
MAX_QUERY_CHARS = 1000
CACHED_INDEXES = 32
"""Indexes kept per route: one per distinct visible list (identities), most recently used."""

INSTRUCTIONS = (
    "This server lists three tools instead of all of its own: find a tool with search_tools "
    "(plain words), read its parameters with describe_tool, and run it with call_tool."
)
"""What a search-mode route adds to its ``initialize`` instructions."""

_READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
_MATCH_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "server": {"type": "string"},
    },
    "required": ["name", "description", "server"],
}
META_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "name": SEARCH_TOOLS,
        "title": "Search tools",
        "description": (
            "Find tools of this server by what you want to do, in plain words (for example "
            "'read a file', 'current time in another timezone'). Returns the best matches with "
            "name, title, a short description and the server that provides them. Use describe_tool "
            "for a match's parameters, then call_tool to run it."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "what the tool should do, in plain words"},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                    "description": "how many matches to return at most",
                },
            },
            "required": ["query"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"tools": {"type": "array", "items": _MATCH_SCHEMA}},
            "required": ["tools"],
        },
        "annotations": _READ_ONLY,
    },
    {
        "name": DESCRIBE_TOOL,
        "title": "Describe a tool",
        "description": (
            "The full definition of one tool found with search_tools: its description, its input "
            "schema (the arguments call_tool passes on), output schema and annotations."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "the tool's name, as search_tools gave it"}
            },
            "required": ["name"],
        },
        "annotations": _READ_ONLY,
    },
    {
        "name": CALL_TOOL,
        "title": "Call a tool",
        "description": (
            "Call one tool found with search_tools, with arguments that follow its input schema "
            "(see describe_tool). Returns that tool's own result."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "the tool's name, as search_tools gave it"},
                "arguments": {"type": "object", "description": "the tool's arguments"},
            },
            "required": ["name"],
        },
    },
)


def listed(
    tools: Sequence[IndexedTool], always_list: tuple[str, ...], own_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """A search-mode ``tools/list``: the meta-tools, then the tools ``always_list`` names (matched
    against the name on the route and the member's own name, ``own_names[name]``) as they are."""
    shown = [copy.deepcopy(tool) for tool in META_TOOLS]
    for tool in tools:
        own = own_names.get(tool.name, tool.name)
        if any(fnmatchcase(tool.name, glob) or fnmatchcase(own, glob) for glob in always_list):
            shown.append(tool.definition)
    return shown


# ----------------------------------------------------------------------------- arguments


def search_request(arguments: Any) -> tuple[str, int] | str:
    """``search_tools``' (query, limit), or what is wrong with its arguments."""
    if not isinstance(arguments, dict):
        return "search_tools takes an object: {query, limit?}"
    query = arguments.get("query")
    if not isinstance(query, str) or not query.strip():
        return "search_tools needs 'query': what the tool should do, in plain words"
    limit = arguments.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        return f"search_tools' 'limit' must be a whole number from 1 to {MAX_LIMIT}"
    return query[:MAX_QUERY_CHARS], limit


def describe_request(arguments: Any) -> str | None:
    """``describe_tool``'s tool name, or ``None`` if its arguments name none."""
    name = arguments.get("name") if isinstance(arguments, dict) else None
    return name if isinstance(name, str) and name else None


def call_request(arguments: Any) -> tuple[str, dict[str, Any]] | str:
    """``call_tool``'s (name, arguments for that tool), or what is wrong with its arguments."""
    if not isinstance(arguments, dict):
        return "call_tool takes an object: {name, arguments}"
    name = arguments.get("name")
    if not isinstance(name, str) or not name:
        return "call_tool needs 'name': a tool's name as search_tools gave it"
    if name in META_NAMES:
        return f"call_tool calls the tools search_tools finds; call {name} directly"
    inner = arguments.get("arguments")
    if inner is None:
        inner = {}
    if not isinstance(inner, dict):
        return "call_tool's 'arguments' must be an object (the tool's arguments by name)"
    return name, inner


# ----------------------------------------------------------------------------- results


def shorten(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    """``text`` cut to about ``limit`` characters at a word boundary, marked with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.") + "…"


def search_result(matches: list[Match]) -> dict[str, Any]:
    found = []
    for match in matches:
        definition = match.tool.definition
        entry: dict[str, Any] = {"name": match.tool.name}
        title = definition.get("title") or (definition.get("annotations") or {}).get("title")
        if isinstance(title, str) and title:
            entry["title"] = title
        description = definition.get("description")
        entry["description"] = shorten(description) if isinstance(description, str) else ""
        entry["server"] = match.tool.server
        found.append(entry)
    return _structured({"tools": found})


def describe_result(tool: IndexedTool) -> dict[str, Any]:
    """The tool's definition as the route lists it, and the server it belongs to."""
    return _structured({**tool.definition, "server": tool.server})


def unknown_tool(name: str) -> dict[str, Any]:
    return tool_error(f"Unknown tool: {name} (find tools with {SEARCH_TOOLS})")


def tool_error(text: str) -> dict[str, Any]:
    """A meta-tool's refusal as a tool result, so the model reads it and can correct itself."""
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _structured(value: dict[str, Any]) -> dict[str, Any]:
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return {"content": [{"type": "text", "text": text}], "structuredContent": value}


# ----------------------------------------------------------------------------- indexes


def fingerprint(tools: Sequence[IndexedTool]) -> bytes:
    """What an index was built from: every tool's name, server and definition, in order."""
    digest = hashlib.sha256()
    for tool in tools:
        digest.update(orjson.dumps([tool.name, tool.server, tool.definition], option=orjson.OPT_SORT_KEYS))
    return digest.digest()


class IndexCache:
    """A route's BM25 indexes by what they were built from (the ``CACHED_INDEXES`` most recent)."""

    def __init__(self, size: int = CACHED_INDEXES) -> None:
        self._size = size
        self._indexes: OrderedDict[bytes, ToolIndex] = OrderedDict()
        self.builds = 0
        """How many indexes were built (the rest were reused)."""

    def index(self, tools: Sequence[IndexedTool]) -> ToolIndex:
        key = fingerprint(tools)
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = ToolIndex(tools)
            self.builds += 1
            while len(self._indexes) > self._size:
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(key)
        return index

    def clear(self) -> None:
        self._indexes.clear()
