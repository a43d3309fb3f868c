"""``validate``'s check of ``toolOverrides`` against the tools each server last listed.

Whether an upstream has the tool an override names is known only once it answered: a running
gateway keeps every server's last list in ``<config>.tools.json`` (``upstream.known_tools``, in
the upstream's own names), and ``validate`` reads that file when it is there. Each problem
``core.tool_overrides.override_problems`` finds is a warning, not an error: the list is as old as
the last run (an upgraded server may have the tool now), the file may come from another machine's
gateway, and the gateway itself only logs these and keeps serving (an override of a missing tool
renames nothing). The server's current ``toolFilter`` is applied to the known names, so an
override of a tool it hides is reported too.

Reads one file; starts and asks nothing.
"""

from __future__ import annotations

from mcp_central.config.model import Config
from mcp_central.core.filters import allows
from mcp_central.core.tool_overrides import override_problems
from mcp_central.upstream.known_tools import KnownTools


def override_warnings(config: Config) -> list[str]:
    """One line per override problem of a server whose last tool list is known (none otherwise)."""
    known = KnownTools.beside(config.source)
    if known.path is None or not known.path.exists():
        return []
    lines = []
    for name, server in config.servers.items():
        tools = known.tools_of(name) if server.tool_overrides else None
        if tools is None:
            continue
        names = [str(tool.get("name")) for tool in tools if allows(str(tool.get("name")), server.tool_filter)]
        problems = override_problems(name, server.tool_overrides, names)
        lines += [f"{problem} (its last known tool list, {known.path.name})" for problem in problems]
    return lines
