"""A tool's JSON Schema as schema objects of an OpenAPI 3.1 document. Sans-IO, pure.

OpenAPI 3.1 schema objects are JSON Schema 2020-12, so a tool's ``inputSchema`` and ``outputSchema``
are kept as they are — ``anyOf``/``oneOf``, ``type: [..., "null"]``, enums, defaults, descriptions —
with one exception: where references point. Inside the document a ``$ref`` such as
``#/$defs/Node`` resolves against the document's root, not the tool's schema, so each schema moves
into ``components/schemas`` and every local reference is rewritten to where its target now lives:

    #/$defs/Node (or #/definitions/Node)   →  #/components/schemas/<key>.Node
    #  and  #/properties/…                 →  #/components/schemas/<key>  and  …/<key>/properties/…

References are kept, never inlined, so recursive schemas stay finite. The root's ``$id`` and
``$schema`` are dropped (an ``$id`` would change what ``#`` means; the document's dialect is
2020-12), and draft-07's array form of ``items`` becomes ``prefixItems``. Nothing else changes.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

COMPONENTS = "#/components/schemas/"
_DEFS_KEYS = ("$defs", "definitions")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def component_key(text: str) -> str:
    """A ``components/schemas`` name for ``text`` (OpenAPI allows ``[A-Za-z0-9._-]`` only)."""
    return _UNSAFE.sub("_", text) or "_"


def _pointer_tokens(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer in a URI fragment (``/a~1b/c`` → ``["a/b", "c"]``)."""
    return [unquote(token).replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:]]


def _pointer(tokens: list[str]) -> str:
    return "".join("/" + quote(token.replace("~", "~0").replace("/", "~1"), safe="") for token in tokens)


class SchemaMover:
    """Moves one schema (and its ``$defs``) under ``components/schemas`` as ``key`` and ``key.NAME``."""

    def __init__(self, key: str, components: dict[str, Any]) -> None:
        self.key = key
        self.components = components
        self._defs: dict[tuple[str, str], str] = {}

    def move(self, schema: Any) -> dict[str, str]:
        """Add ``schema`` to the components; the ``$ref`` object that names it."""
        root = dict(schema) if isinstance(schema, dict) else {"type": "object"}
        root.pop("$id", None)
        root.pop("$schema", None)
        for defs_key in _DEFS_KEYS:
            defs = root.pop(defs_key, None)
            if isinstance(defs, dict):
                for name in defs:
                    self._defs[(defs_key, name)] = self._free(f"{self.key}.{component_key(name)}")
        self.key = self._free(self.key)
        for (defs_key, name), target in self._defs.items():
            self.components[target] = self._rewrite(schema[defs_key][name])
        self.components[self.key] = self._rewrite(root)
        return {"$ref": COMPONENTS + self.key}

    def _free(self, wanted: str) -> str:
        """``wanted``, or ``wanted_2``, … if another schema already took it."""
        name, n = wanted, 1
        while name in self.components or name in self._defs.values():
            n += 1
            name = f"{wanted}_{n}"
        self.components[name] = {}  # reserved until filled
        return name

    def _rewrite(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._rewrite(item) for item in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                out[key] = self._reference(item)
            elif key == "items" and isinstance(item, list):  # draft-07 tuple form
                out["prefixItems"] = self._rewrite(item)
                if "additionalItems" in value:
                    out["items"] = self._rewrite(value["additionalItems"])
            elif key == "additionalItems" and isinstance(value.get("items"), list):
                continue  # became ``items`` above
            elif key in ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas"):
                # Maps of names to schemas: the names are data, never keywords.
                is_map = isinstance(item, dict)
                out[key] = {name: self._rewrite(sub) for name, sub in item.items()} if is_map else item
            else:
                out[key] = self._rewrite(item)
        return out

    def _reference(self, ref: str) -> str:
        """Where a local reference points once the schema lives in the components."""
        if not ref.startswith("#"):
            return ref  # another document: left as the upstream wrote it
        tokens = _pointer_tokens(ref[1:]) if ref[1:].startswith("/") else []
        if ref[1:] and not ref[1:].startswith("/"):
            return ref  # an anchor (``#node``): resolved by the schema's own ``$anchor``
        if len(tokens) >= 2 and (tokens[0], tokens[1]) in self._defs:
            return COMPONENTS + self._defs[(tokens[0], tokens[1])] + _pointer(tokens[2:])
        return COMPONENTS + self.key + _pointer(tokens)
