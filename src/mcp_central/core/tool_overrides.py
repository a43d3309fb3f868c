"""A server's ``toolOverrides`` applied to what passes its link. Sans-IO, pure.

On the way down, ``tools/list`` results are rewritten in place: a tool's ``name``, ``title`` and
``description`` are replaced, its ``annotations`` merged key by key (a ``null`` in the override
removes the key; the rest of the upstream's annotations stay). On the way up, a ``tools/call``
names the new name and is sent with the original; calling the original name of a renamed tool
is refused as the upstream would refuse an unknown tool. An upstream tool whose own name is now
another tool's new name is left out of lists (one name, one tool: calls reach the renamed one),
and ``override_problems`` reports the clash.

The link applies this after ``toolFilter`` (which matches the upstream's original names) and
after tool pinning (which hashes the upstream's original definitions); everything downstream of
the link (routes, groups' ``server__tool`` names, OpenAPI, metrics, the audit trail) sees only
the new names. It must not do I/O, read the config file, or keep state beyond the overrides.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp_central.config.tool_overrides import ToolOverride


class ToolOverrides:
    """One server's overrides, indexed both ways."""

    __slots__ = ("_by_exposed", "_by_original", "_renamed", "overrides")

    def __init__(self, overrides: Iterable[ToolOverride] = ()) -> None:
        self.overrides = tuple(overrides)
        self._by_original = {override.original: override for override in self.overrides}
        self._by_exposed = {override.exposed: override for override in self.overrides}
        self._renamed = {override.original for override in self.overrides if override.name is not None}
        """Originals clients may no longer call by that name (unless it is also a new name)."""

    def __bool__(self) -> bool:
        return bool(self.overrides)

    def rewrite_list(self, result: Any) -> None:
        """Rewrite a ``tools/list`` result in place (a malformed one is left as it is)."""
        if not self.overrides or not isinstance(result, dict):
            return
        tools = result.get("tools")
        if not isinstance(tools, list):
            return
        rewritten = []
        for tool in tools:
            if not isinstance(tool, dict):
                rewritten.append(tool)
                continue
            name = tool.get("name")
            override = self._by_original.get(name) if isinstance(name, str) else None
            if override is None:
                shadow = self._by_exposed.get(name) if isinstance(name, str) else None
                if shadow is None or shadow.original == name:
                    rewritten.append(tool)
                continue  # else: its name is another tool's new name
            rewritten.append(apply_override(tool, override))
        result["tools"] = rewritten

    def upstream_call(self, params: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """A ``tools/call``'s params as the upstream must get them, or why it is refused."""
        name = params.get("name")
        if not self.overrides or not isinstance(name, str):
            return params, None
        override = self._by_exposed.get(name)
        if override is not None:
            if override.name is None:
                return params, None
            return {**params, "name": override.original}, None
        if name in self._renamed:
            return None, f"Unknown tool: {name}"
        return params, None

    def exposed_names(self, originals: Iterable[str]) -> set[str]:
        """The names clients see for these upstream tools (shadowed ones left out, as in lists)."""
        names = set()
        for original in originals:
            override = self._by_original.get(original)
            if override is not None:
                names.add(override.exposed)
            elif (shadow := self._by_exposed.get(original)) is None or shadow.original == original:
                names.add(original)
        return names


def apply_override(tool: dict[str, Any], override: ToolOverride) -> dict[str, Any]:
    """A copy of ``tool`` as clients see it (the upstream's dict is not changed)."""
    out = dict(tool)
    if override.name is not None:
        out["name"] = override.name
    if override.title is not None:
        out["title"] = override.title
    if override.description is not None:
        out["description"] = override.description
    if override.annotations:
        current = tool.get("annotations")
        merged = dict(current) if isinstance(current, dict) else {}
        for key, value in override.annotations.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        out["annotations"] = merged
    return out


def override_problems(server: str, overrides: Iterable[ToolOverride], tool_names: Iterable[str]) -> list[str]:
    """What is wrong with ``server``'s overrides given the upstream's tools (``tool_names``: its own
    names, after ``toolFilter``): an override of a tool it does not have, and a new name that an
    upstream tool already has. For ``validate``, ``check``, ``/status`` and the log. Pure."""
    names = set(tool_names)
    listed = list(overrides)
    renamed_away = {override.original for override in listed if override.name is not None}
    problems = []
    for override in listed:
        where = f"mcpServers.{server}.toolOverrides.{override.original}"
        if override.original not in names:
            problems.append(f"{where}: the server has no tool '{override.original}' (or toolFilter hides it)")
        if override.name is not None and override.name in names and override.name not in renamed_away:
            problems.append(
                f"{where}.name: the server already has a tool '{override.name}' (it is left out of lists)"
            )
    return problems


__all__ = ["ToolOverrides", "apply_override", "override_problems"]
