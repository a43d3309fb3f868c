"""``/status`` names upstreams, internal URLs and errors: admins only, wherever any token exists,
and never to a page in a browser that rebinds a foreign name to our address.

``GET /``, ``/healthz`` and ``/readyz`` stay open: they show states only.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from conftest import ECHO_SERVER, echo_stdio, http_client, make_config, serve
from mcp_central.config.loader import load_config
from mcp_central.downstream.origin import OriginPolicy

pytestmark = pytest.mark.anyio

G, ADMIN, S = "global-token", "admin-token", "server-token"


async def test_status_is_closed_when_only_a_server_has_tokens() -> None:
    """The audit: with no global tokens, /status was open to anyone while a server had a token."""
    config = make_config(echo_stdio("pub"), echo_stdio("secret", auth_tokens=(S,)))
    async with serve(config) as (base, _app), http_client() as http:
        for token in (None, S):
            reply = await http.get(
                f"{base}/status", headers={"Authorization": f"Bearer {token}"} if token else {}
            )
            assert reply.status_code == 403
            assert "adminTokens" in reply.json()["detail"]
        for path in ("/", "/healthz", "/readyz"):
            assert (await http.get(f"{base}{path}")).status_code == 200


async def test_admin_tokens_replace_the_global_ones_for_status() -> None:
    config = make_config(echo_stdio("pub"), tokens=(G,), admin_tokens=(ADMIN,))
    async with serve(config) as (base, _app), http_client() as http:
        assert (await http.get(f"{base}/status")).status_code == 401
        assert (await http.get(f"{base}/status", headers={"Authorization": f"Bearer {G}"})).status_code == 401
        reply = await http.get(f"{base}/status", headers={"Authorization": f"Bearer {ADMIN}"})
        assert reply.status_code == 200
        assert [upstream["name"] for upstream in reply.json()["upstreams"]] == ["pub"]


async def test_status_defaults_to_the_global_tokens_and_is_open_without_any() -> None:
    async with serve(make_config(echo_stdio("pub"), tokens=(G,))) as (base, _app), http_client() as http:
        assert (await http.get(f"{base}/status")).status_code == 401
        assert (await http.get(f"{base}/status", headers={"Authorization": f"Bearer {G}"})).status_code == 200
    async with serve(make_config(echo_stdio("pub"))) as (base, _app), http_client() as http:
        assert (await http.get(f"{base}/status")).status_code == 200


@pytest.mark.parametrize("path", ["/status", "/pub/mcp", "/mcp", "/pub/sse"])
async def test_a_rebound_name_or_foreign_origin_is_refused(path: str) -> None:
    """A DNS-rebinding page sends its own name as Host (same-origin requests carry no Origin)."""
    async with serve(make_config(echo_stdio("pub"))) as (base, _app), http_client() as http:
        port = base.rpartition(":")[2]
        for headers in (
            {"Host": f"evil.example:{port}"},
            {"Host": f"evil.example:{port}", "Sec-Fetch-Site": "same-origin"},
            {"Origin": "http://evil.example"},
        ):
            reply = await http.get(f"{base}{path}", headers={"Accept": "text/event-stream", **headers})
            assert reply.status_code == 403, (path, headers)
        assert (await http.get(f"{base}/status", headers={"Host": f"localhost:{port}"})).status_code == 200


def test_host_rules_on_loopback_and_on_the_lan() -> None:
    loopback = OriginPolicy("", (), (), "127.0.0.1")
    assert loopback.allows_host("127.0.0.1:9090", browser=False)
    assert loopback.allows_host("localhost:9090", browser=True)
    assert loopback.allows_host("[::1]:9090", browser=True)
    assert not loopback.allows_host("evil.example:9090", browser=False)
    lan = OriginPolicy("http://linuxserver.lan:9090", (), ("gateway.internal",), "0.0.0.0")
    assert lan.allows_host("linuxserver.lan:9090", browser=True)
    assert lan.allows_host("gateway.internal", browser=True)
    assert lan.allows_host("192.168.1.5:9090", browser=True)  # an IP literal cannot be rebound
    assert lan.allows_host("mcp-central:9090", browser=False)  # a container peer, no browser
    assert not lan.allows_host("evil.example:9090", browser=True)
    assert OriginPolicy("", (), ("*",), "127.0.0.1").allows_host("anything", browser=True)


async def test_status_and_the_log_never_show_expanded_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The audit: /status printed ``--api-key=apikey-DDDD4444`` and ``http://user:pa55word@…?apikey=…``
    after ``${VAR}`` expansion, and the INFO log the expanded arguments."""
    monkeypatch.setenv("API_KEY", "apikey-DDDD4444")
    monkeypatch.setenv("PASSWORD", "pa55word")
    config_file = tmp_path / "config.json"
    config_file.write_text(
        json.dumps(
            {
                "mcpProxy": {"options": {"authTokens": ["${API_KEY}"]}},
                "mcpServers": {
                    "secret": {
                        "command": sys.executable,
                        "args": [str(ECHO_SERVER), "--api-key=${API_KEY}"],
                        "env": {"TOKEN": "${API_KEY}"},
                    },
                    "remote": {
                        "url": "http://user:${PASSWORD}@127.0.0.1:9/mcp?apikey=${API_KEY}",
                        "transportType": "streamable-http",
                        "headers": {"X-Api-Key": "${API_KEY}"},
                        "restart": {"maxAttempts": 1},
                    },
                },
            }
        )
    )
    caplog.set_level(logging.DEBUG, logger="mcp_central")
    async with serve(load_config(str(config_file))) as (base, _app), http_client("apikey-DDDD4444") as http:
        reply = await http.get(f"{base}/status")
        assert reply.status_code == 200
        body = reply.text
    targets = {upstream["name"]: upstream["target"] for upstream in reply.json()["upstreams"]}
    assert targets["secret"].endswith("--api-key=${API_KEY}")
    assert targets["remote"] == "http://***@127.0.0.1:9/mcp?apikey=***"
    for secret in ("apikey-DDDD4444", "pa55word"):
        assert secret not in body
        assert secret not in caplog.text
