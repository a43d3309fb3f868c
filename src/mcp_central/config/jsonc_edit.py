"""Edit a JSONC document as text, so everything the edit does not touch stays byte-for-byte.

Operators comment their config (the seed's has a ``/* … */`` block inside ``options``); a
load-modify-dump cycle would drop those comments and reorder keys. Instead we locate members by
their character spans and splice new text in or cut old text out. Spans are found on the output of
``jsonc.strip`` (comments blanked character for character, commas kept), so offsets in the
stripped text are offsets in the user's text.

Only objects nested by key are addressed (``("mcpServers",)``); that is all registry edits need.
This module works on strings only: no files, no schema, no validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mcp_central.config import jsonc


class EditError(ValueError):
    """The document does not have the shape the edit needs (e.g. the parent is not an object)."""


@dataclass
class Member:
    key: str
    key_start: int
    value_start: int
    value_end: int
    value: Node


@dataclass
class Node:
    start: int
    end: int
    kind: str  # "object", "array" or "scalar"
    members: dict[str, Member] = field(default_factory=dict)


class _Scanner:
    """Finds value spans in comment-free JSON text; tolerates trailing commas."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.decoder = json.JSONDecoder()

    def skip(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in " \t\r\n":
            pos += 1
        return pos

    def value(self, pos: int) -> Node:
        pos = self.skip(pos)
        if pos >= len(self.text):
            raise EditError("unexpected end of document")
        ch = self.text[pos]
        if ch == "{":
            return self._object(pos)
        if ch == "[":
            return self._array(pos)
        try:
            _, end = self.decoder.raw_decode(self.text, pos)
        except json.JSONDecodeError as exc:
            raise EditError(f"not JSON at offset {pos}: {exc.msg}") from None
        return Node(pos, end, "scalar")

    def _object(self, start: int) -> Node:
        node = Node(start, start, "object")
        pos = self.skip(start + 1)
        while self.text[pos] != "}":
            key, key_end = self.decoder.raw_decode(self.text, pos)
            if not isinstance(key, str):
                raise EditError(f"expected a key at offset {pos}")
            colon = self.skip(key_end)
            value = self.value(colon + 1)
            node.members[key] = Member(key, pos, value.start, value.end, value)
            pos = self.skip(value.end)
            if self.text[pos] == ",":
                pos = self.skip(pos + 1)
        node.end = pos + 1
        return node

    def _array(self, start: int) -> Node:
        pos = self.skip(start + 1)
        while self.text[pos] != "]":
            pos = self.skip(self.value(pos).end)
            if self.text[pos] == ",":
                pos = self.skip(pos + 1)
        return Node(start, pos + 1, "array")


def parse_spans(text: str) -> Node:
    """The top-level value of ``text`` with the spans of every object member, recursively."""
    return _Scanner(jsonc.strip(text, trailing_commas=False)).value(0)


def find_object(text: str, path: tuple[str, ...]) -> Node | None:
    """The object at ``path``; ``None`` if a key is missing, EditError if it is not an object."""
    node = parse_spans(text)
    for depth, key in enumerate(path):
        if node.kind != "object":
            raise EditError(f"{'.'.join(path[:depth]) or 'the top level'} is not an object")
        member = node.members.get(key)
        if member is None:
            return None
        node = member.value
    if node.kind != "object":
        raise EditError(f"{'.'.join(path) or 'the top level'} is not an object")
    return node


def add_member(text: str, path: tuple[str, ...], key: str, value: Any) -> str:
    """``text`` with ``"key": value`` appended to the object at ``path`` (created if missing).

    The new member copies the indentation of its siblings; comments stay where they were.
    """
    parent = find_object(text, path)
    if parent is None:
        if not path:
            raise EditError("the document is not an object")
        return add_member(text, path[:-1], path[-1], {key: value})
    if key in parent.members:
        raise EditError(f"'{key}' already exists")
    stripped = jsonc.strip(text, trailing_commas=False)
    if parent.members:
        last = max(parent.members.values(), key=lambda m: m.value_end)
        indent = _indent_of(text, last.key_start)
        rendered = f"{json.dumps(key)}: {_render(value, indent)}"
        after = _skip_blank(stripped, last.value_end)
        if after < len(stripped) and stripped[after] == ",":  # a JSONC trailing comma already there
            return _insert_after_line(text, stripped, after + 1, f"{indent}{rendered},")
        line_end = _line_end_if_blank(stripped, last.value_end)
        if line_end is None:  # siblings on one line: stay on it
            compact = f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
            return f"{text[: last.value_end]}, {compact}{text[last.value_end :]}"
        return (
            f"{text[: last.value_end]},{text[last.value_end : line_end]}\n{indent}{rendered}{text[line_end:]}"
        )
    # Empty object: open it up, one level deeper than the line holding its opening brace.
    outer = _indent_of(text, parent.start)
    unit = _indent_unit(text)
    indent = outer + unit
    rendered = f"{json.dumps(key)}: {_render(value, indent)}"
    return f"{text[: parent.start]}{{\n{indent}{rendered}\n{outer}}}{text[parent.end :]}"


def remove_member(text: str, path: tuple[str, ...], key: str) -> str:
    """``text`` without member ``key`` of the object at ``path``, its line and its comma."""
    parent = find_object(text, path)
    if parent is None or key not in parent.members:
        raise EditError(f"'{key}' does not exist")
    stripped = jsonc.strip(text, trailing_commas=False)
    member = parent.members[key]
    start = member.key_start
    line_start = text.rfind("\n", 0, start) + 1
    if not stripped[line_start:start].strip():
        start = line_start  # the member starts its line: take the whole line
    after = _skip_blank(stripped, member.value_end)
    end = member.value_end
    cut_previous_comma: int | None = None
    if after < len(stripped) and stripped[after] == ",":
        end = after + 1
    else:
        # The last member: the comma before it must go too (unless it is the only one).
        before = _skip_blank_back(stripped, member.key_start)
        if before >= 0 and stripped[before] == ",":
            cut_previous_comma = before
    line_end = _line_end_if_blank(stripped, end)
    if line_end is not None and start == line_start:
        end = line_end + 1 if line_end < len(text) else line_end
    elif start != line_start:
        end = _skip_inline_blank(text, end)
    out = text[:start] + text[end:]
    if cut_previous_comma is not None and cut_previous_comma < start:
        out = out[:cut_previous_comma] + out[cut_previous_comma + 1 :]
    return out


def _render(value: Any, indent: str) -> str:
    """Pretty JSON whose continuation lines sit under ``indent`` (two spaces a level, as the seed)."""
    lines = json.dumps(value, indent=2, ensure_ascii=False).split("\n")
    return "\n".join([lines[0], *(indent + line for line in lines[1:])])


def _indent_of(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    prefix = text[line_start:pos]
    return prefix[: len(prefix) - len(prefix.lstrip(" \t"))]


def _indent_unit(text: str) -> str:
    for line in text.split("\n"):
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            return line[: len(line) - len(stripped)]
    return "  "


def _skip_blank(stripped: str, pos: int) -> int:
    while pos < len(stripped) and stripped[pos] in " \t\r\n":
        pos += 1
    return pos


def _skip_blank_back(stripped: str, pos: int) -> int:
    pos -= 1
    while pos >= 0 and stripped[pos] in " \t\r\n":
        pos -= 1
    return pos


def _skip_inline_blank(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _line_end_if_blank(stripped: str, pos: int) -> int | None:
    """Index of the newline ending ``pos``'s line if nothing but blanks/comments follow ``pos`` on it."""
    newline = stripped.find("\n", pos)
    end = len(stripped) if newline < 0 else newline
    return end if not stripped[pos:end].strip() else None


def _insert_after_line(text: str, stripped: str, pos: int, line: str) -> str:
    end = _line_end_if_blank(stripped, pos)
    if end is None:
        return f"{text[:pos]} {line.strip()}{text[pos:]}"
    return f"{text[:end]}\n{line}{text[end:]}"
