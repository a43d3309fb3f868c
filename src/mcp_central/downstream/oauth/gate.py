"""Who may use an MCP route: static bearer tokens first, then OAuth access tokens.

``authenticate`` is the one call the gateway makes per request. It answers a ``Caller`` or a
``Refusal`` (which the gateway sends, and may count and audit first):

- a token among the route's static ``authTokens`` → a ``Caller`` (as before OAuth existed);
- without ``oauth``: no token or a wrong one → 401 (a route without tokens serves anyone);
- with ``oauth``: every route needs a token. A JWT valid for this route → an ``OAuthCaller`` named
  by its identity; a token that is no JWT or an invalid JWT → 401 ``invalid_token``; no token →
  401; a valid token without the required scopes → 403 ``insufficient_scope``; a valid token whose
  identity claim maps to no configured identity (with ``oauth.identities``) → 403.

Every 401 (and the scope 403) carries ``WWW-Authenticate: Bearer resource_metadata="…"`` naming
the route's RFC 9728 document, which is how MCP clients find the authorization server. Verified
tokens are remembered (by digest, until they expire or a minute passes) so a session's requests do
not repeat the signature check. Nothing here logs or returns a token or a claim value.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Protocol

from mcp_central.config.oauth import OAuthConfig
from mcp_central.downstream.auth import Caller, challenge, presented_token
from mcp_central.downstream.http import respond_json
from mcp_central.downstream.oauth.keys import KeySet
from mcp_central.downstream.oauth.metadata import ResourceMetadata
from mcp_central.downstream.oauth.tokens import TokenRefused, TokenVerifier
from mcp_central.types import Scope, Send

JWT_SHAPE = re.compile(rb"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
"""Three base64url parts (the last may be empty: ``alg: none`` tokens are refused, not ignored)."""
MISSING = "missing bearer token: send 'Authorization: Bearer <token>'"
REMEMBERED_TOKENS = 4096
REMEMBER_SECONDS = 60.0


class OAuthCaller(Caller):
    """A caller that presented a valid access token. Static ``authTokens`` do not apply to it: the
    OAuth token admits it to every route (and aggregated member); what its identity may use is
    decided by that identity's permissions."""

    __slots__ = ()

    def accepted_by(self, tokens: tuple[str, ...]) -> bool:
        return True


@dataclass(frozen=True)
class Refusal:
    """A request refused before any session: status, a short reason and the challenge header."""

    status: int
    detail: str
    challenge: bytes | None = None

    async def respond(self, send: Send) -> None:
        error = "unauthorized" if self.status == 401 else "forbidden"
        headers = [(b"www-authenticate", self.challenge)] if self.challenge is not None else []
        await respond_json(send, self.status, {"error": error, "detail": self.detail}, headers)


class ResourceServer:
    """The gateway as an OAuth 2.1 resource server: its metadata and its token checks."""

    def __init__(self, config: OAuthConfig, base_path: str) -> None:
        self.config = config
        self.metadata = ResourceMetadata(config, base_path)
        self.keys = KeySet(config)
        self.verifier = TokenVerifier(config, self.keys)
        self._verified: dict[tuple[bytes, str], tuple[float, str | None]] = {}
        """(token digest, route path) → (remember until, identity): recently verified tokens."""

    async def caller(self, token: bytes, address: str, route_path: str) -> Caller | Refusal:
        """The caller a bearer ``token`` (a JWT) speaks for at ``route_path``, or why not."""
        digest = hashlib.sha256(token).digest()
        now = time.time()
        remembered = self._verified.get((digest, route_path))
        if remembered is not None and remembered[0] > now:
            return _admitted(digest, address, remembered[1])
        try:
            claims = await self.verifier.verify(token.decode("ascii"), self.metadata.audiences(route_path))
            identity = self.verifier.identity(claims)
        except TokenRefused as refused:
            if refused.scope:
                return self.scope_refusal(route_path, refused.scope)
            return self.unauthorized(route_path, f"invalid access token: {refused.reason}", presented=True)
        expires = claims.get("exp")
        until = min(float(expires), now + REMEMBER_SECONDS) if isinstance(expires, int | float) else now
        if len(self._verified) >= REMEMBERED_TOKENS:
            self._verified.pop(next(iter(self._verified)))
        self._verified[(digest, route_path)] = (until, identity)
        return _admitted(digest, address, identity)

    def unauthorized(self, route_path: str, detail: str, *, presented: bool) -> Refusal:
        return Refusal(401, detail, challenge(presented, self.metadata.url(route_path)))

    def scope_refusal(self, route_path: str, scopes: tuple[str, ...]) -> Refusal:
        value = (
            f'Bearer error="insufficient_scope", scope="{" ".join(scopes)}", '
            f'resource_metadata="{self.metadata.url(route_path)}"'
        )
        return Refusal(403, "the access token lacks a required scope", value.encode())


def _admitted(digest: bytes, address: str, identity: str | None) -> Caller | Refusal:
    if identity is None:
        return Refusal(403, "this access token's identity has no access to this gateway")
    return OAuthCaller(digest, address, identity)


class CallerSource(Protocol):
    """Static tokens → callers (``downstream.identities.Identities``): an identity's caller when
    the token names one, else an anonymous one; and a verified OAuth identity's caller by name."""

    def caller(self, scope: Scope) -> Caller: ...

    def caller_for(self, name: str, digest: bytes, address: str) -> Caller | None: ...


async def authenticate(
    scope: Scope,
    route_path: str,
    route_tokens: tuple[str, ...],
    oauth: ResourceServer | None,
    identities: CallerSource,
) -> Caller | Refusal:
    """Who sent this request to the route at ``route_path`` (``/a/mcp``, ``/mcp``,
    ``/groups/g/sse``; under ``baseURL``) guarded by ``route_tokens``, or the refusal to send.
    An identity's static token is admitted here; whether its identity may use the route is the
    gateway's next check (``Route.admits``)."""
    caller = identities.caller(scope)
    if caller.access is not None:
        return caller
    token = presented_token(scope)
    if oauth is None:
        if caller.accepted_by(route_tokens):
            return caller
        detail = "invalid bearer token" if token is not None else MISSING
        return Refusal(401, detail, challenge(token is not None))
    if token is not None and route_tokens and caller.accepted_by(route_tokens):
        return caller
    if token is None:
        return oauth.unauthorized(route_path, MISSING, presented=False)
    if not JWT_SHAPE.match(token):
        return oauth.unauthorized(route_path, "invalid bearer token", presented=True)
    verified = await oauth.caller(token, caller.address, route_path)
    if isinstance(verified, Refusal) or verified.identity is None:
        return verified
    # A configured identity brings its grants; a claim value with no identities configured is
    # an identity of its own with full access (an ``OAuthCaller``: route tokens do not apply).
    return (
        identities.caller_for(verified.identity, hashlib.sha256(token).digest(), caller.address) or verified
    )
