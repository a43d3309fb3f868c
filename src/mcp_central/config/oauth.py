"""``mcpProxy.options.oauth``: the gateway as an OAuth 2.1 resource server (MCP authorization).

    "oauth": {
      "issuer": "https://auth.example.com",        // the authorization server (required)
      "audience": "https://mcp.example.com",       // default: baseURL (which oauth requires)
      "jwksUri": "https://auth.example.com/jwks",  // default: from the issuer's metadata
      "requiredScopes": ["mcp"],                   // every token must carry all of them
      "scopesSupported": ["mcp", "mcp:admin"],     // advertised in the resource metadata
      "identityClaim": "sub",                      // the claim naming the caller
      "identities": {"alice@example.com": "alice", "svc-*": "robots"},
      "leeway": "30s",                             // clock skew allowed on exp/nbf
      "fetchTimeout": "5s"                         // JWKS and metadata requests
    }

This module validates and builds ``OAuthConfig``; it does not fetch anything or check tokens
(``downstream.oauth`` does). Problems are recorded with their key path, never with a value that
could be a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mcp_central.config.fields import Problems, as_object, duration, kind, shown, string, unknown
from mcp_central.config.keys import OAUTH

OAUTH_PATH = "mcpProxy.options.oauth"
OAUTH_KEYS = OAUTH.names()
DEFAULT_LEEWAY_SECONDS = 30.0
DEFAULT_FETCH_TIMEOUT_SECONDS = 5.0
MAX_LEEWAY_SECONDS = 300.0


@dataclass(frozen=True)
class OAuthConfig:
    """Who may issue the gateway's access tokens and what a token must say to be accepted."""

    issuer: str
    """The authorization server's issuer identifier: the ``iss`` every token must carry."""
    audience: str
    """The ``aud`` (RFC 8707 resource indicator) a token must carry; a route's own URL is accepted too."""
    resource: str
    """The gateway's resource URL: ``baseURL`` without a trailing slash (routes are below it)."""
    jwks_uri: str | None = None
    """Where the signing keys are; ``None``: from the issuer's RFC 8414 / OpenID metadata."""
    required_scopes: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()
    """Scopes the resource metadata advertises (default: ``required_scopes``)."""
    identity_claim: str = "sub"
    identities: tuple[tuple[str, str], ...] = ()
    """``(claim value or glob, identity name)`` in config order; exact values win over globs."""
    mapped: bool = False
    """Whether ``identities`` was configured: then a token whose claim maps to none is refused."""
    leeway: float = DEFAULT_LEEWAY_SECONDS
    fetch_timeout: float = DEFAULT_FETCH_TIMEOUT_SECONDS


def read_oauth(raw: Any, base_url: str, identities: Any, problems: Problems) -> OAuthConfig | None:
    """``mcpProxy.options.oauth`` (``raw``; ``None``: absent). ``identities`` is the top-level
    ``identities`` section as written, so mapped names can be checked against it."""
    if raw is None:
        return None
    path = OAUTH_PATH
    spec = as_object(raw, path, problems)
    unknown(spec, OAUTH_KEYS, path, problems)
    issuer = _url(spec, "issuer", problems, required=True)
    jwks_uri = _url(spec, "jwksUri", problems, required=False)
    resource = base_url.rstrip("/")
    if not resource:
        problems.add(
            "mcpProxy.baseURL",
            "is required with mcpProxy.options.oauth: resource URLs and the token audience are built "
            "from the URL clients reach the gateway at",
        )
    audience = string(spec, "audience", path, problems)
    if audience is not None and not audience.strip():
        problems.add(f"{path}.audience", "is empty: leave it out to use baseURL")
    claim = string(spec, "identityClaim", path, problems) or "sub"
    mapping = _identities(spec, identities, problems)
    if "identities" not in spec and isinstance(identities, dict) and identities:
        problems.add(
            f"{path}.identities",
            "is required when top-level identities exist: map claim values to identity names, "
            "else a token's subject could be taken for a configured identity of the same name",
        )
    required = _scopes(spec, "requiredScopes", problems)
    supported = _scopes(spec, "scopesSupported", problems) if "scopesSupported" in spec else required
    leeway = duration(spec, "leeway", path, problems, DEFAULT_LEEWAY_SECONDS)
    if leeway > MAX_LEEWAY_SECONDS:
        problems.add(f"{path}.leeway", "must be at most 5m: a longer leeway keeps expired tokens valid")
    if issuer is None or not resource:
        return None
    return OAuthConfig(
        issuer=issuer,
        audience=(audience or resource).strip(),
        resource=resource,
        jwks_uri=jwks_uri,
        required_scopes=required,
        scopes_supported=supported,
        identity_claim=claim,
        identities=mapping,
        mapped="identities" in spec,
        leeway=leeway,
        fetch_timeout=duration(spec, "fetchTimeout", path, problems, DEFAULT_FETCH_TIMEOUT_SECONDS),
    )


def _url(spec: dict[str, Any], key: str, problems: Problems, *, required: bool) -> str | None:
    value = string(spec, key, OAUTH_PATH, problems)
    if value is None:
        if required and key not in spec:
            problems.add(f"{OAUTH_PATH}.{key}", "is required: the authorization server's issuer URL")
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        problems.add(
            f"{OAUTH_PATH}.{key}", f"expected an http(s) URL with a host and no query, got {shown(value)}"
        )
        return None
    return value


def _scopes(spec: dict[str, Any], key: str, problems: Problems) -> tuple[str, ...]:
    value = spec.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(f"{OAUTH_PATH}.{key}", f"expected a list of scope names, got {kind(value)}")
        return ()
    scopes = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item or any(char.isspace() or char == '"' for char in item):
            problems.add(
                f"{OAUTH_PATH}.{key}[{index}]",
                f"expected a scope name without spaces or quotes, got {shown(item)}",
            )
        else:
            scopes.append(item)
    return tuple(scopes)


def _identities(spec: dict[str, Any], identities: Any, problems: Problems) -> tuple[tuple[str, str], ...]:
    value = spec.get("identities")
    if value is None:
        return ()
    path = f"{OAUTH_PATH}.identities"
    if not isinstance(value, dict):
        problems.add(path, f"expected an object of claim value (or glob) → identity name, got {kind(value)}")
        return ()
    known = set(identities) if isinstance(identities, dict) else None
    mapping = []
    for pattern, name in value.items():
        if not pattern:
            problems.add(path, "has an empty claim value: it would match nothing")
        elif not isinstance(name, str) or not name.strip():
            problems.add(f"{path}.{pattern}", f"expected an identity name, got {shown(name)}")
        elif known is not None and name not in known:
            problems.add(f"{path}.{pattern}", f"names identity {shown(name)}, which is not in identities")
        else:
            mapping.append((pattern, name))
    return tuple(mapping)
