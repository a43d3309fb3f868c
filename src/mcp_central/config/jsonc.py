"""JSON with comments (the seed's config has ``/* … */`` inside an object) and trailing commas.

Comments and trailing commas are blanked out character by character, so line and column numbers
in parse errors still point into the user's file. Strings are skipped whole: ``"http://x"``
keeps its ``//``. Duplicate object keys are refused (``DuplicateKeys``, every one with its key
path and lines): JSON's "last one wins" let a later ``"authTokens": []`` silently undo an earlier
list. This module only turns text into Python values; it knows nothing of the schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class JSONCError(ValueError):
    def __init__(self, message: str, line: int, column: int) -> None:
        self.line = line
        self.column = column
        self.detail = message
        super().__init__(f"line {line}, column {column}: {message}")


@dataclass(frozen=True)
class Duplicate:
    path: str
    """Key path of the repeated member, e.g. ``mcpServers.s.options.authTokens``."""
    line: int
    first_line: int

    @property
    def message(self) -> str:
        return f"duplicate key (line {self.line}; first at line {self.first_line}): keep only one"


class DuplicateKeys(JSONCError):
    """The text is valid JSON but repeats keys in an object; ``duplicates`` lists every repeat."""

    def __init__(self, duplicates: list[Duplicate], column: int) -> None:
        self.duplicates = duplicates
        first = duplicates[0]
        JSONCError.__init__(self, f"{first.path}: {first.message}", first.line, column)


def strip(text: str, *, trailing_commas: bool = True) -> str:
    """``text`` with comments and trailing commas replaced by spaces (newlines kept).

    ``trailing_commas=False`` keeps the commas (for text edits that must see them).
    """
    out = list(text)
    i, n = 0, len(text)
    last_comma = -1  # index of a comma that may turn out to be trailing
    while i < n:
        ch = text[i]
        if ch == '"':
            last_comma = -1
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                line, column = _position(text, i)
                raise JSONCError("unterminated /* comment", line, column)
            for j in range(i, end + 2):
                if out[j] != "\n":
                    out[j] = " "
            i = end + 2
        elif ch == ",":
            last_comma = i
            i += 1
        elif ch in "}]":
            if last_comma >= 0 and trailing_commas:
                out[last_comma] = " "
            last_comma = -1
            i += 1
        else:
            if not ch.isspace():
                last_comma = -1
            i += 1
    return "".join(out)


def loads(text: str) -> Any:
    cleaned = strip(text.removeprefix("\ufeff"))
    try:
        value = json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise JSONCError(exc.msg, exc.lineno, exc.colno) from None
    _refuse_duplicates(cleaned)
    return value


def _refuse_duplicates(cleaned: str) -> None:
    finder = _DuplicateFinder(cleaned)
    finder.value(0, "")
    if finder.found:
        raise DuplicateKeys(finder.found, finder.first_column)


class _DuplicateFinder:
    """Walks text that ``json.loads`` already accepted, noting keys repeated within one object."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.decoder = json.JSONDecoder()
        self.found: list[Duplicate] = []
        self.first_column = 0

    def skip(self, pos: int) -> int:
        while self.text[pos] in " \t\r\n":
            pos += 1
        return pos

    def value(self, pos: int, path: str) -> int:
        """Scan the value at ``pos``; return the index just past it."""
        pos = self.skip(pos)
        opener = self.text[pos]
        if opener == "{":
            return self._object(pos, path)
        if opener == "[":
            return self._array(pos, path)
        _, end = self.decoder.raw_decode(self.text, pos)
        return int(end)

    def _object(self, pos: int, path: str) -> int:
        seen: dict[str, int] = {}  # key → offset of its first occurrence
        pos = self.skip(pos + 1)
        while self.text[pos] != "}":
            key, key_end = self.decoder.raw_decode(self.text, pos)
            key_path = f"{path}.{key}" if path else str(key)
            if key in seen:
                line, column = _position(self.text, pos)
                if not self.found:
                    self.first_column = column
                self.found.append(Duplicate(key_path, line, _position(self.text, seen[key])[0]))
            else:
                seen[key] = pos
            colon = self.skip(key_end)
            pos = self.skip(self.value(colon + 1, key_path))
            if self.text[pos] == ",":
                pos = self.skip(pos + 1)
        return pos + 1

    def _array(self, pos: int, path: str) -> int:
        index = 0
        pos = self.skip(pos + 1)
        while self.text[pos] != "]":
            pos = self.skip(self.value(pos, f"{path}[{index}]"))
            index += 1
            if self.text[pos] == ",":
                pos = self.skip(pos + 1)
        return pos + 1


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1
