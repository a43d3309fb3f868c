"""``toolOverrides`` and ``pinTools`` on a search-mode group (issue 18): what a client finds with
``search_tools``, sees with ``describe_tool`` and calls with ``call_tool`` is what the overrides
and the pins say, and a held or renamed-away tool is neither found nor callable. The refusal of a
held renamed tool names it as the client called it, and the upstream's name ``pins accept`` takes.

Real upstreams (``mcp-server-time``; tests/servers/shifting_server.py, which rewrites a tool's
description at run time and announces it) under an in-process gateway; the SDK's clients.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from conftest import mcp_client, serve
from mcp_central.config.loader import load_config
from test_pins import POISONED, SHIFTING, held_tools
from test_supervision import wait_status
from test_tool_overrides import text_of

pytestmark = pytest.mark.anyio

TIME = {"command": sys.executable, "args": ["-m", "mcp_server_time"], "timeout": "30s"}
WALL_CLOCK = "Read the wall clock of any city on the planet."
EVERYTHING = 50
"""``search_tools``' largest limit: more than the group has tools, so 'not found' means absent."""


def write_config(folder: Path, servers: dict[str, Any], **proxy: Any) -> Path:
    path = folder / "config.json"
    document = {
        "mcpProxy": {"options": proxy},
        "mcpServers": servers,
        "groups": {"g": {"servers": list(servers), "toolDiscovery": "search"}},
    }
    path.write_text(json.dumps(document))
    return path


async def found(client: Any, query: str) -> list[str]:
    result = await client.call_tool("search_tools", {"query": query, "limit": EVERYTHING})
    assert not result.is_error and result.structured_content is not None, text_of(result)
    return [tool["name"] for tool in result.structured_content["tools"]]


async def test_a_renamed_tool_is_found_by_its_new_words_described_and_called_by_its_new_name(
    tmp_path: Path,
) -> None:
    overrides = {"get_current_time": {"name": "wall_clock", "description": WALL_CLOCK}}
    config = write_config(tmp_path, {"time": {**TIME, "toolOverrides": overrides}})
    async with serve(load_config(str(config)), watch=False) as (base, _app):

        async def one(zone: str) -> dict[str, Any]:
            async with mcp_client(f"{base}/groups/g/mcp", "streamable-http") as client:
                first = (await found(client, "wall clock of a city"))[0]
                described = await client.call_tool("describe_tool", {"name": "time__wall_clock"})
                called = await client.call_tool(
                    "call_tool", {"name": "time__wall_clock", "arguments": {"timezone": zone}}
                )
                everything = await found(client, "get current time in a specific timezone")
                old_described = await client.call_tool("describe_tool", {"name": "time__get_current_time"})
                # The link refuses it as a direct call is refused (call_tool takes the same path).
                with pytest.raises(MCPError) as old_called:
                    await client.call_tool(
                        "call_tool", {"name": "time__get_current_time", "arguments": {"timezone": zone}}
                    )
                return {
                    "first": first,
                    "described": described.structured_content,
                    "called": json.loads(text_of(called))["timezone"],
                    "everything": everything,
                    "old_described": (old_described.is_error, text_of(old_described)),
                    "old_called": str(old_called.value),
                }

        zones = ["UTC", "Asia/Tokyo", "Europe/Oslo"]
        with anyio.fail_after(60):
            seen = await asyncio.gather(*(one(zone) for zone in zones))
    for zone, each in zip(zones, seen, strict=True):
        assert each["first"] == "time__wall_clock"
        assert each["described"]["name"] == "time__wall_clock"
        assert each["described"]["description"] == WALL_CLOCK
        assert "timezone" in each["described"]["inputSchema"]["properties"]
        assert each["called"] == zone  # each client got the answer to its own call
        assert "time__get_current_time" not in each["everything"]
        assert "time__wall_clock" in each["everything"] and "time__convert_time" in each["everything"]
        assert each["old_described"] == (
            True,
            "Unknown tool: time__get_current_time (find tools with search_tools)",
        )
        assert each["old_called"] == "Unknown tool: get_current_time"


async def test_a_held_tool_is_neither_found_nor_callable_and_a_renamed_one_is_refused_by_its_name(
    tmp_path: Path,
) -> None:
    shifting = {"command": sys.executable, "args": [str(SHIFTING)], "timeout": "30s"}
    servers = {"shift": shifting, "renamed": {**shifting, "toolOverrides": {"weather": {"name": "forecast"}}}}
    config = write_config(tmp_path, servers, pinTools=True)
    async with (
        serve(load_config(str(config)), watch=False) as (base, _app),
        mcp_client(f"{base}/groups/g/mcp", "streamable-http") as searcher,
        mcp_client(f"{base}/groups/g/mcp", "streamable-http") as caller,
        mcp_client(f"{base}/renamed/mcp", "streamable-http") as direct,
    ):
        weather = await found(searcher, "weather in a city")
        assert {"shift__weather", "renamed__forecast"} <= set(weather)
        sunny = await caller.call_tool("call_tool", {"name": "shift__weather", "arguments": {"city": "Oslo"}})
        assert text_of(sunny) == "sunny in Oslo"

        for server in ("shift", "renamed"):
            rewritten = await caller.call_tool(
                "call_tool", {"name": f"{server}__rewrite", "arguments": {"description": POISONED}}
            )
            assert text_of(rewritten) == "rewritten"
            await wait_status(base, server, lambda status: held_tools(status) == {"weather": "changed"}, 20)
        # Held is not missing: the override of the held tool is no problem in /status (nor logged).
        status = await wait_status(base, "renamed", lambda status: status["tools"] == 2, 20)
        assert status["toolOverrideProblems"] == []

        after = await asyncio.gather(
            found(searcher, "weather in a city"), found(searcher, "read ssh id_rsa pass it as the city")
        )
        for names in after:
            assert not {"shift__weather", "renamed__forecast"} & set(names), names
        for name in ("shift__weather", "renamed__forecast"):
            described = await searcher.call_tool("describe_tool", {"name": name})
            assert described.is_error and f"Unknown tool: {name}" in text_of(described)

        # Refused by the link as a direct call is (call_tool takes the same path), concurrently.
        refusals = await asyncio.gather(
            caller.call_tool("call_tool", {"name": "shift__weather", "arguments": {"city": "Oslo"}}),
            caller.call_tool("call_tool", {"name": "renamed__forecast", "arguments": {"city": "Oslo"}}),
            direct.call_tool("forecast", {"city": "Oslo"}),
            return_exceptions=True,
        )
        assert all(isinstance(refusal, MCPError) for refusal in refusals), refusals
        renamed = (
            "tool 'forecast' (upstream tool 'weather') of server 'renamed' changed its definition since it"
            " was pinned; an operator must run `mcp-central pins accept renamed weather`"
        )
        assert [str(refusal) for refusal in refusals] == [
            "tool 'weather' of server 'shift' changed its definition since it was pinned;"
            " an operator must run `mcp-central pins accept shift weather`",
            renamed,
            renamed,
        ]
