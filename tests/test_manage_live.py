"""Operator verbs against a running proxy: `check`, and `server add/remove --test`.

The proxy is `mcp-central serve` in its own process on a free loopback port, started from the
config the verbs edit and watching it (live reload); upstreams are real (the SDK fixture server,
mcp-server-time). `--test` waits for the running proxy to pick up the edit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ECHO_SERVER, FIXTURE_SERVER, free_port
from manage_helpers import CLI, cli, operator_env, serving, wait_until  # noqa: F401 - autouse fixture

TOKEN = "live-token"
ENV = {"TEST_TOKEN": TOKEN}


def write_config(path: Path, port: int, broken: bool = False) -> Path:
    servers = {
        "fixture": {"command": sys.executable, "args": [str(FIXTURE_SERVER), "--transport", "stdio"]},
        "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
    }
    if broken:
        servers["broken"] = {"command": "/nonexistent/mcp-server"}
    document = {
        "mcpProxy": {"addr": f"127.0.0.1:{port}", "options": {"authTokens": ["${TEST_TOKEN}"]}},
        "mcpServers": servers,
    }
    path.write_text("// written by the test\n" + json.dumps(document, indent=2) + "\n")
    return path


def child_env() -> dict[str, str]:
    env = {**os.environ, **ENV}
    env.pop("MCP_PROXY_TOKEN", None)
    env.pop("MCP_CENTRAL_CONFIG", None)
    return env


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_PROXY_TOKEN", raising=False)
    monkeypatch.delenv("MCP_CENTRAL_CONFIG", raising=False)
    monkeypatch.setenv("TEST_TOKEN", TOKEN)


def test_check_every_route_of_a_running_proxy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port, broken=True)
    base = f"http://127.0.0.1:{port}"
    with serving(config, port, ENV):
        run = cli(capsys, "check", "--url", base, "--token", TOKEN)
        assert run.code == 1  # "broken" cannot start
        lines = {line.split()[0] + " " + line.split()[1]: line for line in run.out.splitlines()[1:]}
        assert run.out.splitlines()[0].split() == ["ROUTE", "TRANSPORT", "LATENCY", "TOOLS", "STATUS"]
        assert set(lines) == {
            f"/{name}/{leaf} {transport}"
            for name in ("fixture", "time", "broken")
            for leaf, transport in (("mcp", "streamable-http"), ("sse", "sse"))
        }
        fixture_tools = int(lines["/fixture/mcp streamable-http"].split()[3])
        assert fixture_tools >= 5
        assert lines["/fixture/sse sse"].split()[3] == str(fixture_tools)
        assert lines["/time/mcp streamable-http"].split()[3:5] == ["2", "ok"]
        assert "FAIL" in lines["/broken/mcp streamable-http"]
        assert "[6/6]" in run.err  # progress went to stderr
        assert "2 of 6 route(s) failed" in run.err

        only_good = cli(
            capsys, "check", "--url", base, "--token", TOKEN, "--server", "fixture", "--server", "time"
        )
        assert only_good.code == 0, only_good.out + only_good.err

        # Routes and tokens from the config instead of /status.
        from_config = cli(capsys, "check", "-c", str(config), "--server", "time", "--format", "json")
        assert from_config.code == 0, from_config.err
        rows = json.loads(from_config.out)
        assert [(r["route"], r["transport"], r["ok"], r["tools"]) for r in rows] == [
            ("time", "streamable-http", True, 2),
            ("time", "sse", True, 2),
        ]

        no_token = cli(capsys, "check", "--url", base)
        assert no_token.code == 1
        assert f"{base}/status answered 401" in no_token.err

        wrong_token = cli(capsys, "check", "--url", base, "--server", "time", "--token", "nope")
        assert wrong_token.code == 1
        assert "HTTP 401 unauthorized" in wrong_token.out

    gone = cli(capsys, "check", "--url", base, "--token", TOKEN)
    assert gone.code == 1
    assert f"cannot reach the proxy at {base}" in gone.err


def test_check_as_a_process_exits_zero_when_all_pass(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port)
    with serving(config, port, ENV):
        result = subprocess.run(
            [*CLI, "check", "-c", str(config)], env=child_env(), capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == 5  # header + 2 servers, 2 transports each


def test_add_and_remove_test_against_a_live_reloading_proxy(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port)
    config.write_text(config.read_text().replace('"time"', '"clock"'))  # start without "time"
    with serving(config, port, ENV):
        add = subprocess.run(
            [*CLI, "server", "add", "time", "-c", str(config), "--command", sys.executable,
             "--arg=-m", "--arg", "mcp_server_time", "--test", "--test-timeout", "90"],
            env=child_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert add.returncode == 0, add.stderr
        assert f"ok: http://127.0.0.1:{port}/time/mcp: 2 tool(s)" in add.stdout
        assert f"ok: http://127.0.0.1:{port}/time/sse: 2 tool(s)" in add.stdout
        remove = subprocess.run(
            [*CLI, "server", "remove", "time", "-c", str(config), "--test", "--test-timeout", "90"],
            env=child_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert remove.returncode == 0, remove.stderr
        assert f"ok: http://127.0.0.1:{port}/time/mcp is gone (404)" in remove.stdout


def test_add_test_names_the_url_when_nothing_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port)
    run = cli(capsys, "server", "add", "extra", "-c", str(config), "--command", "uvx", "--test",
              "--test-timeout", "1")  # fmt: skip
    assert run.code == 3
    assert f"http://127.0.0.1:{port}/extra/mcp did not answer within 1 s" in run.err
    assert "cannot connect" in run.err
    assert "extra" in config.read_text()  # the edit itself stands; only the proof is missing


def test_remove_test_reports_a_route_that_stays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port)
    with serving(config, port, ENV, "--no-watch"):  # a proxy that does not reload by itself
        run = cli(capsys, "server", "remove", "time", "-c", str(config), "--test", "--test-timeout", "1")
    assert run.code == 3
    assert f"http://127.0.0.1:{port}/time/mcp still answers (HTTP 4" in run.err
    assert "SIGHUP" in run.err


def test_check_says_how_long_it_waited_for_a_stalled_upstream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An upstream that takes requests but never answers them (its ``tools/list`` hangs): `check`
    names the step and the time it waited, on both transports, not an exception's class name."""
    port = free_port()
    stalled = {"command": sys.executable, "args": [str(ECHO_SERVER), "--stall", "tools/list"]}
    document = {
        "mcpProxy": {"addr": f"127.0.0.1:{port}", "options": {"defaultTimeout": "60s"}},
        "mcpServers": {"hung": stalled},
    }
    config = tmp_path / "config.json"
    config.write_text(json.dumps(document))
    with serving(config, port):
        run = cli(capsys, "check", "--url", f"http://127.0.0.1:{port}", "--timeout", "2", "--format", "json")
    assert run.code == 1, run.out + run.err
    rows = json.loads(run.out)
    assert [(row["route"], row["ok"]) for row in rows] == [("hung", False), ("hung", False)]
    for row in rows:
        assert row["error"] == "tools/list: no answer within 2 s", row
    assert "Error" not in run.out  # no exception class names (BrokenResourceError, TimeoutError…)
