"""The audit trail (``mcpProxy.options.audit``): one JSON line per ``tools/call``, ``prompts/get``,
``resources/read``, refusal and admin read, written by a real gateway that several clients call
at once; arguments only when opted in; a private file rotated by size; to the log without a file;
a reload that changes it applies at once."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from conftest import fixture_stdio, make_config, mcp_client, route_url, serve
from mcp_central.config.loader import load_config_text
from mcp_central.config.model import AuditConfig, Config
from mcp_central.core.calls import CallContext, CallRecord
from mcp_central.downstream.app import Gateway
from mcp_central.errors import ConfigError

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def gateway(audit: AuditConfig | None, **gateway: Any) -> AsyncIterator[tuple[str, Gateway]]:
    config = make_config(fixture_stdio("a"), fixture_stdio("b"), audit=audit)
    async with serve(config, **gateway) as served:
        yield served


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_text().splitlines()]


async def several_clients(url: str, calls: int = 3) -> None:
    async def client(n: int) -> None:
        transport = "streamable-http" if n % 2 else "sse"
        aggregated = n >= 2
        target = f"{url}/{'mcp' if transport == 'streamable-http' else 'sse'}" if aggregated else None
        async with mcp_client(target or route_url(url, "a", transport), transport) as session:
            for i in range(calls):
                await session.call_tool("a__echo" if aggregated else "echo", {"text": f"client {n} call {i}"})

    async with anyio.create_task_group() as tasks:
        for n in range(4):
            tasks.start_soon(client, n)


async def test_each_call_is_one_line_with_hashed_arguments_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    async with gateway(AuditConfig(file=str(path), arguments="hash")) as (url, _app):
        await several_clients(url)
        async with mcp_client(route_url(url, "b", "streamable-http"), "streamable-http") as session:
            await session.list_tools()  # not audited
            await session.get_prompt("greet", {"name": "Ada"})
            await session.read_resource("fixture://hello")
            assert (await session.call_tool("no_such_tool", {"secret": "hunter2"})).is_error
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "client 0 call" not in text and "hunter2" not in text  # arguments hashed, not written
    lines = read_lines(path)
    echoes = [line for line in lines if line.get("tool") == "echo"]
    assert len(echoes) == 12
    for line in echoes:
        assert line["time"].endswith("Z") and line["server"] == "a" and line["outcome"] == "ok"
        assert line["method"] == "tools/call" and line["identity"] is None
        assert line["route"] in ("a", "all") and isinstance(line["duration_ms"], float)
    # Each client's calls carry its own session, and the hash is of the canonical arguments.
    digests = {
        hashlib.sha256(
            json.dumps({"text": f"client {n} call {i}"}, separators=(",", ":")).encode()
        ).hexdigest(): n
        for n in range(4)
        for i in range(3)
    }
    sessions: dict[int, set[str]] = {}
    for line in echoes:
        sessions.setdefault(digests[line["arguments_sha256"]], set()).add(line["session"])
    assert sorted(sessions) == [0, 1, 2, 3] and all(len(ids) == 1 for ids in sessions.values())
    assert len({next(iter(ids)) for ids in sessions.values()}) == 4
    rest = [line for line in lines if line["server"] == "b"]
    assert [(line["method"], line.get("prompt") or line.get("uri") or line.get("tool")) for line in rest] == [
        ("prompts/get", "greet"),
        ("resources/read", "fixture://hello"),
        ("tools/call", "no_such_tool"),
    ]
    assert rest[2]["outcome"] == "error" and rest[2]["error"]


async def test_arguments_are_left_out_unless_full_is_asked(tmp_path: Path) -> None:
    for mode in ("none", "full"):
        path = tmp_path / f"{mode}.jsonl"
        spec = AuditConfig(file=str(path), arguments="full" if mode == "full" else "none")
        async with (
            gateway(spec) as (url, _app),
            mcp_client(route_url(url, "a", "streamable-http"), "streamable-http") as session,
        ):
            await session.call_tool("add", {"a": 2, "b": 40})
        (line,) = read_lines(path)
        assert "arguments_sha256" not in line
        assert line.get("arguments") == ({"a": 2, "b": 40} if mode == "full" else None)


async def test_the_file_rotates_by_size_keeping_backups(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"  # its folder is created
    async with gateway(AuditConfig(file=str(path), max_bytes=1024, backups=2)) as (url, _app):
        await several_clients(url, calls=10)
    kept = sorted(tmp_path.joinpath("logs").iterdir())
    assert [file.name for file in kept] == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    for file in kept:
        assert file.stat().st_size <= 1024 and stat.S_IMODE(file.stat().st_mode) == 0o600
        assert all(line["tool"] == "echo" for line in read_lines(file))  # whole lines only
    # 40 lines of ~250 bytes: older ones went; the newest file holds the last ones written.
    assert sum(len(read_lines(file)) for file in kept) < 40


async def test_refusals_and_admin_reads_are_audited_and_other_methods_are_not(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    async with gateway(AuditConfig(file=str(path))) as (_url, app):
        context = CallContext("groups/db", "alice", "1f0c9a2b", "streamable-http")
        for method, outcome in (
            ("tools/call", "refused"),
            ("initialize", "refused"),
            ("admin/status", "ok"),
            ("tools/list", "ok"),
            ("ping", "error"),
        ):
            app.observers.call_finished(
                CallRecord(context, "", method, None, outcome, 1_700_000_000.5, 0.001, "rate limited")
            )
    lines = read_lines(path)
    assert [(line["method"], line["outcome"]) for line in lines] == [
        ("tools/call", "refused"),
        ("initialize", "refused"),
        ("admin/status", "ok"),
    ]
    assert lines[0] == {
        "time": "2023-11-14T22:13:20.500Z",
        "identity": "alice",
        "route": "groups/db",
        "server": None,
        "session": "1f0c9a2b",
        "transport": "streamable-http",
        "method": "tools/call",
        "tool": None,
        "outcome": "refused",
        "duration_ms": 1.0,
        "error": "rate limited",
    }


async def test_without_a_file_the_lines_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp_central.audit")
    async with (
        gateway(AuditConfig(arguments="hash")) as (url, _app),
        mcp_client(route_url(url, "a", "sse"), "sse") as session,
    ):
        await session.call_tool("echo", {"text": "to the log"})
    (record,) = [r for r in caplog.records if r.name == "mcp_central.audit"]
    assert record.getMessage() == "tools/call echo: ok"
    fields = record.__dict__
    assert (fields["route"], fields["server"], fields["tool"], fields["outcome"]) == ("a", "a", "echo", "ok")
    assert len(fields["arguments_sha256"]) == 64 and "to the log" not in caplog.text


async def test_a_reload_that_changes_the_audit_applies_at_once(tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    current: dict[str, Config] = {}
    load: Callable[[], Config] = lambda: current["config"]  # noqa: E731
    async with gateway(AuditConfig(file=str(first)), load=load) as (url, app):
        current["config"] = dataclasses.replace(
            app.config, proxy=dataclasses.replace(app.config.proxy, audit=AuditConfig(file=str(second)))
        )
        async with mcp_client(route_url(url, "a", "streamable-http"), "streamable-http") as session:
            await session.call_tool("echo", {"text": "before"})
            assert app.reloader is not None and await app.reloader.reload("test")
            await session.call_tool("echo", {"text": "after"})
    assert len(read_lines(first)) == 1 and len(read_lines(second)) == 1


def test_the_config_keys_resolve_and_report_problems(tmp_path: Path) -> None:
    text = (
        '{"mcpProxy": {"options": {"audit": {"file": "logs/audit.jsonl", "maxBytes": 2048, "backups": 1}}}}'
    )
    config = load_config_text(text, str(tmp_path / "config.json"))
    assert config.proxy.audit == AuditConfig(str(tmp_path / "logs" / "audit.jsonl"), 2048, 1, "none")
    assert load_config_text('{"mcpProxy": {"options": {"audit": {}}}}', "c.json").proxy.audit == AuditConfig()
    assert load_config_text("{}", "c.json").proxy.audit is None
    bad = (
        '{"mcpProxy": {"options": {"logFormat": "xml",'
        ' "audit": {"arguments": "all", "maxBytes": 10, "x": 1}}},'
        ' "mcpServers": {"s": {"command": "x", "options": {"audit": {}, "logFormat": "json"}}}}'
    )
    with pytest.raises(ConfigError) as raised:
        load_config_text(bad, "c.json")
    paths = sorted(problem.path for problem in raised.value.problems)
    assert paths == [
        "mcpProxy.options.audit.arguments",
        "mcpProxy.options.audit.maxBytes",
        "mcpProxy.options.audit.x",
        "mcpProxy.options.logFormat",
        "mcpServers.s.options.audit",
        "mcpServers.s.options.logFormat",
    ]
