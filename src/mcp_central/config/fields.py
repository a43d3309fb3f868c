"""Typed reads of config values that record a problem (file, key path, what was expected) instead
of raising, so one pass over a file reports every mistake at once. Pure: no files, no environment.

A message never prints a secret: a received value is shown by ``shown`` (the ``${VAR}`` text it was
written as, URLs redacted), and header values, ``env`` values and tokens are never shown at all.
"""

from __future__ import annotations

from typing import Any

from mcp_central.config import redact
from mcp_central.config.durations import parse_duration
from mcp_central.config.expand import Expanded, written
from mcp_central.errors import ConfigProblem


class Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[ConfigProblem] = []
        self._unset_at: set[str] = set()
        """Key paths with an unset ``${VAR}``: what else is wrong there follows from it."""

    def add(self, path: str, message: str) -> None:
        if path in self._unset_at:
            return  # e.g. "is empty" or "not a port": the unset variable, already reported here
        self.items.append(ConfigProblem(self.source, path, message))

    def unset_variable(self, path: str, message: str) -> None:
        """``expand``'s report: once per variable and key, however often the value names it."""
        if any(item.path == path and item.message == message for item in self.items):
            return
        self._unset_at.discard(path)
        self.add(path, message)
        self._unset_at.add(path)


def as_object(value: Any, path: str, problems: Problems) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    problems.add(path, f"expected an object, got {kind(value)}")
    return {}


def string(obj: dict[str, Any], key: str, path: str, problems: Problems) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.add(f"{path}.{key}", f"expected a string, got {kind(value)}")
    return None


def boolean(obj: dict[str, Any], key: str, path: str, problems: Problems) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    problems.add(f"{path}.{key}", f"expected true or false, got {kind(value)}")
    return None


def string_list(obj: dict[str, Any], key: str, path: str, problems: Problems) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(f"{path}.{key}", f"expected a list of strings, got {kind(value)}")
        return []
    out = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            out.append(item)  # as is: an ``Expanded`` keeps its written form for messages
        elif isinstance(item, int | float) and not isinstance(item, bool):
            out.append(str(item))
        else:
            problems.add(f"{path}.{key}[{index}]", f"expected a string, got {kind(item)}")
    return out


def token_list(obj: dict[str, Any], key: str, path: str, problems: Problems) -> tuple[str, ...] | None:
    """Bearer tokens at ``obj[key]`` (present): only non-empty strings with no whitespace at either
    end. ``None`` when the list is wrong, so a mistake never leaves a route open by accident."""
    value = obj.get(key)
    if not isinstance(value, list):
        problems.add(
            f"{path}.{key}",
            f"expected a list of token strings (an empty list [] leaves the route open), got {kind(value)}",
        )
        return None
    tokens, ok = [], True
    for index, item in enumerate(value):
        problem = _token_problem(item)
        if problem is not None:
            problems.add(f"{path}.{key}[{index}]", problem)
            ok = False
        else:
            tokens.append(item)
    return tuple(tokens) if ok else None


def _token_problem(item: Any) -> str | None:
    if not isinstance(item, str):
        return f"expected a token string, got {kind(item)}"
    source = f" (it comes from {_variables(item)})" if isinstance(item, Expanded) else ""
    if not item:
        return f"is empty{source}: an empty token would match nothing useful"
    if item != item.strip():
        return (
            f"has whitespace at its start or end{source}; clients cannot send that, "
            "so it would never match: remove the whitespace"
        )
    return None


def _variables(value: Expanded) -> str:
    return ", ".join(f"${{{name}}}" for name in value.variables)


def shown(value: Any) -> str:
    """``value`` as a message may print it: a string as written (``'${API_KEY}'``, not the secret
    it expanded to) with URLs redacted; numbers and flags as they are; anything else by kind."""
    if isinstance(value, str):
        return repr(redact.urls_in(written(value)))
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    return kind(value)


def string_map(obj: dict[str, Any], key: str, path: str, problems: Problems) -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(f"{path}.{key}", f"expected an object of strings, got {kind(value)}")
        return {}
    out = {}
    for name, item in value.items():
        if isinstance(item, str):
            out[name] = item
        elif isinstance(item, bool):
            out[name] = "true" if item else "false"
        elif isinstance(item, int | float):
            out[name] = str(item)
        else:
            problems.add(f"{path}.{key}.{name}", f"expected a string, got {kind(item)}")
    return out


def duration(obj: dict[str, Any], key: str, path: str, problems: Problems, default: float) -> float:
    if key not in obj:
        return default
    seconds = parse_duration(obj[key])
    if seconds is None:
        problems.add(
            f"{path}.{key}", f'expected a duration like "30s" or "5m", or seconds > 0, got {shown(obj[key])}'
        )
        return default
    return seconds


def unknown(obj: dict[str, Any], known: set[str], path: str, problems: Problems) -> None:
    for key in obj:
        if key not in known:
            problems.add(f"{path}.{key}", f"unknown key (known keys: {', '.join(sorted(known))})")


def kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def count(obj: dict[str, Any], key: str, path: str, problems: Problems, least: int) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        problems.add(f"{path}.{key}", f"expected a whole number ≥ {least}, got {shown(value)}")
        return least
    return value
