"""``toolOverrides`` (issue 18, item 3): a server's tools renamed and rewritten at its link, so every
route sees the new names (``/time/mcp``, ``/mcp`` as ``time__now``, the OpenAPI bridge), calls by
the new name reach the upstream's original, the original name of a renamed tool is refused,
``validate`` refuses bad overrides by key path, ``/status``, the log and ``check`` name an
override of a tool the server does not have, and a reload swaps overrides without a restart.

The upstream is the real ``mcp-server-time`` under an in-process gateway; clients are the SDK's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from conftest import http_client, mcp_client, serve
from manage_helpers import cli, operator_env  # noqa: F401 - autouse fixture
from mcp_central.config.loader import load_config, load_config_text
from mcp_central.config.tool_overrides import ToolOverride
from mcp_central.core.tool_overrides import ToolOverrides, override_problems
from mcp_central.errors import ConfigError

pytestmark = pytest.mark.anyio

TIME = {"command": sys.executable, "args": ["-m", "mcp_server_time"], "timeout": "30s"}
OVERRIDES: dict[str, Any] = {
    "get_current_time": {
        "name": "now",
        "title": "Clock",
        "description": "What time it is now in one timezone.",
        # mcp-server-time says readOnly, not destructive, idempotent, closed world: two keys change.
        "annotations": {"destructiveHint": True, "openWorldHint": None},
    },
    "convert_time": {"description": "Convert a time between two timezones."},
    "no_such_tool": {"description": "never listed"},
}
MISSING = (
    "mcpServers.time.toolOverrides.no_such_tool: "
    "the server has no tool 'no_such_tool' (or toolFilter hides it)"
)


def write(path: Path, overrides: dict[str, Any]) -> None:
    path.write_text(json.dumps({"mcpServers": {"time": {**TIME, "toolOverrides": overrides}}}))


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[str, Any, Path]]:
    path = tmp_path / "config.json"
    write(path, OVERRIDES)
    async with serve(load_config(str(path)), load=lambda: load_config(str(path))) as (base, app):
        yield base, app, path


async def time_status(http: httpx.AsyncClient, base: str) -> dict[str, Any]:
    """The time upstream in ``/status`` once its tools were counted (20 s at most)."""
    with anyio.fail_after(20):
        while True:
            upstreams = (await http.get(f"{base}/status")).json()["upstreams"]
            found = next(item for item in upstreams if item["name"] == "time")
            if found["tools"] is not None:
                return dict(found)
            await anyio.sleep(0.05)


def text_of(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent), result
    return content.text


async def test_every_route_lists_the_new_names_and_definitions(gateway: tuple[str, Any, Path]) -> None:
    base, _app, _path = gateway
    async with mcp_client(f"{base}/time/mcp", "streamable-http") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {"now", "convert_time"}
    now = tools["now"]
    assert (now.title, now.description) == ("Clock", "What time it is now in one timezone.")
    assert now.annotations is not None
    assert (now.annotations.read_only_hint, now.annotations.idempotent_hint) == (True, True)  # kept
    assert now.annotations.destructive_hint is True and now.annotations.open_world_hint is None
    assert "timezone" in now.input_schema["properties"]  # the rest of the definition is the upstream's
    assert tools["convert_time"].description == "Convert a time between two timezones."

    async with mcp_client(f"{base}/sse", "sse") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"time__now", "time__convert_time"} <= names and "time__get_current_time" not in names

    async with http_client() as http:
        own = (await http.get(f"{base}/openapi/time/openapi.json")).json()
        assert "/now" in own["paths"] and "/get_current_time" not in own["paths"]
        assert own["paths"]["/now"]["post"]["description"].startswith("What time it is now")
        everything = (await http.get(f"{base}/openapi/openapi.json")).json()
        assert "/time__now" in everything["paths"] and "/time__get_current_time" not in everything["paths"]
        answer = await http.post(f"{base}/openapi/time/now", json={"timezone": "Asia/Tokyo"})
        assert answer.status_code == 200 and "Asia/Tokyo" in answer.text
        assert (
            await http.post(f"{base}/openapi/time/get_current_time", json={"timezone": "UTC"})
        ).status_code == 404


async def test_many_clients_call_by_new_names_and_are_refused_the_old_one(
    gateway: tuple[str, Any, Path],
) -> None:
    base, _app, _path = gateway
    zones = ["UTC", "Asia/Tokyo", "Europe/Paris", "America/New_York", "Australia/Sydney", "Africa/Cairo"]
    answers: dict[str, str] = {}
    refusals: list[str] = []

    async def one(index: int, zone: str) -> None:
        aggregated = index % 2 == 1
        url, prefix = (f"{base}/mcp", "time__") if aggregated else (f"{base}/time/mcp", "")
        async with mcp_client(url, "streamable-http") as client:
            answers[zone] = text_of(await client.call_tool(f"{prefix}now", {"timezone": zone}))
            with pytest.raises(MCPError) as refused:
                await client.call_tool(f"{prefix}get_current_time", {"timezone": zone})
            refusals.append(str(refused.value))

    with anyio.fail_after(60):
        async with asyncio.TaskGroup() as group:
            for index, zone in enumerate(zones):
                group.create_task(one(index, zone))
    for zone, text in answers.items():
        assert json.loads(text)["timezone"] == zone  # each client got the answer to its own call
    assert len(answers) == len(zones)
    # Refused by the link, which names the tool in the member's own terms on the aggregate too.
    assert refusals == ["Unknown tool: get_current_time"] * len(zones), refusals


async def test_an_override_of_a_missing_tool_is_in_status_the_log_and_check(
    gateway: tuple[str, Any, Path], caplog: pytest.LogCaptureFixture
) -> None:
    base, _app, _path = gateway
    caplog.set_level(logging.WARNING, logger="mcp_central.upstream")
    async with httpx.AsyncClient(timeout=30) as http:
        status = await time_status(http, base)
    assert status["toolOverrideProblems"] == [MISSING]
    assert status["tools"] == 2
    logged = [record.getMessage() for record in caplog.records if MISSING in record.getMessage()]
    assert logged == [f"upstream 'time': {MISSING}"]
    checked = await anyio.run_process(
        [sys.executable, "-m", "mcp_central", "check", "--url", base, "--transport", "streamable-http"],
        check=False,
    )
    assert checked.returncode == 1, checked.stderr.decode()
    assert f"toolOverrides: {MISSING}" in checked.stderr.decode()
    assert "/time/mcp" in checked.stdout.decode()  # the routes themselves were checked and passed


async def test_a_reload_swaps_overrides_in_place_and_sessions_hear_it(gateway: tuple[str, Any, Path]) -> None:
    base, app, path = gateway
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            heard.set()

    async with (
        httpx.AsyncClient(timeout=30) as http,
        mcp_client(f"{base}/time/mcp", "streamable-http", message_handler=on_message) as client,
    ):
        assert "now" in {tool.name for tool in (await client.list_tools()).tools}
        starts = (await time_status(http, base))["starts"]
        write(path, {"get_current_time": {"name": "clock"}})
        assert await app.reloader.reload("test")
        assert app.reloader.last["summary"] == "new tool overrides for time"
        with anyio.fail_after(20):
            await heard.wait()
        names = {tool.name for tool in (await client.list_tools()).tools}  # the same session
        assert names == {"clock", "convert_time"}
        assert json.loads(text_of(await client.call_tool("clock", {"timezone": "UTC"})))["timezone"] == "UTC"
        with pytest.raises(MCPError, match="Unknown tool: now"):
            await client.call_tool("now", {"timezone": "UTC"})
        with anyio.fail_after(20):  # counted again with the new overrides: no problem left
            while (status := await time_status(http, base))["toolOverrideProblems"]:  # noqa: ASYNC110
                await anyio.sleep(0.05)
        assert status["starts"] == starts  # the upstream was not restarted


def problems_of(overrides: Any, *, in_options: bool = False) -> list[str]:
    entry: dict[str, Any] = {**TIME}
    if in_options:
        entry["options"] = {"toolOverrides": overrides}
    else:
        entry["toolOverrides"] = overrides
    try:
        load_config_text(json.dumps({"mcpServers": {"time": entry}}), "c.json")
    except ConfigError as exc:
        return [f"{problem.path}: {problem.message}" for problem in exc.problems]
    return []


def test_bad_overrides_are_refused_with_their_key_path() -> None:
    where = "mcpServers.time.toolOverrides"
    found = problems_of(
        {
            "a": {"name": "has space", "colour": "red"},
            "b": {"name": "x" * 65},
            "c": {"name": "same"},
            "d": {"name": "same"},
            "e": {"name": "kept"},
            "kept": {"title": "still listed as kept"},
            "f": {"description": 7, "annotations": {"readonlyHint": True, "destructiveHint": "yes"}},
            "g": "not an object",
            "h": {},
        }
    )
    expected_paths = [
        f"{where}.a.colour",
        f"{where}.a.name",
        f"{where}.b.name",
        f"{where}.d.name",
        f"{where}.e.name",
        f"{where}.f.description",
        f"{where}.f.annotations.readonlyHint",
        f"{where}.f.annotations.destructiveHint",
        f"{where}.g",
        f"{where}.h",
    ]
    assert sorted(problem.split(": ", 1)[0] for problem in found) == sorted(expected_paths), found
    assert any("'same' is already the new name of 'c'" in problem for problem in found)
    assert any("'kept' is another tool's name" in problem for problem in found)
    # 64 characters of the allowed set pass, in either place a server's settings may be.
    assert problems_of({"get_current_time": {"name": "a.b-c_" + "d" * 58}}) == []
    assert problems_of({"get_current_time": {"name": "now"}}, in_options=True) == []
    assert problems_of({"a": {"name": "x y"}}, in_options=True) == [
        "mcpServers.time.options.toolOverrides.a.name: expected 1 to 64 letters, digits, '_', '-' or '.' "
        "(what clients accept), got 'x y'"
    ]


def test_validate_reports_bad_overrides_and_overrides_are_per_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "mcpProxy": {"options": {"toolOverrides": {"a": {"name": "b"}}}},
                "mcpServers": {"time": {**TIME, "toolOverrides": {"get_current_time": {"name": "now!"}}}},
            }
        )
    )
    run = cli(capsys, "validate", "--config", str(path))
    assert run.code != 0
    assert "mcpServers.time.toolOverrides.get_current_time.name" in run.err
    assert "mcpProxy.options.toolOverrides: unknown key" in run.err


def test_two_tools_can_swap_names_and_a_hidden_upstream_tool_is_reported() -> None:
    # Sans-IO: the rewriting the link applies (core/tool_overrides.py), on lists and calls.
    overrides = ToolOverrides(
        (ToolOverride("a", name="b"), ToolOverride("b", name="a"), ToolOverride("c", name="d"))
    )
    listed = {"tools": [{"name": "a", "description": "A"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]}
    overrides.rewrite_list(listed)
    # c is now called d; the upstream's own d would be a second "d": left out, and reported.
    assert listed["tools"] == [{"name": "b", "description": "A"}, {"name": "a"}, {"name": "d"}]
    assert overrides.upstream_call({"name": "b", "arguments": {}}) == ({"name": "a", "arguments": {}}, None)
    assert overrides.upstream_call({"name": "a"}) == ({"name": "b"}, None)
    assert overrides.upstream_call({"name": "c"}) == (None, "Unknown tool: c")
    assert overrides.upstream_call({"name": "other"}) == ({"name": "other"}, None)
    assert overrides.exposed_names({"a", "b", "c", "d"}) == {"a", "b", "d"}
    assert override_problems("s", overrides.overrides, {"a", "b", "c", "d"}) == [
        "mcpServers.s.toolOverrides.c.name: the server already has a tool 'd' (it is left out of lists)"
    ]
