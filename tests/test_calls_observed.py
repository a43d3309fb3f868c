"""Every answered client request becomes one ``CallRecord`` for the gateway's observers (metrics,
audit, logs, the dashboard read them): who asked, on which route, which server served it, the
tool, prompt or URI, and how it ended. Several clients call at once on a server route, the
aggregated route and both transports; each record must name its own client's session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from conftest import fixture_stdio, make_config, mcp_client, route_url, serve
from mcp_central.core.calls import CallRecord
from mcp_central.downstream.app import Gateway

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def call_finished(self, record: CallRecord) -> None:
        self.records.append(record)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, Gateway, Recorder]]:
    config = make_config(fixture_stdio("a"), dataclasses.replace(fixture_stdio("b"), timeout=1))
    async with serve(config) as (url, app):
        recorder = Recorder()
        app.observers.add(recorder)
        yield url, app, recorder


async def test_each_clients_calls_are_recorded_with_their_own_session(
    gateway: tuple[str, Gateway, Recorder],
) -> None:
    url, _app, recorder = gateway
    sessions: dict[str, str] = {}

    async def client(n: int, transport: str, aggregated: bool) -> None:
        target = f"{url}/{'mcp' if transport == 'streamable-http' else 'sse'}" if aggregated else None
        async with mcp_client(target or route_url(url, "a", transport), transport) as session:
            tool = "a__echo" if aggregated else "echo"
            for i in range(5):
                result = await session.call_tool(tool, {"text": f"client {n} call {i}"})
                assert result.content[0].text == f"client {n} call {i}"  # type: ignore[union-attr]
            sessions[f"client {n}"] = transport

    async with anyio.create_task_group() as tg:
        for n in range(8):
            tg.start_soon(client, n, "streamable-http" if n % 2 else "sse", n >= 4)

    calls = [r for r in recorder.records if r.method == "tools/call"]
    assert len(calls) == 40
    by_text: dict[str, list[CallRecord]] = {}
    for record in calls:
        assert record.server == "a" and record.target == "echo" and record.outcome == "ok"
        assert isinstance(record.arguments, dict)
        by_text.setdefault(str(record.arguments["text"]).split(" call ")[0], []).append(record)
        assert 0 <= record.duration < 30
    assert set(by_text) == {f"client {n}" for n in range(8)}
    for name, records in by_text.items():
        n = int(name.split()[1])
        # One client, one session, one route: its five calls all carry the same context.
        assert {(r.context.route, r.context.session, r.context.transport) for r in records} == {
            (("all" if n >= 4 else "a"), records[0].context.session, "streamable-http" if n % 2 else "sse")
        }
    assert len({records[0].context.session for records in by_text.values()}) == 8


async def test_errors_and_timeouts_have_their_outcome(gateway: tuple[str, Gateway, Recorder]) -> None:
    url, _app, recorder = gateway
    async with mcp_client(route_url(url, "b", "streamable-http"), "streamable-http") as session:
        with pytest.raises(MCPError):
            await session.call_tool("slow", {"seconds": 5})  # b's timeout is 1 s
    # a's timeout is 30 s: a loaded machine cannot turn these into timeouts.
    async with mcp_client(route_url(url, "a", "streamable-http"), "streamable-http") as session:
        with pytest.raises(MCPError):
            await session.get_prompt("no-such-prompt", {})
        await session.read_resource("fixture://hello")
    outcome: dict[str, Any] = {(r.method, r.target): r.outcome for r in recorder.records}
    assert outcome[("tools/call", "slow")] == "timeout"
    assert outcome[("prompts/get", "no-such-prompt")] == "error"
    assert outcome[("resources/read", "fixture://hello")] == "ok"
