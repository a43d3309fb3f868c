"""The ``groups`` section: named sets of upstreams served as one aggregated MCP server.

    "groups": {
      "db":  {"servers": ["postgres", "timescaledb"], "authTokens": ["${DB_TOKEN}"],
              "toolFilter": {"mode": "block", "list": ["*__drop_*"]}},
      "all": {"toolFilter": {...}}          // the default group served at /mcp; servers default to all
    }

A group's ``authTokens`` default to the global ones, its ``toolDiscovery``/``alwaysList`` to
``mcpProxy.options``' (config/discovery.py); filters (``toolFilter``, ``promptFilter``,
``resourceFilter``) come on top of each member's own. This module only validates and builds
``GroupConfig``s; the loader calls it with the servers already read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp_central.config.discovery import read_discovery
from mcp_central.config.fields import Problems, shown, token_list
from mcp_central.config.keys import GROUP
from mcp_central.config.model import ALL_GROUP, GroupConfig, NameFilter

GROUP_KEYS = GROUP.names()

NameCheck = Callable[[str], str | None]
FilterReader = Callable[[Any, str], NameFilter | None]


def read_groups(
    raw: Any,
    servers: list[str],
    global_tokens: tuple[str, ...],
    name_problem: NameCheck,
    read_filter: FilterReader,
    problems: Problems,
) -> dict[str, GroupConfig]:
    problem = problems.add
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problem("groups", "expected an object of groups by name")
        return {}
    groups = {}
    for name, entry in raw.items():
        path = f"groups.{name}"
        name_error = name_problem(name)
        if name_error is not None:
            problem(path, name_error)
            continue
        if not isinstance(entry, dict):
            problem(path, "expected an object with 'servers' (a list of server names)")
            continue
        for key in entry:
            if key not in GROUP_KEYS:
                problem(f"{path}.{key}", f"unknown key (known keys: {', '.join(sorted(GROUP_KEYS))})")
        members = _members(entry, path, servers, name == ALL_GROUP, problem)
        tokens = global_tokens
        if "authTokens" in entry:
            own = token_list(entry, "authTokens", path, problems)
            tokens = global_tokens if own is None else own  # [] opens the group on purpose
        filters = {
            key: read_filter(entry[key], f"{path}.{key}") if entry.get(key) is not None else None
            for key in ("toolFilter", "promptFilter", "resourceFilter")
        }
        groups[name] = GroupConfig(
            name,
            members,
            tokens,
            filters["toolFilter"],
            filters["promptFilter"],
            filters["resourceFilter"],
            read_discovery(entry, path, problems),
        )
    return groups


def _members(
    entry: dict[str, Any], path: str, servers: list[str], is_all: bool, problem: Callable[[str, str], None]
) -> tuple[str, ...]:
    if "servers" not in entry:
        if is_all:
            return tuple(servers)
        problem(f"{path}.servers", "is required: the names of the servers this group serves")
        return ()
    raw = entry["servers"]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        problem(f"{path}.servers", "expected a list of server names")
        return ()
    members = []
    for index, member in enumerate(raw):
        if member not in servers:
            known = ", ".join(servers) or "none"
            problem(
                f"{path}.servers[{index}]", f"no server named {shown(member)} in mcpServers (known: {known})"
            )
        elif member not in members:
            members.append(member)
    return tuple(members)
