"""Bearer-token checks for MCP routes (TBXark's ``authTokens``) and who a request came from.

A ``Caller`` is what the gateway keeps of a request's credentials: a SHA-256 digest of the bearer
token it presented (never the token) and the client's address. Routes, aggregated members and
sessions are all judged by the same ``Caller``:

- a route serves a request only if the caller's token is one of the route's tokens (or it has none);
- an aggregated route serves a member only to callers that member's own route would accept;
- a session belongs to the caller that created it: another token naming its id is told it is unknown.

A caller whose token names an identity (``downstream.identities``) carries its ``Access``: then the
identity's ``servers`` and ``groups`` decide which routes and members it may use, whatever tokens
those routes list, its ``tools`` narrow what it sees, and its sessions are bound to the identity
rather than to the token (an OAuth token refreshed mid-session keeps its session).

Digests are compared in constant time against every configured token, so timing reveals neither
which token nor how much of it matched. Tokens are only read from the ``Authorization`` header,
never from the query string, and are never forwarded upstream.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Protocol

from mcp_central.config.model import NameFilter
from mcp_central.downstream.http import header, respond_json
from mcp_central.types import Scope, Send


def presented_token(scope: Scope) -> bytes | None:
    value = header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, credential = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip().encode("latin-1")


@functools.lru_cache(maxsize=256)
def _digests(tokens: tuple[str, ...]) -> tuple[bytes, ...]:
    """Digests of a route's configured tokens (the tuple changes only on reload)."""
    return tuple(hashlib.sha256(token.encode()).digest() for token in tokens)


class Access(Protocol):
    """What an identity may use (``downstream.identities.Identity``; a protocol so this module
    imports nothing above it). Read live: a reload changes it for open sessions too."""

    name: str
    tools: NameFilter | None

    def may_use_server(self, name: str) -> bool: ...

    def may_use_group(self, name: str) -> bool: ...

    def allows_tool(self, server: str, name: str, exposed: str | None = None) -> bool:
        """Whether its ``tools`` filter lets ``server``'s tool ``name`` through; patterns match the
        tool's own name or ``server__tool`` (``exposed``: the name a group shows, if it has one)."""
        ...

    def throttled(self) -> int | None:
        """Count one request against the rate limit: ``None`` if within it, else seconds to wait."""
        ...

    def describe_limit(self) -> str: ...


class Caller:
    """Who sent a request: the digest of its bearer token (``None``: no token) and its address."""

    __slots__ = ("access", "address", "digest", "identity")

    def __init__(
        self,
        digest: bytes | None,
        address: str = "",
        identity: str | None = None,
        access: Access | None = None,
    ) -> None:
        self.digest = digest
        self.address = address
        self.identity = identity
        """The identity's name, where the token names one (``None``: anonymous)."""
        self.access = access
        """The identity's grants (``None``: an anonymous caller, judged by route tokens alone)."""

    @property
    def tool_check(self) -> Callable[[str, str], bool] | None:
        """The identity's tool check for a link (``None`` when it has no ``tools`` filter: free)."""
        access = self.access
        return None if access is None or access.tools is None else access.allows_tool

    def may_use_server(self, name: str, tokens: tuple[str, ...]) -> bool:
        """Whether ``/name/…`` (or member ``name`` of a group) serves this caller."""
        access = self.access
        return self.accepted_by(tokens) if access is None else access.may_use_server(name)

    def may_use_group(self, name: str, tokens: tuple[str, ...]) -> bool:
        access = self.access
        return self.accepted_by(tokens) if access is None else access.may_use_group(name)

    @classmethod
    def of(cls, scope: Scope) -> Caller:
        token = presented_token(scope)
        client = scope.get("client")
        address = str(client[0]) if client else ""
        return cls(hashlib.sha256(token).digest() if token is not None else None, address)

    def accepted_by(self, tokens: tuple[str, ...]) -> bool:
        """Whether a route (or member) with ``tokens`` serves this caller; no tokens: everyone."""
        if not tokens:
            return True
        if self.digest is None:
            return False
        matched = False
        for digest in _digests(tokens):
            matched |= hmac.compare_digest(self.digest, digest)
        return matched

    def same_caller(self, other: Caller) -> bool:
        """A session's owner check: the same identity, or for anonymous callers the same token (or
        also none)."""
        if self.identity is not None or other.identity is not None:
            return self.identity == other.identity
        if self.digest is None or other.digest is None:
            return self.digest is other.digest
        return hmac.compare_digest(self.digest, other.digest)

    @property
    def key(self) -> tuple[str, bytes | str | None]:
        """One client for per-client limits: the same identity (whatever token it shows: an OAuth
        token refreshed is the same client) or anonymous token, from the same address."""
        return self.address, self.identity if self.identity is not None else self.digest


def challenge(presented: bool, resource_metadata: str | None = None) -> bytes:
    """A 401's ``WWW-Authenticate``: ``invalid_token`` when a token was presented; with OAuth, the
    URL of the route's RFC 9728 metadata, where MCP clients find the authorization server."""
    params = ['realm="mcp-central"']
    if resource_metadata is not None:
        params.append(f'resource_metadata="{resource_metadata}"')
    if presented:
        params.append('error="invalid_token"')
    return ("Bearer " + ", ".join(params)).encode()


async def reject(scope: Scope, send: Send, resource_metadata: str | None = None) -> None:
    """401 with a ``WWW-Authenticate`` challenge saying whether a token was missing or wrong."""
    presented = presented_token(scope) is not None
    if presented:
        detail = "invalid bearer token"
    else:
        detail = "missing bearer token: send 'Authorization: Bearer <token>'"
    await respond_json(
        send,
        401,
        {"error": "unauthorized", "detail": detail},
        [(b"www-authenticate", challenge(presented, resource_metadata))],
    )
