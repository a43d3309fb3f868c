"""The ``identities`` section: what a config may say (every mistake named by key path, no token
ever shown), and what a live reload does to identities and their open sessions.

The reload test runs a gateway in-process on a watched file with real SDK fixture upstreams.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest

from conftest import FIXTURE_SERVER, INIT_REQUEST, mcp_client, serve
from mcp_central.config.loader import load_config, load_config_text
from mcp_central.config.model import NameFilter, RateLimit
from mcp_central.downstream.app import Gateway
from mcp_central.errors import ConfigError
from test_stateless_downstream import request as stateless_request

SECRET = "alice-secret-7777"


def problems_of(config: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(json.dumps(config), "config.json", environ=environ or {})
    return [str(problem) for problem in info.value.problems]


SERVERS = {"a": {"command": "x"}, "b": {"command": "y", "options": {"authTokens": ["${B_TOKEN}"]}}}


def test_a_valid_identities_section_loads() -> None:
    config = load_config_text(
        json.dumps(
            {
                "mcpProxy": {"options": {"authTokens": ["g"]}},
                "mcpServers": SERVERS,
                "groups": {"db": {"servers": ["a"]}},
                "identities": {
                    "alice": {
                        "tokens": ["${ALICE}"],
                        "servers": ["a", "team-*"],
                        "groups": ["db", "all"],
                        "tools": {"mode": "block", "list": ["*delete*"]},
                        "rateLimit": {"requests": 60, "per": "1m"},
                        "admin": True,
                    },
                    "bob@example.com": {"servers": []},
                },
            }
        ),
        "config.json",
        environ={"ALICE": SECRET, "B_TOKEN": "bt"},
    )
    alice, bob = config.identities["alice"], config.identities["bob@example.com"]
    assert alice.tokens == (SECRET,) and alice.servers == ("a", "team-*") and alice.groups == ("db", "all")
    assert alice.tool_filter == NameFilter("block", ("*delete*",))
    assert alice.rate_limit == RateLimit(60, 60.0) and alice.admin
    assert bob.tokens == () and bob.servers == () and bob.groups is None and not bob.admin


def test_every_mistake_is_named_by_its_key_path_and_no_token_is_shown() -> None:
    problems = problems_of(
        {
            "mcpProxy": {"options": {"authTokens": ["${G}"], "adminTokens": ["${ADMIN}"]}},
            "mcpServers": SERVERS,
            "groups": {"db": {"servers": ["a"], "authTokens": ["${D}"]}},
            "identities": {
                "alice": {"tokens": ["${ALICE}"], "colour": "blue"},
                "bob": {"tokens": ["${ALICE}", "${G}", "${B_TOKEN}", "${D}", "${ADMIN}"]},
                "gina": {"tokens": ["ok", ""]},
                "carol": {
                    "servers": ["nope", "x*"],
                    "groups": ["dbb"],
                    "tools": {"mode": "deny", "list": []},
                },
                "dave": {"rateLimit": {"per": "soon", "burst": 3}, "admin": "yes", "servers": "a"},
                "erin": {"rateLimit": {"requests": 0}},
                "bad name!": {},
                "frank": [],
            },
        },
        {"ALICE": SECRET, "G": "g-secret", "B_TOKEN": "b-secret", "D": "d-secret", "ADMIN": "admin-secret"},
    )
    text = "\n".join(problems)
    for secret in (SECRET, "g-secret", "b-secret", "d-secret", "admin-secret"):
        assert secret not in text
    expected = {
        "identities.alice.colour: unknown key",
        "identities.bob.tokens[0]: is also a token of identities.alice",
        "identities.bob.tokens[1]: is also a token of mcpProxy.options.authTokens",
        "identities.bob.tokens[2]: is also a token of mcpServers.b.options.authTokens",
        "identities.bob.tokens[3]: is also a token of groups.db.authTokens",
        "identities.bob.tokens[4]: is also a token of mcpProxy.options.adminTokens",
        "identities.gina.tokens[1]: is empty",
        "identities.carol.servers[0]: no server named 'nope' in mcpServers (known: a, b)",
        "identities.carol.groups[0]: no group named 'dbb' in groups (known: all, db)",
        "identities.carol.tools.mode: expected 'allow' or 'block', got 'deny'",
        "identities.dave.rateLimit.per: expected a duration",
        "identities.dave.rateLimit.burst: unknown key",
        "identities.dave.rateLimit.requests: is required",
        "identities.dave.admin: expected true or false",
        "identities.dave.servers: expected a list of names or globs",
        "identities.erin.rateLimit.requests: expected a whole number ≥ 1, got 0",
        "identities.bad name!: identity names use letters",
        "identities.frank: expected an object",
    }
    for fragment in expected:
        assert any(f"config.json: {fragment}" in problem for problem in problems), fragment
    # the glob x* names no server and is accepted; a token error about ${ALICE} names the variable
    assert not any("servers[1]" in problem for problem in problems)


def test_identities_must_be_an_object() -> None:
    assert problems_of({"mcpServers": SERVERS, "identities": ["alice"]}, {"B_TOKEN": "b"}) == [
        "config.json: identities: expected an object of identities by name"
    ]


# --------------------------------------------------------------------------- live reload


def fixture_entry(name: str) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(FIXTURE_SERVER), "--name", name], "timeout": "30s"}


def write(path: Path, identities: dict[str, Any]) -> None:
    config = {
        "mcpProxy": {"options": {"authTokens": ["g"], "adminTokens": ["admin"]}},
        "mcpServers": {"a": fixture_entry("a"), "b": fixture_entry("b")},
        "identities": identities,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config))
    os.replace(tmp, path)


async def reloaded_after(http: httpx.AsyncClient, base: str, since: float) -> dict[str, Any]:
    with anyio.fail_after(20):
        while True:
            last = (await http.get(f"{base}/status", headers={"Authorization": "Bearer admin"})).json()
            if last["lastReload"] is not None and last["lastReload"]["at"] >= since:
                assert last["lastReload"]["ok"], last["lastReload"]
                return dict(last)
            await anyio.sleep(0.05)


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[str, Path, Gateway]]:
    path = tmp_path / "config.json"
    write(
        path,
        {
            "alice": {"tokens": ["alice-1"], "servers": ["a", "b"]},
            "bob": {"tokens": ["bob-1"]},
        },
    )
    async with serve(load_config(str(path)), load=lambda: load_config(str(path)), watch=True) as (base, app):
        yield base, path, app


HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def open_session(http: httpx.AsyncClient, url: str, token: str) -> str:
    reply = await http.post(
        url, content=orjson.dumps(INIT_REQUEST), headers={**HEADERS, "Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 200, reply.text
    return reply.headers["mcp-session-id"]


async def ping(http: httpx.AsyncClient, url: str, token: str, session: str) -> int:
    headers = {**HEADERS, "Authorization": f"Bearer {token}", "Mcp-Session-Id": session}
    body = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
    return (await http.post(url, content=orjson.dumps(body), headers=headers)).status_code


pytestmark = pytest.mark.anyio


async def test_a_reload_narrows_removes_and_retokens_identities_for_open_sessions(
    watched: tuple[str, Path, Gateway],
) -> None:
    base, path, app = watched
    async with httpx.AsyncClient(timeout=30) as http:
        alice_a = await open_session(http, f"{base}/a/mcp", "alice-1")
        alice_b = await open_session(http, f"{base}/b/mcp", "alice-1")
        bob_a = await open_session(http, f"{base}/a/mcp", "bob-1")
        async with mcp_client(f"{base}/mcp", "streamable-http", "alice-1") as aggregated:
            before = {tool.name for tool in (await aggregated.list_tools()).tools}
            assert {"a__echo", "b__echo", "a__add"} <= before
            since = time.time()
            # Alice loses b and the add tools; Bob is removed.
            write(
                path,
                {
                    "alice": {
                        "tokens": ["alice-1"],
                        "servers": ["a"],
                        "tools": {"mode": "block", "list": ["add"]},
                    }
                },
            )
            status = await reloaded_after(http, base, since)
            assert set(status["identities"]) == {"alice"}
            # The open aggregated session judges by the new grants at once (same session, new lists).
            after = {tool.name for tool in (await aggregated.list_tools()).tools}
            assert after == {name for name in before if name.startswith("a__")} - {"a__add"}
        assert alice_b not in app.routes["b"].sessions  # closed: b is not hers now
        assert await ping(http, f"{base}/b/mcp", "alice-1", alice_b) == 403
        assert await ping(http, f"{base}/a/mcp", "alice-1", alice_a) == 200
        assert bob_a not in app.routes["a"].sessions
        assert await ping(http, f"{base}/a/mcp", "bob-1", bob_a) == 401  # Bob is gone, with his token
        # A new token for Alice: her session is bound to her, not to the token.
        since = time.time()
        write(path, {"alice": {"tokens": ["alice-2"], "servers": ["a"]}})
        await reloaded_after(http, base, since)
        assert await ping(http, f"{base}/a/mcp", "alice-2", alice_a) == 200
        assert await ping(http, f"{base}/a/mcp", "alice-1", alice_a) == 401
        forbidden = await http.post(
            f"{base}/b/mcp",
            content=orjson.dumps(INIT_REQUEST),
            headers={**HEADERS, "Authorization": "Bearer alice-2"},
        )
        assert forbidden.status_code == 403


async def test_only_admin_identities_read_status(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write(path, {"root": {"tokens": ["root-1"], "admin": True}, "user": {"tokens": ["user-1"]}})
    async with serve(load_config(str(path))) as (base, _app), httpx.AsyncClient(timeout=30) as http:
        for token, code in (("root-1", 200), ("admin", 200), ("user-1", 403), ("nobody", 401), (None, 401)):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            reply = await http.get(f"{base}/status", headers=headers)
            assert reply.status_code == code, token
            assert "root-1" not in reply.text and "user-1" not in reply.text
        assert (
            "'user' is not an admin"
            in (await http.get(f"{base}/status", headers={"Authorization": "Bearer user-1"})).text
        )


async def test_a_reload_that_removes_an_identity_ends_its_listen_stream(
    watched: tuple[str, Path, Gateway],
) -> None:
    """A stateless client holds no session, but its ``subscriptions/listen`` stream must not outlive
    its identity: removed by a reload, the stream ends (a ``complete`` result) and hears no more."""
    base, path, app = watched
    body = stateless_request(1, "subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    headers = {
        **HEADERS,
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "subscriptions/listen",
        "Authorization": "Bearer bob-1",
    }
    async with httpx.AsyncClient(timeout=30) as http:
        async with http.stream(
            "POST", f"{base}/a/mcp", content=orjson.dumps(body), headers=headers
        ) as stream:
            assert stream.status_code == 200  # the stream opens once its listener is attached
            assert len(app.routes["a"].listeners) == 1
            since = time.time()
            write(path, {"alice": {"tokens": ["alice-1"], "servers": ["a", "b"]}})
            await reloaded_after(http, base, since)
            with anyio.fail_after(10):
                text = (await stream.aread()).decode()
        assert '"resultType":"complete"' in text.replace(" ", "")
        assert not app.routes["a"].listeners
