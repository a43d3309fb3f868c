"""Name filters (TBXark's ``toolFilter``, and ours for prompts and resources). Sans-IO, pure functions."""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from mcp_central.config.model import NameFilter


def allows(name: str, name_filter: NameFilter | None) -> bool:
    if name_filter is None:
        return True
    matched = any(fnmatchcase(name, pattern) for pattern in name_filter.patterns)
    return matched if name_filter.mode == "allow" else not matched


def allows_either(own: str, exposed: str, name_filter: NameFilter) -> bool:
    """An identity's ``tools`` filter on an aggregated route: a pattern matches a tool by its
    upstream's own name or by the name the group exposes (``server__tool``)."""
    patterns = name_filter.patterns
    matched = any(fnmatchcase(own, p) or fnmatchcase(exposed, p) for p in patterns)
    return matched if name_filter.mode == "allow" else not matched


ToolCheck = Callable[[str, str], bool]
"""An identity's ``tools`` filter as a link applies it: (server, tool name) → may it be seen."""


def identity_refusal(owner: object, server: str, params: dict[str, Any]) -> str | None:
    """Why a ``tools/call`` names a tool its caller's identity may not see (the owner's optional
    ``tool_access``: sessions and stateless exchanges of identities with a ``tools`` filter have
    one; group relays do not, their group applies it). ``None`` if allowed."""
    check: ToolCheck | None = getattr(owner, "tool_access", None)
    if check is None:
        return None
    name = params.get("name")
    return None if check(server, str(name)) else f"Unknown tool: {name}"


def identity_narrow(owner: object, server: str, result: dict[str, Any]) -> None:
    """Drop from a ``tools/list`` result the tools the owner's identity may not see (in place)."""
    check: ToolCheck | None = getattr(owner, "tool_access", None)
    items = result.get("tools")
    if check is not None and isinstance(items, list):
        result["tools"] = [
            item for item in items if not isinstance(item, dict) or check(server, str(item.get("name")))
        ]


def filter_listed(result: Any, key: str, name_filter: NameFilter | None, field: str = "name") -> None:
    """Drop filtered entries from a ``*/list`` result in place (``key`` is ``"tools"``, ``"prompts"``…;
    ``field`` the entry's field the patterns match: ``name``, or ``uri`` / ``uriTemplate`` for resources)."""
    if name_filter is None or not isinstance(result, dict):
        return
    items = result.get(key)
    if isinstance(items, list):
        result[key] = [
            item for item in items if not isinstance(item, dict) or allows(str(item.get(field)), name_filter)
        ]


class ServerFilters:
    """One upstream's tool, prompt and resource filters, applied to what passes its link."""

    __slots__ = ("_calls", "_lists")

    def __init__(
        self, tools: NameFilter | None, prompts: NameFilter | None, resources: NameFilter | None
    ) -> None:
        self._lists = {
            "tools/list": ("tools", tools, "name"),
            "prompts/list": ("prompts", prompts, "name"),
            "resources/list": ("resources", resources, "uri"),
            "resources/templates/list": ("resourceTemplates", resources, "uriTemplate"),
        }
        self._calls = {
            "tools/call": ("tool", tools, "name"),
            "prompts/get": ("prompt", prompts, "name"),
            "resources/read": ("resource", resources, "uri"),
        }

    def refusal(self, method: str, params: Any) -> str | None:
        """Why a call names something filtered out (as the upstream would say it); ``None`` if allowed."""
        entry = self._calls.get(method)
        if entry is None or entry[1] is None:
            return None
        kind, name_filter, field = entry
        value = params.get(field) if isinstance(params, dict) else None
        return None if allows(str(value), name_filter) else f"Unknown {kind}: {value}"

    def apply(self, method: str, result: Any) -> None:
        """Drop filtered entries from an answer to ``method`` (in place)."""
        entry = self._lists.get(method)
        if entry is not None and entry[1] is not None:
            filter_listed(result, entry[0], entry[1], entry[2])
