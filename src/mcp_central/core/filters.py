"""Name filters (TBXark's ``toolFilter``): which tools a route exposes. Sans-IO, pure functions."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from mcp_central.config.model import NameFilter


def allows(name: str, name_filter: NameFilter | None) -> bool:
    if name_filter is None:
        return True
    matched = any(fnmatchcase(name, pattern) for pattern in name_filter.patterns)
    return matched if name_filter.mode == "allow" else not matched


def filter_listed(result: Any, key: str, name_filter: NameFilter | None) -> None:
    """Drop filtered entries from a ``*/list`` result in place (``key`` is ``"tools"``, ``"prompts"``…)."""
    if name_filter is None or not isinstance(result, dict):
        return
    items = result.get(key)
    if isinstance(items, list):
        result[key] = [
            item for item in items if not isinstance(item, dict) or allows(str(item.get("name")), name_filter)
        ]
