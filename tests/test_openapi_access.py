"""Tokens, Origin/Host and CORS on every /openapi route and endpoint: the same answers as the MCP
routes give the same credentials, and CORS only for the configured origins."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import INIT_REQUEST, fixture_stdio, http_client, make_config, serve
from mcp_central.config.loader import load_config
from mcp_central.config.model import GroupConfig
from mcp_central.errors import ConfigError

WEBUI = "http://webui.lan:8080"
EVIL = "http://evil.example"
TOKENS = {"none": None, "wrong": "nope", "global": "glob-token", "secret": "secret-token"}
# route under /openapi → (its MCP route, the tool its POST calls, who it serves)
ROUTES: dict[str, tuple[str, str, set[str]]] = {
    "/openapi/pub": ("/pub/mcp", "echo", {"none", "wrong", "global", "secret"}),
    "/openapi/inherit": ("/inherit/mcp", "echo", {"global"}),
    "/openapi/secret": ("/secret/mcp", "echo", {"secret"}),
    "/openapi/groups/team": ("/groups/team/mcp", "pub__echo", {"global"}),
    "/openapi": ("/mcp", "inherit__echo", {"global"}),
}
ENDPOINTS = [("GET", "openapi.json"), ("POST", "{tool}"), ("GET", "prompts"), ("GET", "resources")]


def config() -> Any:
    servers = [
        dataclasses.replace(fixture_stdio("pub"), auth_tokens=()),
        dataclasses.replace(fixture_stdio("inherit"), auth_tokens=("glob-token",)),
        dataclasses.replace(fixture_stdio("secret"), auth_tokens=("secret-token",)),
    ]
    groups = {"team": GroupConfig("team", ("pub", "secret"), auth_tokens=("glob-token",))}
    return make_config(*servers, tokens=("glob-token",), groups=groups, cors_origins=(WEBUI,))


@pytest.mark.anyio
async def test_tokens_on_every_route_and_endpoint_match_the_mcp_routes() -> None:
    async with serve(config()) as (base, _app):
        for who, token in TOKENS.items():
            async with http_client(token) as http:
                for prefix, (mcp_path, tool, served) in ROUTES.items():
                    mcp = await http.post(
                        base + mcp_path,
                        json=INIT_REQUEST,
                        headers={"Accept": "application/json, text/event-stream"},
                    )
                    for method, leaf in ENDPOINTS:
                        url = f"{base}{prefix}/{leaf.format(tool=tool)}"
                        answer = await http.request(
                            method, url, json={"text": "x"} if method == "POST" else None
                        )
                        expected = 200 if who in served else 401
                        assert answer.status_code == expected, (who, method, url, answer.text)
                        assert (answer.status_code == 401) == (mcp.status_code == 401), (who, url)
                        if expected == 401:
                            assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.anyio
async def test_members_a_token_may_not_use_are_absent_from_group_documents() -> None:
    async with serve(config()) as (base, _app), http_client("glob-token") as http:
        for prefix in ("/openapi", "/openapi/groups/team"):
            paths = (await http.get(f"{base}{prefix}/openapi.json")).json()["paths"]
            assert "/pub__echo" in paths and not any(path.startswith("/secret__") for path in paths)
            refused = await http.post(f"{base}{prefix}/secret__echo", json={"text": "x"})
            assert refused.status_code == 404
        # The secret token alone opens no group route here (their tokens are the global ones).
    async with serve(config()) as (base, _app), http_client("secret-token") as http:
        assert (await http.get(f"{base}/openapi/openapi.json")).status_code == 401


@pytest.mark.anyio
async def test_origin_and_cors_on_every_route() -> None:
    async with serve(config()) as (base, _app), http_client("glob-token") as http:
        for prefix, (_mcp, tool, served) in ROUTES.items():
            token = "glob-token" if "global" in served else "secret-token"
            auth = {"Authorization": f"Bearer {token}"}
            for method, leaf in ENDPOINTS:
                url = f"{base}{prefix}/{leaf.format(tool=tool)}"
                body = {"text": "x"} if method == "POST" else None
                foreign = await http.request(method, url, json=body, headers={**auth, "Origin": EVIL})
                assert foreign.status_code == 403, url
                assert "access-control-allow-origin" not in foreign.headers
                allowed = await http.request(method, url, json=body, headers={**auth, "Origin": WEBUI})
                assert allowed.status_code == 200, (url, allowed.text)
                assert allowed.headers["access-control-allow-origin"] == WEBUI
                assert "Origin" in allowed.headers["vary"]
                # Loopback pages pass the Origin check but are not given CORS.
                local = await http.request(
                    method, url, json=body, headers={**auth, "Origin": "http://127.0.0.1:3000"}
                )
                assert local.status_code == 200 and "access-control-allow-origin" not in local.headers
                unauthorized = await http.request(
                    method, url, json=body, headers={"Authorization": "Bearer nope", "Origin": WEBUI}
                )
                # Readable by the page, so it can ask for a token (the open route serves it).
                assert unauthorized.status_code == (200 if "wrong" in served else 401)
                assert unauthorized.headers["access-control-allow-origin"] == WEBUI

                preflight_headers = {
                    "Origin": WEBUI,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "authorization, content-type",
                }
                preflight = await http.options(url, headers=preflight_headers)
                assert preflight.status_code == 204
                assert preflight.headers["access-control-allow-origin"] == WEBUI
                assert method in preflight.headers["access-control-allow-methods"]
                assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
                evil = await http.options(url, headers={**preflight_headers, "Origin": EVIL})
                assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers


@pytest.mark.anyio
async def test_docs_pages_and_assets_are_public_and_hold_nothing_of_the_route() -> None:
    async with serve(config()) as (base, _app), http_client() as http:
        for prefix in ROUTES:
            page = await http.get(f"{base}{prefix}/docs")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "echo" not in page.text  # the tools come from openapi.json, which takes the token
            script = await http.get(f"{base}{prefix}/docs/swagger-ui-bundle.js")
            assert script.status_code == 200 and len(script.content) > 100_000
            assert (await http.get(f"{base}{prefix}/docs/index.j2")).status_code == 404
        assert (await http.get(f"{base}/openapi/groups/nosuch/docs")).status_code == 404


def test_the_cors_key_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    servers = {"fx": {"command": "x"}}
    path.write_text(
        json.dumps({"mcpProxy": {"options": {"cors": {"origins": [WEBUI]}}}, "mcpServers": servers})
    )
    assert load_config(str(path)).proxy.cors_origins == (WEBUI,)
    bad = {"cors": {"origins": "http://a", "allow": 1}}
    path.write_text(json.dumps({"mcpProxy": {"options": bad}, "mcpServers": servers}))
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    assert {problem.path for problem in raised.value.problems} == {
        "mcpProxy.options.cors.origins",
        "mcpProxy.options.cors.allow",
    }


MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.anyio
async def test_cors_on_the_mcp_routes_lets_a_browser_client_read_its_session() -> None:
    """A browser MCP client on an allowed origin: its preflight is answered with the MCP headers
    it sends, and every answer lets it read ``Mcp-Session-Id``, ``MCP-Protocol-Version`` and, on a
    401, ``WWW-Authenticate``. Other origins are refused before CORS is considered."""
    async with serve(config()) as (base, _app), http_client("glob-token") as http:
        for path in ("/inherit/mcp", "/groups/team/mcp", "/mcp", "/inherit/sse", "/inherit/message"):
            asked = "authorization, content-type, mcp-session-id, mcp-protocol-version"
            preflight_headers = {
                "Origin": WEBUI,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": asked,
            }
            preflight = await http.options(f"{base}{path}", headers=preflight_headers)
            assert preflight.status_code == 204, path
            assert preflight.headers["access-control-allow-origin"] == WEBUI
            assert {"POST", "GET", "DELETE"} <= set(
                preflight.headers["access-control-allow-methods"].split(", ")
            )
            assert preflight.headers["access-control-allow-headers"] == asked
            evil = await http.options(f"{base}{path}", headers={**preflight_headers, "Origin": EVIL})
            assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
        opened = await http.post(
            f"{base}/inherit/mcp", json=INIT_REQUEST, headers={**MCP_HEADERS, "Origin": WEBUI}
        )
        assert opened.status_code == 200 and opened.headers["mcp-session-id"]
        assert opened.headers["access-control-allow-origin"] == WEBUI
        exposed = {
            name.strip().lower() for name in opened.headers["access-control-expose-headers"].split(",")
        }
        assert {"mcp-session-id", "mcp-protocol-version", "www-authenticate"} <= exposed
        refused = await http.post(
            f"{base}/inherit/mcp",
            json=INIT_REQUEST,
            headers={**MCP_HEADERS, "Origin": WEBUI, "Authorization": "Bearer nope"},
        )
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.headers["access-control-allow-origin"] == WEBUI
        # Without an Origin (a CLI or SDK client) nothing changes: no CORS headers at all.
        plain = await http.post(f"{base}/inherit/mcp", json=INIT_REQUEST, headers=MCP_HEADERS)
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


@pytest.mark.anyio
async def test_without_cors_origins_a_preflight_on_an_mcp_route_gets_no_cors() -> None:
    async with (
        serve(dataclasses.replace(config(), proxy=dataclasses.replace(config().proxy, cors_origins=()))) as (
            base,
            _app,
        ),
        http_client("glob-token") as http,
    ):
        reply = await http.options(f"{base}/inherit/mcp", headers={"Origin": "http://127.0.0.1:3000"})
        assert "access-control-allow-origin" not in reply.headers
