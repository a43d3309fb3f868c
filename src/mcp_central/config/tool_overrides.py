"""``toolOverrides``: one server's renames and rewrites of its tools, read and checked.

``mcpServers.NAME.toolOverrides`` (or ``mcpServers.NAME.options.toolOverrides``, where TBXark
files keep per-server options) maps a tool's upstream name to what clients see instead::

    "toolOverrides": {"get_current_time": {"name": "now", "description": "…",
                                           "annotations": {"readOnlyHint": true}}}

Checked here, with the key path of each problem: unknown keys in an override or its annotations,
wrong types, a new name outside the tool-name rules, two overrides giving the same name, and a new
name that is another override's original (still listed under that name). Whether the upstream has
the tools is known only once it answers: ``core.tool_overrides.override_problems`` says that.
Pure: it reads a parsed object, applies nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_central.config import keys
from mcp_central.config.fields import Problems, as_object, kind, shown, unknown

TOOL_NAME = re.compile(keys.TOOL_NAME_PATTERN)
"""What a new name may be: the spec's characters (2025-11-25, SEP-986) and 64 characters at most,
the limit of the model APIs behind Claude, OpenAI and Gemini clients (the spec allows 128)."""
OVERRIDE_KEYS = keys.TOOL_OVERRIDE.names()
ANNOTATION_TYPES: Mapping[str, type] = {
    "title": str,
    "readOnlyHint": bool,
    "destructiveHint": bool,
    "idempotentHint": bool,
    "openWorldHint": bool,
}
"""``ToolAnnotations`` of the spec (2025-11-25), as ``keys.ANNOTATIONS`` lists them: a misspelt hint
is refused, not passed on unheard."""


@dataclass(frozen=True)
class ToolOverride:
    """What clients see of one upstream tool instead of what the upstream says."""

    original: str
    """The upstream's own name (``toolFilter`` matches this one)."""
    name: str | None = None
    title: str | None = None
    description: str | None = None
    annotations: dict[str, Any] = field(default_factory=dict)
    """Merged into the upstream's annotations key by key; a ``null`` value removes that key."""

    @property
    def exposed(self) -> str:
        """The name clients call it by."""
        return self.name or self.original


def read_tool_overrides(raw: Any, path: str, problems: Problems) -> tuple[ToolOverride, ...]:
    """The overrides of ``raw`` (``null`` or absent: none), every problem recorded under ``path``."""
    if raw is None:
        return ()
    spec = as_object(raw, path, problems)
    overrides = []
    for original, entry in spec.items():
        override = _override(str(original), entry, f"{path}.{original}", problems)
        if override is not None:
            overrides.append(override)
    _check_names(overrides, path, problems)
    return tuple(overrides)


def _override(original: str, raw: Any, path: str, problems: Problems) -> ToolOverride | None:
    entry = as_object(raw, path, problems)
    if not entry and isinstance(raw, dict):
        problems.add(path, "is empty: give name, title, description or annotations")
        return None
    unknown(entry, OVERRIDE_KEYS, path, problems)
    texts: dict[str, str | None] = {}
    for key in ("name", "title", "description"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            problems.add(f"{path}.{key}", f"expected a string, got {kind(value)}")
            value = None
        texts[key] = None if value is None else str(value)
    name = texts["name"]
    if name is not None and not TOOL_NAME.match(name):
        problems.add(
            f"{path}.name",
            f"expected 1 to 64 letters, digits, '_', '-' or '.' (what clients accept), got {shown(name)}",
        )
        name = None
    return ToolOverride(
        original,
        name=None if name == original else name,
        title=texts["title"],
        description=texts["description"],
        annotations=_annotations(entry.get("annotations"), f"{path}.annotations", problems),
    )


def _annotations(raw: Any, path: str, problems: Problems) -> dict[str, Any]:
    if raw is None:
        return {}
    spec = as_object(raw, path, problems)
    unknown(spec, set(ANNOTATION_TYPES), path, problems)
    out: dict[str, Any] = {}
    for key, value in spec.items():
        expected = ANNOTATION_TYPES.get(key)
        if expected is None:
            continue
        if value is not None and not isinstance(value, expected):
            wanted = "true or false" if expected is bool else "a string"
            problems.add(f"{path}.{key}", f"expected {wanted} (or null to remove it), got {kind(value)}")
            continue
        out[key] = value if value is None or expected is bool else str(value)
    return out


def _check_names(overrides: list[ToolOverride], path: str, problems: Problems) -> None:
    """Two tools may not end up with one name: neither two renames, nor a rename onto a tool that
    another override keeps under its own name."""
    given: dict[str, str] = {}
    kept = {override.original for override in overrides if override.name is None}
    for override in overrides:
        if override.name is None:
            continue
        if override.name in given:
            problems.add(
                f"{path}.{override.original}.name",
                f"'{override.name}' is already the new name of '{given[override.name]}'",
            )
            continue
        given[override.name] = override.original
        if override.name in kept:
            problems.add(
                f"{path}.{override.original}.name",
                f"'{override.name}' is another tool's name (its override keeps it): rename that one too",
            )
