"""The dashboard at ``/ui``: its data behind the admin checks, its page open and data-free, and what
``ops.recent`` remembers of calls (ring, rates, percentiles, no arguments).

The browser test (``test_dashboard_in_chromium``) is in ``test_dashboard_browser.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import fixture_stdio, http_client, make_config, mcp_client, route_url, serve
from mcp_central.config.loader import load_config
from mcp_central.core.calls import CallContext, CallRecord
from mcp_central.errors import ConfigError
from mcp_central.ops.recent import RECENT_CALLS, RecentCalls

pytestmark = pytest.mark.anyio

TOKEN = "dash-admin-token"


def record(server: str, started: float, duration: float, n: int = 0, outcome: str = "ok") -> CallRecord:
    context = CallContext(route=server, identity="alice", session="abcd1234", transport="streamable-http")
    return CallRecord(
        context,
        server,
        "tools/call",
        f"tool{n}",
        outcome,
        started,
        duration,
        arguments={"secret": "argument-value"},
    )


def test_recent_keeps_the_last_calls_newest_first_without_arguments() -> None:
    recent = RecentCalls()
    for n in range(RECENT_CALLS + 30):
        recent.call_finished(record("a", 1000.0 + n, 0.01, n))
    calls = recent.recent()
    assert len(calls) == RECENT_CALLS
    assert [call["target"] for call in calls[:2]] == [f"tool{RECENT_CALLS + 29}", f"tool{RECENT_CALLS + 28}"]
    assert calls[-1]["target"] == "tool30"
    assert calls[0]["identity"] == "alice" and calls[0]["durationMs"] == 10.0
    assert "argument-value" not in repr(calls) and "secret" not in repr(calls)


def test_series_gives_rate_and_percentiles_per_server_per_step() -> None:
    recent = RecentCalls()
    now = 10_004.0
    # 100 calls on "a" in the step [9980, 9990): 98 fast (2 ms), 2 slow (900 ms).
    for n in range(100):
        duration = 0.9 if n >= 98 else 0.002
        recent.call_finished(record("a", 9981.0 + n / 20 - duration, duration, n))
    recent.call_finished(record("b", 10_002.0, 0.05))
    recent.call_finished(record("", 9995.0, 0.0, outcome="refused"))  # no server: listed, not charted
    series = recent.series(now, step=10)
    assert set(series) == {"a", "b"}
    a = {point["t"]: point for point in series["a"]}
    assert a[9980]["rate"] == 10.0
    assert 2.0 <= a[9980]["p50"] <= 2.0 * 1.22
    assert 900.0 <= a[9980]["p99"] <= 900.0 * 1.22
    assert a[9990]["rate"] == 0 and a[9990]["p50"] is None
    b = {point["t"]: point for point in series["b"]}
    assert b[10_000]["rate"] == 0.2  # the unfinished step: one call in its 5 seconds so far
    assert series["b"][-1]["t"] == 10_000 and len(series["b"]) == 60
    newest = recent.recent()[0]
    assert newest["server"] == "" and newest["outcome"] == "refused"
    # Ten minutes later nothing is left to chart, and the servers are forgotten.
    assert recent.series(now + 700) == {}


async def test_dashboard_page_is_open_and_holds_no_data() -> None:
    async with serve(make_config(fixture_stdio(), tokens=(TOKEN,))) as (base, _), http_client() as http:
        moved = await http.get(f"{base}/ui")
        assert moved.status_code == 308 and moved.headers["location"] == "ui/"
        page = await http.get(f"{base}/ui/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "http" not in policy
        assert 'id="login"' in page.text and "fixture" not in page.text and "<script>" not in page.text
        script = await http.get(f"{base}/ui/app.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        style = await http.get(f"{base}/ui/app.css")
        assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
        assert (await http.get(f"{base}/ui/secrets.txt")).status_code == 404
        assert (await http.post(f"{base}/ui/api/state")).status_code == 405


async def test_dashboard_state_needs_an_admin_token_and_shows_calls() -> None:
    config = make_config(fixture_stdio(), tokens=(TOKEN,))
    async with serve(config) as (base, _), http_client() as anonymous:
        state_url = f"{base}/ui/api/state"
        missing = await anonymous.get(state_url)
        assert missing.status_code == 401
        assert "fixture" not in missing.text
        async with http_client("wrong-token") as wrong:
            assert (await wrong.get(state_url)).status_code == 401
        async with http_client(TOKEN, {"Origin": "http://evil.example"}) as foreign:
            assert (await foreign.get(state_url)).status_code == 403
        async with mcp_client(
            route_url(base, "fixture", "streamable-http"), "streamable-http", TOKEN
        ) as client:
            await client.call_tool("echo", {"text": "not-for-the-dashboard"})
            async with http_client(TOKEN) as admin:
                answer = await admin.get(state_url)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        state = answer.json()
        (upstream,) = state["upstreams"]
        assert upstream["name"] == "fixture" and upstream["state"] == "ready" and upstream["tools"] > 0
        assert upstream["inStateSeconds"] >= 0
        routes = {route["route"]: route for route in state["routes"]}
        assert routes["fixture"]["sessions"] == 1 and routes["fixture"]["byTransport"] == {
            "streamable-http": 1
        }
        assert routes["all"]["sessions"] == 0
        echo = [call for call in state["recent"] if call["target"] == "echo"]
        assert len(echo) == 1 and echo[0]["server"] == "fixture" and echo[0]["outcome"] == "ok"
        assert "not-for-the-dashboard" not in answer.text
        assert sum(point["rate"] for point in state["series"]["servers"]["fixture"]) > 0
        assert state["lastReload"] is None


async def test_dashboard_lives_under_base_url() -> None:
    config = make_config(fixture_stdio(), base_url="http://127.0.0.1/gw", base_path="/gw")
    async with serve(config) as (base, _), http_client() as http:
        assert base.endswith("/gw")
        assert (await http.get(f"{base}/ui/")).status_code == 200
        # No token anywhere: the state is open, like /status.
        state = await http.get(f"{base}/ui/api/state")
        assert state.status_code == 200 and state.json()["upstreams"][0]["name"] == "fixture"
        root = base[: -len("/gw")]
        assert (await http.get(f"{root}/ui/")).status_code == 404


def test_a_server_cannot_be_named_ui(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"mcpServers": {"ui": {"command": "x"}}}))
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    assert "mcpServers.ui: 'ui' is reserved" in str(raised.value)
