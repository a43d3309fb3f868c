"""The ``identities`` section: who is calling, what they may use, and how often.

    "identities": {
      "alice": {"tokens": ["${ALICE_TOKEN}"], "servers": ["github", "db-*"], "groups": ["all"],
                "tools": {"mode": "block", "list": ["*delete*"]},
                "rateLimit": {"requests": 120, "per": "1m"}, "admin": false}
    }

``servers`` and ``groups`` take names and globs (``fnmatch``); absent means all, ``[]`` none. A
plain name (no ``*``, ``?`` or ``[``) must name a configured server or group: a typo would quietly
shut its holder out. A token names one identity or none: the same token in two identities, or in an
identity and any ``authTokens``/``adminTokens`` list, is an error (which of the two would it be?).
Errors name the key path and never show a token's value.

Validation only: the gateway's ``downstream.identities`` turns these into who a request is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mcp_central.config.fields import (
    Problems,
    as_object,
    boolean,
    count,
    duration,
    shown,
    token_list,
    unknown,
)
from mcp_central.config.keys import IDENTITY, IDENTITY_NAME_PATTERN, RATE_LIMIT
from mcp_central.config.model import (
    ALL_GROUP,
    GroupConfig,
    IdentityConfig,
    NameFilter,
    ProxyConfig,
    RateLimit,
    ServerConfig,
)

IDENTITY_KEYS = IDENTITY.names()
RATE_LIMIT_KEYS = RATE_LIMIT.names()
DEFAULT_RATE_PERIOD_SECONDS = 60.0
NAME_PATTERN = re.compile(IDENTITY_NAME_PATTERN)
"""Identity names appear in logs, metrics labels and the audit trail: short and plain."""
_GLOB = re.compile(r"[*?\[]")

FilterReader = Callable[[Any, str], NameFilter | None]


def read_identities(
    raw: Any,
    servers: list[str],
    groups: list[str],
    anonymous_tokens: list[tuple[str, tuple[str, ...]]],
    read_filter: FilterReader,
    problems: Problems,
) -> dict[str, IdentityConfig]:
    """``anonymous_tokens``: every ``authTokens``/``adminTokens`` list, with its key path."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add("identities", "expected an object of identities by name")
        return {}
    owners: dict[str, str] = {}
    for where, listed in anonymous_tokens:
        for token in listed:
            owners.setdefault(token, where)
    known_groups = [ALL_GROUP, *(name for name in groups if name != ALL_GROUP)]
    identities = {}
    for name, entry in raw.items():
        path = f"identities.{name}"
        if not NAME_PATTERN.match(name):
            problems.add(path, "identity names use letters, digits, '_', '-', '.', '@' and '+' (at most 64)")
            continue
        if not isinstance(entry, dict):
            problems.add(path, "expected an object with 'tokens', 'servers', 'groups', 'tools', …")
            continue
        unknown(entry, IDENTITY_KEYS, path, problems)
        tokens: tuple[str, ...] = ()
        if "tokens" in entry:
            tokens = token_list(entry, "tokens", path, problems) or ()
        for index, token in enumerate(tokens):
            other = owners.get(token)
            if other is not None and other != path:
                problems.add(
                    f"{path}.tokens[{index}]",
                    f"is also a token of {other}: a token names one identity, or none (an anonymous token)",
                )
            owners.setdefault(token, path)
        tool_filter = read_filter(entry["tools"], f"{path}.tools") if entry.get("tools") is not None else None
        identities[name] = IdentityConfig(
            name=name,
            tokens=tokens,
            servers=_names(entry, "servers", path, servers, "mcpServers", problems),
            groups=_names(entry, "groups", path, known_groups, "groups", problems),
            tool_filter=tool_filter,
            rate_limit=_rate_limit(entry["rateLimit"], f"{path}.rateLimit", problems)
            if entry.get("rateLimit") is not None
            else None,
            admin=bool(boolean(entry, "admin", path, problems)),
        )
    return identities


def _names(
    entry: dict[str, Any], key: str, path: str, known: list[str], section: str, problems: Problems
) -> tuple[str, ...] | None:
    if key not in entry:
        return None
    raw = entry[key]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        problems.add(f"{path}.{key}", f"expected a list of names or globs from {section}")
        return ()  # a mistake must not widen access
    for index, item in enumerate(raw):
        if not _GLOB.search(item) and item not in known:
            listed = ", ".join(known) or "none"
            problems.add(
                f"{path}.{key}[{index}]",
                f"no {key[:-1]} named {shown(item)} in {section} (known: {listed})",
            )
    return tuple(raw)


def _rate_limit(raw: Any, path: str, problems: Problems) -> RateLimit | None:
    spec = as_object(raw, path, problems)
    unknown(spec, RATE_LIMIT_KEYS, path, problems)
    per = duration(spec, "per", path, problems, DEFAULT_RATE_PERIOD_SECONDS)
    if "requests" not in spec:
        problems.add(f"{path}.requests", "is required: how many requests per 'per' (e.g. 60)")
        return None
    return RateLimit(count(spec, "requests", path, problems, 1), per)


def anonymous_tokens(
    proxy: ProxyConfig, servers: dict[str, ServerConfig], groups: dict[str, GroupConfig]
) -> list[tuple[str, tuple[str, ...]]]:
    """Every anonymous token list with the key path that sets it (an identity may not reuse one)."""
    lists = [("mcpProxy.options.authTokens", proxy.auth_tokens)]
    lists.append(("mcpProxy.options.adminTokens", proxy.admin_tokens or ()))
    lists += [
        (f"mcpServers.{name}.options.authTokens", server.auth_tokens) for name, server in servers.items()
    ]
    lists += [(f"groups.{name}.authTokens", group.auth_tokens) for name, group in groups.items()]
    return lists
