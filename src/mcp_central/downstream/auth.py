"""Bearer-token checks for MCP routes (TBXark's ``authTokens``).

Tokens are compared in constant time against every configured token, so timing reveals neither
which token nor how much of it matched. Tokens are only read from the ``Authorization`` header,
never from the query string, and are never forwarded upstream.
"""

from __future__ import annotations

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


def authorized(scope: Scope, tokens: tuple[str, ...]) -> bool:
    if not tokens:
        return True
    credential = presented_token(scope)
    if credential is None:
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(credential, token.encode())
    return matched


async def reject(scope: Scope, send: Send) -> None:
    """401 with a ``WWW-Authenticate`` challenge saying whether a token was missing or wrong."""
    if presented_token(scope) is None:
        challenge = b'Bearer realm="mcp-central"'
        detail = "missing bearer token: send 'Authorization: Bearer <token>'"
    else:
        challenge = b'Bearer realm="mcp-central", error="invalid_token"'
        detail = "invalid bearer token"
    await respond_json(
        send, 401, {"error": "unauthorized", "detail": detail}, [(b"www-authenticate", challenge)]
    )
