"""The authorization server's signing keys (its JWKS), fetched without blocking and cached.

Where the keys are: ``oauth.jwksUri``, else the ``jwks_uri`` of the issuer's metadata (RFC 8414
``/.well-known/oauth-authorization-server``, then OpenID ``/.well-known/openid-configuration``, in
the order the MCP authorization spec gives), whose ``issuer`` must be the configured one.

Fetches use async httpx with ``oauth.fetchTimeout``, one at a time (callers that need keys meanwhile
wait for the same fetch). Keys are re-read when they are an hour old, and when a token names a
``kid`` we do not hold (a rotated key) — at most ``REFETCH_BURST`` such re-reads at once, then one
per ``REFETCH_INTERVAL`` seconds, so a flood of made-up ``kid``s cannot hammer the issuer. After a
failed fetch none is tried for ``FAILURE_BACKOFF`` seconds; the first failure of a run is logged
as a warning, the rest at debug level. Only asymmetric public keys are kept: an ``oct`` (HMAC) key
in a JWKS is ignored. This module does not check tokens (``tokens.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from mcp_central.config.oauth import OAuthConfig

log = logging.getLogger("mcp_central.oauth")

KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
"""Asymmetric key types; ``oct`` (a shared secret) never verifies an access token here."""
MAX_AGE_SECONDS = 3600.0
REFETCH_BURST = 3
REFETCH_INTERVAL = 30.0
FAILURE_BACKOFF = 5.0
MAX_DOCUMENT_BYTES = 1024 * 1024

Jwk = dict[str, Any]


class KeysUnavailable(Exception):
    """The JWKS (or the metadata naming it) could not be fetched; the reason names no secret."""


class KeySet:
    def __init__(self, config: OAuthConfig) -> None:
        self.config = config
        self._jwks_uri = config.jwks_uri
        self._keys: list[Jwk] = []
        self._fetched_at: float | None = None
        self._retry_at = 0.0
        self._fetch: asyncio.Task[None] | None = None
        self._allowance = float(REFETCH_BURST)
        self._allowance_at = time.monotonic()
        self._failing = False
        self.fetches = 0
        """JWKS documents fetched so far (for tests and ``/status``)."""

    async def key_for(self, kid: str | None) -> Jwk | None:
        """The public key named ``kid`` (``None``: the only key), re-reading the JWKS when it is
        old or lacks ``kid`` (rate-limited); ``None`` when it has no such key.
        ``KeysUnavailable`` when no keys could be had at all."""
        now = time.monotonic()
        if self._fetched_at is None or now - self._fetched_at > MAX_AGE_SECONDS:
            await self._refresh(required=self._fetched_at is None)
        key = self._find(kid)
        if key is None and self._may_refetch():
            await self._refresh(required=False)
            key = self._find(kid)
        return key

    def _find(self, kid: str | None) -> Jwk | None:
        if kid is None:
            return self._keys[0] if len(self._keys) == 1 else None
        return next((key for key in self._keys if key.get("kid") == kid), None)

    def _may_refetch(self) -> bool:
        """Take one unknown-``kid`` re-read from the allowance (a token bucket), if one is left."""
        now = time.monotonic()
        self._allowance = min(REFETCH_BURST, self._allowance + (now - self._allowance_at) / REFETCH_INTERVAL)
        self._allowance_at = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    async def _refresh(self, *, required: bool) -> None:
        """Fetch the keys (joining a fetch under way); raise only when ``required`` and none are held."""
        if time.monotonic() < self._retry_at and self._fetch is None:
            if required and not self._keys:
                raise KeysUnavailable("the authorization server's keys could not be fetched recently")
            return
        if self._fetch is None:
            self._fetch = asyncio.get_running_loop().create_task(self._fetch_keys())
            self._fetch.add_done_callback(self._fetch_done)
        fetch = self._fetch
        try:
            # Shielded: one caller giving up (its client went away) must not cancel everyone's fetch.
            await asyncio.shield(fetch)
        except KeysUnavailable:
            if required and not self._keys:
                raise

    def _fetch_done(self, task: asyncio.Task[None]) -> None:
        self._fetch = None
        if not task.cancelled():
            task.exception()  # retrieved here: callers may all have gone

    async def _fetch_keys(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.config.fetch_timeout, follow_redirects=False) as http:
                if self._jwks_uri is None:
                    self._jwks_uri = await self._discover(http)
                self.fetches += 1
                document = await _get_json(http, self._jwks_uri)
        except KeysUnavailable as exc:
            self._failed(str(exc))
            raise
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            self._failed("the JWKS has no 'keys' list")
            raise KeysUnavailable("the JWKS has no 'keys' list")
        self._keys = [key for key in keys if _usable(key)]
        self._fetched_at = time.monotonic()
        if self._failing:
            log.info("oauth: the authorization server's keys could be fetched again")
        self._failing = False

    def _failed(self, reason: str) -> None:
        self._retry_at = time.monotonic() + FAILURE_BACKOFF
        level = logging.DEBUG if self._failing else logging.WARNING
        log.log(level, "oauth: cannot fetch the signing keys of %s: %s", self.config.issuer, reason)
        self._failing = True

    async def _discover(self, http: httpx.AsyncClient) -> str:
        """``jwks_uri`` from the issuer's metadata, trying the well-known URLs in spec order."""
        issuer = self.config.issuer
        for url in metadata_urls(issuer):
            try:
                document = await _get_json(http, url)
            except _NotThere:
                continue
            if not isinstance(document, dict) or document.get("issuer") != issuer:
                # RFC 8414 §3.3: metadata for another issuer must not be used.
                raise KeysUnavailable(f"the metadata at {url} names another issuer")
            jwks_uri = document.get("jwks_uri")
            if isinstance(jwks_uri, str) and urlsplit(jwks_uri).scheme in ("http", "https"):
                return jwks_uri
            raise KeysUnavailable(f"the metadata at {url} has no jwks_uri")
        raise KeysUnavailable("the issuer publishes no OAuth or OpenID metadata: set oauth.jwksUri")


def metadata_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be (MCP authorization, "Authorization Server Metadata Discovery")."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        names = ("oauth-authorization-server", "openid-configuration")
        return [f"{origin}/.well-known/{name}" for name in names]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


class _NotThere(KeysUnavailable):
    """404 (or another client error) at one candidate URL: try the next."""


async def _get_json(http: httpx.AsyncClient, url: str) -> Any:
    try:
        async with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if 400 <= response.status_code < 500:
                raise _NotThere(f"HTTP {response.status_code} from {url}")
            if response.status_code != 200:
                raise KeysUnavailable(f"HTTP {response.status_code} from {url}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise KeysUnavailable(f"the document at {url} is larger than 1 MiB")
    except httpx.HTTPError as exc:
        raise KeysUnavailable(f"{type(exc).__name__} fetching {url}") from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise KeysUnavailable(f"the document at {url} is not JSON") from None


def _usable(key: Any) -> bool:
    """A public signing key we may verify with (not an HMAC secret, not an encryption key)."""
    return (
        isinstance(key, dict)
        and key.get("kty") in KEY_TYPES
        and key.get("use", "sig") == "sig"
        and "d" not in key  # a private key in a public document: refuse rather than guess
    )
