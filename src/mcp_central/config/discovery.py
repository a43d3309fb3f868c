"""``toolDiscovery`` and ``alwaysList``: how an aggregated route shows its tools.

    "mcpProxy": {"options": {"toolDiscovery": "search", "alwaysList": ["time__*"]}},  // every group
    "groups": {"db": {"servers": [...], "toolDiscovery": "list"}}                     // its own

Both keys live on a group or in ``mcpProxy.options`` (the default of every group that sets
neither, ``/mcp`` included); a group that sets either key sets both (``toolDiscovery`` unset is
``"list"``). Server routes (``/NAME/mcp``) always list: one server's tools rarely
fill a context window, and its own clients expect its own list. This module only validates and
builds the ``ToolDiscovery``; ``core.discovery`` and ``downstream.discovery`` use it.
"""

from __future__ import annotations

from typing import Any

from mcp_central.config.fields import Problems, shown, string_list
from mcp_central.config.keys import TOOL_DISCOVERY_MODES
from mcp_central.config.model import ToolDiscovery


def read_discovery(entry: dict[str, Any], path: str, problems: Problems) -> ToolDiscovery | None:
    """The ``ToolDiscovery`` set in ``entry`` (a group, or ``mcpProxy.options``); ``None`` when it
    sets neither key (then it inherits)."""
    if entry.get("toolDiscovery") is None and entry.get("alwaysList") is None:
        return None
    mode = entry.get("toolDiscovery")
    if mode is None:
        mode = "list"
    elif mode not in TOOL_DISCOVERY_MODES:
        expected = " or ".join(f'"{name}"' for name in TOOL_DISCOVERY_MODES)
        problems.add(f"{path}.toolDiscovery", f"expected {expected}, got {shown(mode)}")
        mode = "list"
    patterns = string_list(entry, "alwaysList", path, problems)
    for index, pattern in enumerate(patterns):
        if not pattern.strip():
            problems.add(f"{path}.alwaysList[{index}]", "is empty: it would match no tool")
    if patterns and mode != "search":
        problems.add(
            f"{path}.alwaysList",
            'only applies with "toolDiscovery": "search" beside it (in list mode every tool is listed)',
        )
    return ToolDiscovery("search" if mode == "search" else "list", tuple(patterns))
