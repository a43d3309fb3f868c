"""Live reload: a changed config file (or SIGHUP) is applied without a restart, and only what changed
is touched; an invalid file never replaces the running config.

The gateway runs in-process with its config file watched; the SIGHUP test runs the real command.
Upstreams are the SDK fixture server and ``mcp-server-time``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from conftest import FIXTURE_SERVER, child_env, free_port, mcp_client, serve, stop_process, wait_for_port
from mcp_central.config.loader import load_config

pytestmark = pytest.mark.anyio


def fixture_entry(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": [str(FIXTURE_SERVER), "--name", name],
        "timeout": "30s",
        **extra,
    }


TIME = {"command": sys.executable, "args": ["-m", "mcp_server_time"], "timeout": "30s"}


def write(path: Path, servers: dict[str, Any], **top: Any) -> None:
    # Write-then-rename, as editors and `mcp-central server add` do.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"mcpServers": servers, **top}, indent=2))
    os.replace(tmp, path)


async def last_reload_after(http: httpx.AsyncClient, base: str, since: float) -> dict[str, Any]:
    """Wait (20 s at most) until /status reports a reload that started after ``since``."""
    with anyio.fail_after(20):
        while True:
            last = (await http.get(f"{base}/status")).json()["lastReload"]
            if last is not None and last["at"] >= since:
                return dict(last)
            await anyio.sleep(0.05)


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    path = tmp_path / "config.json"
    write(path, {"fx": fixture_entry("fx"), "keep": fixture_entry("keep")})
    config = load_config(str(path))
    async with serve(config, load=lambda: load_config(str(path)), watch=True) as (base, _app):
        yield base, path


class CallLoop:
    """Calls a tool back to back on one session until stopped, counting answers and failures."""

    def __init__(self) -> None:
        self.ok = 0
        self.failed: list[str] = []
        self.stop = asyncio.Event()

    async def run(self, url: str, tool: str) -> None:
        async with mcp_client(url, "streamable-http") as client:
            while not self.stop.is_set():
                try:
                    result = await client.call_tool(tool, {"text": f"call {self.ok}"})
                    assert result.content[0].text == f"call {self.ok}"  # type: ignore[union-attr]
                    self.ok += 1
                except Exception as exc:  # every failure is what the test counts
                    self.failed.append(repr(exc))


async def test_upstreams_come_and_go_while_calls_to_others_never_fail(watched: tuple[str, Path]) -> None:
    base, path = watched
    direct, grouped = CallLoop(), CallLoop()
    async with httpx.AsyncClient(timeout=30) as http, asyncio.TaskGroup() as loops:
        loops.create_task(direct.run(f"{base}/keep/mcp", "echo"))
        loops.create_task(grouped.run(f"{base}/mcp", "keep__echo"))
        async with mcp_client(f"{base}/mcp", "streamable-http") as watcher:
            since = time.time()
            write(path, {"fx": fixture_entry("fx"), "keep": fixture_entry("keep"), "time": TIME})
            assert (await last_reload_after(http, base, since))["summary"] == "added time"
            with anyio.fail_after(30):
                while "time__get_current_time" not in {t.name for t in (await watcher.list_tools()).tools}:  # noqa: ASYNC110
                    await anyio.sleep(0.05)  # the new upstream is still starting: poll its list
            async with mcp_client(f"{base}/time/mcp", "streamable-http") as timer:
                assert (
                    "UTC" in (await timer.call_tool("get_current_time", {"timezone": "UTC"})).content[0].text
                )  # type: ignore[union-attr]

            since = time.time()
            write(path, {"keep": fixture_entry("keep")})
            assert (await last_reload_after(http, base, since))["summary"] == "removed fx, time"
            assert (await http.post(f"{base}/time/mcp")).status_code == 404
            names = {tool.name for tool in (await watcher.list_tools()).tools}
            assert not any(name.startswith(("time__", "fx__")) for name in names) and "keep__echo" in names
        direct.stop.set()
        grouped.stop.set()
    assert direct.failed == [] and grouped.failed == []
    assert direct.ok > 10 and grouped.ok > 10


async def test_an_invalid_file_keeps_the_running_config(watched: tuple[str, Path]) -> None:
    base, path = watched
    async with (
        httpx.AsyncClient(timeout=30) as http,
        mcp_client(f"{base}/fx/mcp", "streamable-http") as client,
    ):
        since = time.time()
        path.write_text('{"mcpServers": {"fx": {"command": 42}}}')
        last = await last_reload_after(http, base, since)
        assert last["ok"] is False and any("mcpServers.fx.command" in p for p in last["problems"])
        assert (await client.call_tool("echo", {"text": "still"})).content[0].text == "still"  # type: ignore[union-attr]

        since = time.time()
        write(path, {"fx": fixture_entry("fx"), "keep": fixture_entry("keep", env={"CHANGED": "1"})})
        last = await last_reload_after(http, base, since)
        assert last["ok"] is True and last["summary"] == "restarted keep"
        assert (await client.call_tool("echo", {"text": "untouched"})).content[0].text == "untouched"  # type: ignore[union-attr]


async def test_a_reload_error_in_status_shows_no_secret(
    watched: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: lastReload.problems read "timeout … got 'apikey-…'" and URLs with their passwords.
    secret, password = "apikey-RELOAD-7777", "pa55word-RELOAD"
    monkeypatch.setenv("RELOAD_API_KEY", secret)
    base, path = watched
    async with httpx.AsyncClient(timeout=30) as http:
        since = time.time()
        write(
            path,
            {
                "fx": fixture_entry("fx", timeout="${RELOAD_API_KEY}"),
                "keep": {"url": f"ftp://user:{password}@h.example/mcp?apikey=${{RELOAD_API_KEY}}"},
            },
        )
        last = await last_reload_after(http, base, since)
        assert last["ok"] is False
        assert any("mcpServers.fx.timeout" in p and "got '${RELOAD_API_KEY}'" in p for p in last["problems"])
        assert any("got 'ftp://***@h.example/mcp?apikey=***'" in p for p in last["problems"])
        status = (await http.get(f"{base}/status")).text
        assert secret not in status and password not in status


async def test_a_token_change_applies_without_a_restart(watched: tuple[str, Path]) -> None:
    base, path = watched
    # Once a route has a token, /status takes an admin's (adminTokens), here set in the same edit.
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": "Bearer admin"}) as http:
        since = time.time()
        write(
            path,
            {"fx": fixture_entry("fx", options={"authTokens": ["new-token"]}), "keep": fixture_entry("keep")},
            mcpProxy={"options": {"adminTokens": ["admin"]}},
        )
        assert (await last_reload_after(http, base, since))["summary"] == "new tokens for fx"
        assert (await http.post(f"{base}/fx/mcp")).status_code == 401
        not_admin = {"Authorization": "Bearer new-token"}
        assert (await http.get(f"{base}/status", headers=not_admin)).status_code == 401
    async with mcp_client(f"{base}/fx/mcp", "streamable-http", token="new-token") as client:
        assert (await client.call_tool("echo", {"text": "ok"})).content[0].text == "ok"  # type: ignore[union-attr]


def test_sighup_reloads_the_running_command(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    port = free_port()
    write(path, {"fx": fixture_entry("fx")}, mcpProxy={"addr": f"127.0.0.1:{port}"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_central", "serve", "--config", str(path), "--no-watch"],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(proc, port, "mcp-central")
        write(path, {"fx": fixture_entry("fx"), "time": TIME}, mcpProxy={"addr": f"127.0.0.1:{port}"})
        assert httpx.post(f"http://127.0.0.1:{port}/time/mcp").status_code == 404  # not watched
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while httpx.post(f"http://127.0.0.1:{port}/time/mcp").status_code == 404:
            assert time.monotonic() < deadline, "SIGHUP did not add the route"
            time.sleep(0.05)
    finally:
        stop_process(proc)
    assert proc.returncode == 0
