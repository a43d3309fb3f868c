"""What a server or group name may be: it becomes one URL path segment (``/NAME/mcp``).

Letters, digits, ``_`` and ``-``, with dots inside (TBXark users have ``mcp.server``), but never a
dot at either end: ``.`` and ``..`` would make ``/../mcp`` (the aggregate route, or outside the
base path) and ``.hidden`` reads as a dot-file. Pure: the loader and the operator verbs ask here.
"""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?$")
RESERVED_NAMES = frozenset(
    {
        "mcp",
        "sse",
        "message",
        "healthz",
        "readyz",
        "status",
        "metrics",
        "groups",
        "openapi",
        ".well-known",
        "ui",
    }
)
"""Server names taken by the gateway's own routes."""

RULE = "letters, digits, '_' and '-', and dots inside the name (not first or last)"


def name_problem(name: str, what: str = "server") -> str | None:
    """Why ``name`` cannot be a ``what`` name (``server`` or ``group``), or ``None`` if it can."""
    if not NAME_PATTERN.match(name):
        return f"{what} names may use only {RULE}: they become URL paths"
    if what == "server" and name in RESERVED_NAMES:
        return f"'{name}' is reserved for a gateway route; choose another server name"
    return None
