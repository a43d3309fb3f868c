"""How a config key is declared: the ``Key`` and ``Section`` records, the JSON Schemas of the common
kinds of value (strings, durations, token lists, …) and ``section_schema``, which turns a section
into its JSON Schema.

The value schemas say what the typed reads in ``config.fields`` accept (``null`` where a reader
takes it as absent; numbers in string lists; ``${VAR}`` where expansion makes a string that the
reader may accept). Which keys exist is config/keys.py's; this module declares none and imports no
reader and no model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NO_DEFAULT: Any = object()

VARIABLE = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}
"""A string with a ``${VAR}``: its expanded value is checked when the config is loaded."""
STRING: dict[str, Any] = {"type": ["string", "null"]}
BOOLEAN: dict[str, Any] = {"type": ["boolean", "null"]}
STRING_LIST: dict[str, Any] = {"type": ["array", "null"], "items": {"type": ["string", "number"]}}
NON_EMPTY_LIST: dict[str, Any] = {
    "type": ["array", "null"],
    "items": {"type": ["string", "number"], "pattern": r"\S"},
}
STRING_MAP: dict[str, Any] = {
    "type": ["object", "null"],
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
TOKEN_LIST: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "pattern": r"^\S([\s\S]*\S)?$"},
    "description": "bearer tokens, usually ${VAR}; [] leaves the route open",
}
_NUMBER = r"(\d+(\.\d*)?|\.\d+)"
DURATION: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {
            "type": "string",
            "pattern": rf"^\s*(?=[^1-9]*[1-9])({_NUMBER}|({_NUMBER}(ns|us|µs|ms|s|m|h))+)\s*$",
        },
        VARIABLE,
    ],
    "description": 'a duration like "30s", "1m30s" or "500ms", or seconds',
}
HTTP_URL: dict[str, Any] = {"type": ["string", "null"], "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]|\$\{"}


def count(least: int) -> dict[str, Any]:
    """A whole number ≥ ``least`` (``config.fields.count``)."""
    return {"type": "integer", "minimum": least}


def choice(*values: str, any_case: bool = False, empty: bool = False) -> dict[str, Any]:
    """One of ``values`` (completion offers them); ``any_case`` when the reader lowercases first,
    ``empty`` when it reads "" as the default."""
    options: list[dict[str, Any]] = [{"enum": [*values, *([""] if empty else [])]}, VARIABLE]
    if any_case:
        spelled = "|".join(
            "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in v) for v in values
        )
        options.insert(1, {"type": "string", "pattern": f"^({spelled})$"})
    return {"anyOf": options}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or ``null`` (the reader takes ``null`` as absent)."""
    return {"anyOf": [schema, {"type": "null"}]}


@dataclass(frozen=True)
class Key:
    name: str
    value: dict[str, Any]
    description: str
    default: Any = NO_DEFAULT


@dataclass(frozen=True)
class Section:
    """An object with a fixed set of keys (unknown ones are refused)."""

    keys: tuple[Key, ...]
    required: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    """More JSON Schema for the object itself (``anyOf`` of required keys, …)."""

    def names(self) -> set[str]:
        return {key.name for key in self.keys}

    def without(self, names: set[str]) -> Section:
        return Section(tuple(key for key in self.keys if key.name not in names), self.required, self.extra)

    def plus(self, *keys: Key) -> Section:
        return Section((*self.keys, *keys), self.required, self.extra)


def section_schema(section: Section, description: str = "") -> dict[str, Any]:
    """The JSON Schema of one section: its keys, each with description and default."""
    properties = {}
    for key in section.keys:
        schema = dict(key.value)
        schema["description"] = key.description
        if key.default is not NO_DEFAULT:
            schema["default"] = key.default
        properties[key.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if description:
        out["description"] = description
    if section.required:
        out["required"] = list(section.required)
    return {**out, **section.extra}


def by_name(value: dict[str, Any], name_pattern: str, description: str, **names: Any) -> dict[str, Any]:
    """An object of ``value``s keyed by name (servers, groups, identities)."""
    return {
        "type": "object",
        "description": description,
        "propertyNames": {"pattern": name_pattern, **names},
        "additionalProperties": value,
    }
