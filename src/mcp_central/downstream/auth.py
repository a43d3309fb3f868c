"""Bearer-token checks for MCP routes (TBXark's ``authTokens``) and who a request came from.

A ``Caller`` is what the gateway keeps of a request's credentials: a SHA-256 digest of the bearer
token it presented (never the token) and the client's address. Routes, aggregated members and
sessions are all judged by the same ``Caller``:

- a route serves a request only if the caller's token is one of the route's tokens (or it has none);
- an aggregated route serves a member only to callers that member's own route would accept;
- a session belongs to the caller that created it: another token naming its id is told it is unknown.

Digests are compared in constant time against every configured token, so timing reveals neither
which token nor how much of it matched. Tokens are only read from the ``Authorization`` header,
never from the query string, and are never forwarded upstream.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

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


class Caller:
    """Who sent a request: the digest of its bearer token (``None``: no token) and its address."""

    __slots__ = ("address", "digest", "identity")

    def __init__(self, digest: bytes | None, address: str = "", identity: str | None = None) -> None:
        self.digest = digest
        self.address = address
        self.identity = identity
        """The identity's name, where the token names one (``None``: anonymous)."""

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

    def same_token(self, other: Caller) -> bool:
        """Whether ``other`` presented the same token (or also none): a session's owner check."""
        if self.digest is None or other.digest is None:
            return self.digest is other.digest
        return hmac.compare_digest(self.digest, other.digest)

    @property
    def key(self) -> tuple[str, bytes | None]:
        """One client for per-client limits: the same token from the same address."""
        return self.address, self.digest


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
