"""``toolDiscovery: "search"`` on a group, in a real ``mcp-central serve`` process, with real upstreams:
npm's server-everything, server-filesystem and server-memory, and PyPI's mcp-server-time.

The SDK client (both downstream transports) and the inspector CLI see three tools (plus the
``alwaysList`` one), find tools by plain-words queries, describe and call them; progress and
elicitation pass through ``call_tool``; several clients search and call at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest

from conftest import FIXTURE_SERVER, TESTS, free_port, mcp_client, running_gateway
from test_inspector import INSPECTOR, NODE22
from test_node_peers import EVERYTHING

pytestmark = pytest.mark.anyio

PEERS = TESTS.parent / "node_modules" / "@modelcontextprotocol"
FILESYSTEM = PEERS / "server-filesystem" / "dist" / "index.js"
MEMORY = PEERS / "server-memory" / "dist" / "index.js"
META = {"search_tools", "describe_tool", "call_tool"}
ALWAYS = "time__get_current_time"


@pytest.fixture(scope="module")
def search_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("search")
    files = home / "files"
    files.mkdir()
    (files / "hello.txt").write_text("hello from the filesystem server\n")
    servers = {
        "everything": {"command": "node", "args": [str(EVERYTHING), "stdio"]},
        "files": {"command": "node", "args": [str(FILESYSTEM), str(files)]},
        "memory": {
            "command": "node",
            "args": [str(MEMORY)],
            "env": {"MEMORY_FILE_PATH": str(home / "m.jsonl")},
        },
        "time": {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]},
    }
    port = free_port()
    config = {
        "mcpProxy": {"addr": f"127.0.0.1:{port}", "options": {}},
        "mcpServers": {
            name: {**entry, "timeout": "60s", "required": True} for name, entry in servers.items()
        },
        "groups": {
            "tools": {
                "servers": list(servers),
                "toolDiscovery": "search",
                "alwaysList": [ALWAYS],
            }
        },
    }
    path = home / "config.json"
    path.write_text(json.dumps(config))
    with running_gateway(["serve", "--config", str(path), "--no-watch"], port, ready="/readyz"):
        yield f"http://127.0.0.1:{port}/groups/tools"


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def search(client: Any, query: str, limit: int = 5) -> list[str]:
    result = await client.call_tool("search_tools", {"query": query, "limit": limit})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return [tool["name"] for tool in result.structured_content["tools"]]


@pytest.mark.parametrize("downstream", ["streamable-http", "sse"])
async def test_a_search_group_lists_three_tools_and_finds_describes_calls_by_plain_words(
    search_url: str, downstream: str
) -> None:
    url = f"{search_url}/{'mcp' if downstream == 'streamable-http' else 'sse'}"
    async with mcp_client(url, downstream) as client:
        listed = await client.list_tools()
        assert {tool.name for tool in listed.tools} == META | {ALWAYS}

        found = await search(client, "read the contents of a text file")
        assert "files__read_text_file" in found
        assert "memory__create_entities" in await search(client, "create entities in the knowledge graph")
        assert ALWAYS in await search(client, "what time is it now in a timezone")
        assert "everything__get-sum" in await search(client, "add two numbers together")
        shown = (await client.call_tool("search_tools", {"query": "read a text file"})).structured_content
        assert shown is not None
        first = next(tool for tool in shown["tools"] if tool["name"] == "files__read_text_file")
        assert first["server"] == "files" and len(first["description"]) <= 201

        described = await client.call_tool("describe_tool", {"name": "files__read_text_file"})
        definition = described.structured_content
        assert definition is not None and definition["server"] == "files"
        assert "path" in definition["inputSchema"]["properties"]
        assert definition["annotations"]["readOnlyHint"] is True

        allowed = await client.call_tool(
            "call_tool", {"name": "files__list_allowed_directories", "arguments": {}}
        )
        folder = text_of(allowed).splitlines()[-1].strip()
        read = await client.call_tool(
            "call_tool", {"name": "files__read_text_file", "arguments": {"path": f"{folder}/hello.txt"}}
        )
        assert text_of(read) == "hello from the filesystem server\n"
        summed = await client.call_tool(
            "call_tool", {"name": "everything__get-sum", "arguments": {"a": 19, "b": 23}}
        )
        assert "42" in text_of(summed)

        # The real tools stay callable by name, and unknown names are a tool error the model can read.
        direct = await client.call_tool("everything__echo", {"message": "direct"})
        assert "direct" in text_of(direct)
        missing = await client.call_tool("call_tool", {"name": "nope__nothing"})
        assert missing.is_error and "Unknown tool: nope__nothing" in text_of(missing)
        upstream_says = await client.call_tool("call_tool", {"name": "files__no_such_tool"})
        assert upstream_says.is_error and "no_such_tool" in text_of(upstream_says)  # the member's own answer
        nothing = await client.call_tool("describe_tool", {"name": "nope__nothing"})
        assert nothing.is_error


async def test_progress_and_elicitation_pass_through_call_tool(search_url: str) -> None:
    steps: list[float] = []
    asked: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append(progress)

    async def answer(context: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": "Ada Lovelace", "check": True})

    async with mcp_client(f"{search_url}/mcp", "streamable-http", elicitation_callback=answer) as client:
        long_op = await search(client, "long running operation with progress updates")
        assert long_op[0] == "everything__trigger-long-running-operation"
        with anyio.fail_after(60):
            done = await client.call_tool(
                "call_tool",
                {"name": long_op[0], "arguments": {"duration": 1, "steps": 3}},
                progress_callback=on_progress,
            )
        assert "Long running operation completed" in text_of(done)
        assert steps == [1, 2, 3]

        elicit = await search(client, "elicitation request user input")
        assert "everything__trigger-elicitation-request" in elicit
        with anyio.fail_after(60):
            elicited = await client.call_tool(
                "call_tool", {"name": "everything__trigger-elicitation-request", "arguments": {}}
            )
        assert asked == ["Please provide inputs for the following fields:"]
        assert "Ada Lovelace" in json.dumps([block.model_dump() for block in elicited.content])


async def test_the_inspector_cli_searches_and_calls(search_url: str) -> None:
    assert NODE22.exists() and INSPECTOR.exists(), "npm peers not installed: run `make test`"

    async def inspector(*args: str) -> Any:
        command = [
            str(NODE22),
            str(INSPECTOR / "index.js"),
            "--cli",
            f"{search_url}/mcp",
            "--transport",
            "http",
        ]
        with anyio.fail_after(60):
            result = await anyio.run_process([*command, *args], check=False)
        assert result.returncode == 0, result.stderr.decode()
        return json.loads(result.stdout.decode())

    listed = await inspector("--method", "tools/list")
    assert {tool["name"] for tool in listed["tools"]} == META | {ALWAYS}
    found = await inspector(
        "--method", "tools/call", "--tool-name", "search_tools",
        "--tool-args-json", json.dumps({"query": "store observations about an entity in memory"}),
    )  # fmt: skip
    names = [tool["name"] for tool in found["structuredContent"]["tools"]]
    assert "memory__add_observations" in names
    called = await inspector(
        "--method", "tools/call", "--tool-name", "call_tool",
        "--tool-args-json", json.dumps({"name": ALWAYS, "arguments": {"timezone": "Asia/Tokyo"}}),
    )  # fmt: skip
    assert "Asia/Tokyo" in called["content"][0]["text"]


async def test_several_clients_search_and_call_at_once(search_url: str) -> None:
    queries = {
        "echo a message back": "everything__echo",
        "list the files in a directory": "files__list_directory",
        "search nodes in the knowledge graph": "memory__search_nodes",
        "convert time between timezones": "time__convert_time",
    }

    async def one(n: int) -> tuple[list[str], str]:
        transport = "streamable-http" if n % 2 == 0 else "sse"
        url = f"{search_url}/{'mcp' if n % 2 == 0 else 'sse'}"
        async with mcp_client(url, transport) as client:
            query = list(queries)[n % len(queries)]
            found, echoed = await asyncio.gather(
                search(client, query),
                client.call_tool(
                    "call_tool", {"name": "everything__echo", "arguments": {"message": f"client-{n}"}}
                ),
            )
            return found, text_of(echoed)

    with anyio.fail_after(120):
        outcomes = await asyncio.gather(*(one(n) for n in range(8)))
    for n, (found, echoed) in enumerate(outcomes):
        assert queries[list(queries)[n % len(queries)]] in found
        assert echoed.endswith(f"client-{n}")


def upstream_state(port: int, name: str) -> str:
    status = httpx.get(f"http://127.0.0.1:{port}/status", timeout=10).json()
    return str(next(entry["state"] for entry in status["upstreams"] if entry["name"] == name))


async def test_a_lazy_member_is_found_from_its_last_list_without_starting_and_started_by_call_tool(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.json"
    known = tmp_path / "config.json.tools.json"

    def configure(port: int) -> None:
        clock = {
            "command": sys.executable,
            "args": ["-m", "mcp_server_time"],
            "timeout": "60s",
            "lazyStart": True,
        }
        config = {
            "mcpProxy": {"addr": f"127.0.0.1:{port}"},
            "mcpServers": {"fx": {"command": sys.executable, "args": [str(FIXTURE_SERVER)]}, "clock": clock},
            "groups": {"g": {"servers": ["fx", "clock"], "toolDiscovery": "search"}},
        }
        path.write_text(json.dumps(config))
        path.chmod(0o640)

    # First run: no list known yet, so the first search starts the lazy member once to learn it.
    port = free_port()
    configure(port)
    with running_gateway(["serve", "--config", str(path), "--no-watch"], port, ready="/readyz"):
        assert upstream_state(port, "clock") == "stopped"
        async with mcp_client(f"http://127.0.0.1:{port}/groups/g/mcp", "streamable-http") as client:
            assert "clock__get_current_time" in await search(client, "current time in a timezone")
        assert upstream_state(port, "clock") == "ready"
    assert known.stat().st_mode & 0o777 == 0o640
    kept = json.loads(known.read_text())["servers"]
    assert set(kept) == {"fx", "clock"}  # every server's last list, for validate too
    assert "get_current_time" in {tool["name"] for tool in kept["clock"]["tools"]}

    # Second run: its list comes from the file; searching and describing leave it asleep.
    port = free_port()
    configure(port)
    with running_gateway(["serve", "--config", str(path), "--no-watch"], port, ready="/readyz"):
        url = f"http://127.0.0.1:{port}/groups/g/mcp"
        async with mcp_client(url, "streamable-http") as one, mcp_client(url, "streamable-http") as two:
            found = await asyncio.gather(*(search(c, "convert a time between timezones") for c in (one, two)))
            assert all("clock__convert_time" in names for names in found)
            described = await one.call_tool("describe_tool", {"name": "clock__get_current_time"})
            assert described.structured_content is not None
            assert "timezone" in described.structured_content["inputSchema"]["properties"]
            assert upstream_state(port, "clock") == "stopped"
            called = await two.call_tool(
                "call_tool", {"name": "clock__get_current_time", "arguments": {"timezone": "UTC"}}
            )
            assert not called.is_error and "UTC" in text_of(called)
            assert upstream_state(port, "clock") == "ready"
