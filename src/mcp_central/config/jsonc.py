"""JSON with comments (the seed's config has ``/* … */`` inside an object) and trailing commas.

Comments and trailing commas are blanked out character by character, so line and column numbers
in parse errors still point into the user's file. Strings are skipped whole: ``"http://x"``
keeps its ``//``. This module only turns text into Python values; it knows nothing of the schema.
"""

from __future__ import annotations

import json
from typing import Any


class JSONCError(ValueError):
    def __init__(self, message: str, line: int, column: int) -> None:
        self.line = line
        self.column = column
        super().__init__(f"line {line}, column {column}: {message}")


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
        return json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise JSONCError(exc.msg, exc.lineno, exc.colno) from None


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1
