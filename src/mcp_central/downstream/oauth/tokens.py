"""Access-token checks: a JWT's signature, issuer, audience, lifetime and scopes (PyJWT).

Only asymmetric algorithms are accepted (``ASYMMETRIC``), and each token's ``alg`` must suit the
key its ``kid`` names: ``alg: none`` and an HMAC token "signed" with the issuer's public key are
refused before any key is used. ``aud`` must name this gateway (RFC 8707): ``oauth.audience`` or
the URL of the route the token is presented to. ``exp`` is required; ``exp``/``nbf`` get
``oauth.leeway`` of clock skew. A refusal says why in words that name no token or claim value.

This module decides; it writes no HTTP (``gate.py`` does).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from typing import Any

import jwt

from mcp_central.config.oauth import OAuthConfig
from mcp_central.downstream.oauth.keys import KeySet, KeysUnavailable

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
ASYMMETRIC = RSA_ALGORITHMS | frozenset(EC_ALGORITHMS.values()) | {"EdDSA"}


class TokenRefused(Exception):
    """Why a token is not accepted. ``scope``: the scopes it lacked (a 403, not a 401)."""

    def __init__(self, reason: str, *, scope: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.scope = scope


class TokenVerifier:
    def __init__(self, config: OAuthConfig, keys: KeySet) -> None:
        self.config = config
        self.keys = keys

    async def verify(self, token: str, audiences: Collection[str]) -> dict[str, Any]:
        """The claims of ``token`` if it is valid for one of ``audiences``; else ``TokenRefused``."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ASYMMETRIC:
            raise TokenRefused("signing algorithm not accepted (asymmetric algorithms only)")
        if kid is not None and not isinstance(kid, str):
            raise TokenRefused("malformed token")
        try:
            jwk = await self.keys.key_for(kid)
        except KeysUnavailable:
            raise TokenRefused("the authorization server's signing keys are unavailable") from None
        if jwk is None:
            raise TokenRefused("signed with a key the authorization server does not publish")
        if not _suits(jwk, alg):
            raise TokenRefused("signing algorithm does not match the key")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=list(audiences),
                issuer=self.config.issuer,
                leeway=self.config.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("token expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused("token not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused("token not issued for this resource (aud)") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("token issued by another authorization server (iss)") from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("bad signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"token lacks the '{exc.claim}' claim") from None
        except (jwt.PyJWTError, ValueError):
            raise TokenRefused("invalid token") from None
        missing = tuple(scope for scope in self.config.required_scopes if scope not in scopes_of(claims))
        if missing:
            raise TokenRefused("token lacks a required scope", scope=self.config.required_scopes)
        return claims

    def identity(self, claims: dict[str, Any]) -> str | None:
        """The identity a verified token speaks for: its ``identityClaim`` through
        ``oauth.identities`` (exact values first, then globs in config order), or the claim value
        itself when no mapping is configured. ``None``: mapped, and no entry matches.
        ``TokenRefused`` when the claim is missing."""
        value = claims.get(self.config.identity_claim)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise TokenRefused(f"token lacks the '{self.config.identity_claim}' claim")
        if not self.config.mapped:
            return value
        for pattern, name in self.config.identities:
            if pattern == value:
                return name
        for pattern, name in self.config.identities:
            if fnmatch.fnmatchcase(value, pattern):
                return name
        return None


def scopes_of(claims: dict[str, Any]) -> set[str]:
    """Granted scopes: ``scope`` (RFC 9068, space-separated) or ``scp`` (a list, or a string)."""
    granted: set[str] = set()
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(item for item in value if isinstance(item, str))
    return granted


def _suits(jwk: dict[str, Any], alg: str) -> bool:
    """Whether ``alg`` is one the key may sign with (its own ``alg`` when it names one)."""
    if "alg" in jwk and jwk["alg"] != alg:
        return False
    kty = jwk.get("kty")
    if kty == "RSA":
        return alg in RSA_ALGORITHMS
    if kty == "EC":
        return EC_ALGORITHMS.get(jwk.get("crv", "")) == alg
    if kty == "OKP":
        return alg == "EdDSA" and jwk.get("crv") == "Ed25519"
    return False
