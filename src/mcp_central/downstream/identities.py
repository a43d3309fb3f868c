"""Identities at run time: which identity a bearer token names, what it may use, and its rate limit.

``Identities`` holds one ``Identity`` per configured name. A request's token digest is compared in
constant time with every identity token's digest (no early exit), so timing tells nothing of which
token matched or how much of it. An ``Identity`` is the ``auth.Access`` its callers carry; a reload
updates it in place (``Identities.update``), so open sessions judge by the new rules at once.

Rate limits are token buckets in memory, one per identity, shared by all its routes and sessions.

No HTTP and no routes here: the gateway asks ``caller`` and acts on the answers.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from mcp_central.config.model import IdentityConfig, NameFilter, RateLimit
from mcp_central.core.filters import allows_either
from mcp_central.downstream.auth import Caller, presented_token
from mcp_central.types import Scope


class TokenBucket:
    """``rate.requests`` tokens, refilled evenly over ``rate.per`` seconds."""

    __slots__ = ("capacity", "level", "per_second", "updated")

    def __init__(self, rate: RateLimit) -> None:
        self.capacity = float(rate.requests)
        self.per_second = rate.requests / rate.per
        self.level = self.capacity
        self.updated = time.monotonic()

    def take(self, now: float) -> float:
        """Take one token: 0.0 if there was one, else the seconds until there is."""
        self.level = min(self.capacity, self.level + (now - self.updated) * self.per_second)
        self.updated = now
        if self.level >= 1.0:
            self.level -= 1.0
            return 0.0
        return (1.0 - self.level) / self.per_second


class Identity:
    """One identity's live grants (an ``auth.Access``) and its rate-limit counters."""

    __slots__ = ("admin", "bucket", "config", "limited", "name", "removed", "separator", "tools")

    def __init__(self, config: IdentityConfig, separator: str) -> None:
        self.name = config.name
        self.separator = separator
        """``mcpProxy.separator``: how ``server__tool`` is spelled for the ``tools`` patterns."""
        self.limited = 0
        """Requests refused by the rate limit since start (``/status``)."""
        self.removed = False
        self.bucket: TokenBucket | None = None
        self.configure(config)

    def configure(self, config: IdentityConfig) -> None:
        old = getattr(self, "config", None)
        self.config = config
        self.tools: NameFilter | None = config.tool_filter
        self.admin = config.admin
        if old is None or old.rate_limit != config.rate_limit:
            self.bucket = TokenBucket(config.rate_limit) if config.rate_limit is not None else None

    def allows_tool(self, server: str, name: str, exposed: str | None = None) -> bool:
        tools = self.tools
        if tools is None:
            return True
        return allows_either(name, exposed or f"{server}{self.separator}{name}", tools)

    def may_use_server(self, name: str) -> bool:
        return _matches(name, self.config.servers)

    def may_use_group(self, name: str) -> bool:
        return _matches(name, self.config.groups)

    def throttled(self) -> int | None:
        """Count one request: ``None`` if within the rate limit, else whole seconds to wait (≥ 1)."""
        bucket = self.bucket
        if bucket is None:
            return None
        wait = bucket.take(time.monotonic())
        if wait <= 0.0:
            return None
        self.limited += 1
        return max(1, math.ceil(wait))

    def describe_limit(self) -> str:
        rate = self.config.rate_limit
        return "" if rate is None else f"{rate.requests} requests per {rate.per:g}s"

    def status(self) -> dict[str, Any]:
        rate = self.config.rate_limit
        return {
            "admin": self.admin,
            "rateLimit": None if rate is None else {"requests": rate.requests, "perSeconds": rate.per},
            "limited": self.limited,
        }


def _matches(name: str, patterns: tuple[str, ...] | None) -> bool:
    if patterns is None:
        return True
    return any(fnmatchcase(name, pattern) for pattern in patterns)


@dataclass
class IdentityChanges:
    """What a reload did to identities: the gateway closes or notifies their sessions."""

    removed: set[str] = field(default_factory=set)
    regranted: set[str] = field(default_factory=set)
    """Identities whose ``servers``, ``groups`` or ``tools`` changed (their lists may differ now)."""


class Identities:
    def __init__(self, configs: dict[str, IdentityConfig], separator: str) -> None:
        self.by_name: dict[str, Identity] = {}
        self._digests: tuple[tuple[bytes, Identity], ...] = ()
        self.update(configs, separator)

    def update(self, configs: dict[str, IdentityConfig], separator: str) -> IdentityChanges:
        """Take a new ``identities`` section; surviving identities are changed in place."""
        changes = IdentityChanges()
        for name in list(self.by_name):
            if name not in configs:
                self.by_name.pop(name).removed = True
                changes.removed.add(name)
        for name, config in configs.items():
            identity = self.by_name.get(name)
            if identity is None:
                self.by_name[name] = Identity(config, separator)
                continue
            old = identity.config
            grants = (config.servers, config.groups, config.tool_filter)
            if (old.servers, old.groups, old.tool_filter) != grants or (
                separator != identity.separator and config.tool_filter is not None
            ):
                changes.regranted.add(name)
            identity.separator = separator
            identity.configure(config)
        self._digests = tuple(
            (hashlib.sha256(token.encode()).digest(), identity)
            for identity in self.by_name.values()
            for token in identity.config.tokens
        )
        return changes

    def __bool__(self) -> bool:
        return bool(self.by_name)

    @property
    def any_admin(self) -> bool:
        return any(identity.admin for identity in self.by_name.values())

    def named_by(self, digest: bytes) -> Identity | None:
        """The identity whose token has this digest; every digest is compared (constant time)."""
        found = None
        for candidate, identity in self._digests:
            if hmac.compare_digest(digest, candidate):
                found = identity
        return found

    def caller(self, scope: Scope) -> Caller:
        """Who sent this request: an identity's caller if its bearer token names one, else anonymous."""
        client = scope.get("client")
        address = str(client[0]) if client else ""
        token = presented_token(scope)
        if token is None:
            return Caller(None, address)
        digest = hashlib.sha256(token).digest()
        identity = self.named_by(digest) if self._digests else None
        if identity is None:
            return Caller(digest, address)
        return Caller(digest, address, identity.name, identity)

    def caller_for(self, name: str, digest: bytes, address: str) -> Caller | None:
        """A caller of identity ``name`` whose credential (e.g. a verified OAuth access token) has
        ``digest``; ``None`` if no such identity is configured. Sessions bind to the identity, so a
        refreshed token (another digest) keeps its session."""
        identity = self.by_name.get(name)
        return None if identity is None else Caller(digest, address, name, identity)

    def status(self) -> dict[str, dict[str, Any]]:
        return {name: identity.status() for name, identity in self.by_name.items()}
