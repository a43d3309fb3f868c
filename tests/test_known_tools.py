"""The last known tool list of every server (``<config>.tools.json``, issue 18): a running gateway
keeps each server's list in the upstream's own names and rewrites the file only when a list
changed; ``mcp-central validate`` reads it and warns of an override of a tool the server does not
have; a sleeping search-mode member's list follows a reload that changes its ``toolOverrides``.

Real upstreams (``mcp-server-time``, the SDK fixture server), a real ``serve`` process or an
in-process gateway, the SDK's clients, real files in ``tmp_path``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from conftest import CLI, FIXTURE_SERVER, free_port, mcp_client, running_gateway, serve
from mcp_central.config.loader import load_config
from test_supervision import status_of

pytestmark = pytest.mark.anyio

TIME = {"command": sys.executable, "args": ["-m", "mcp_server_time"], "timeout": "30s"}
OVERRIDE = "mcpServers.time.toolOverrides.no_such_tool"
MISSING = f"{OVERRIDE}: the server has no tool 'no_such_tool' (or toolFilter hides it)"


def known_lists(path: Path) -> dict[str, list[str]]:
    """Each server's tool names in the known-tools file beside ``path`` (none before it exists)."""
    known = Path(f"{path}.tools.json")
    servers = json.loads(known.read_text())["servers"] if known.exists() else {}
    return {name: [tool["name"] for tool in entry["tools"]] for name, entry in servers.items()}


async def validate(path: Path) -> tuple[int, str, str]:
    run = await anyio.run_process([*CLI, "validate", "--config", str(path)], check=False)
    return run.returncode, run.stdout.decode(), run.stderr.decode()


async def counted(port: int) -> None:
    """Until every upstream's tools were counted (the walk that keeps the known lists)."""
    async with httpx.AsyncClient(timeout=10) as http:
        with anyio.fail_after(60):
            while True:
                upstreams = (await http.get(f"http://127.0.0.1:{port}/status")).json()["upstreams"]
                if all(upstream["tools"] is not None for upstream in upstreams):
                    return
                await anyio.sleep(0.05)


async def test_validate_warns_of_an_override_of_a_tool_the_server_last_listed_without(tmp_path: Path) -> None:
    path = tmp_path / "config.json"

    def configure(port: int, overrides: dict[str, Any]) -> None:
        servers = {
            "time": {**TIME, "toolOverrides": overrides},
            "fx": {"command": sys.executable, "args": [str(FIXTURE_SERVER)]},
        }
        path.write_text(json.dumps({"mcpProxy": {"addr": f"127.0.0.1:{port}"}, "mcpServers": servers}))

    # Before any run nothing is known: validate cannot tell, and says nothing of it.
    configure(free_port(), {"no_such_tool": {"description": "x"}})
    code, out, err = await validate(path)
    assert (code, err) == (0, "") and out.startswith("OK:")

    # A list-mode gateway (no search anywhere) keeps every server's list, in the upstream's names.
    port = free_port()
    configure(port, {"get_current_time": {"name": "now"}})
    with running_gateway(["serve", "--config", str(path), "--no-watch"], port, ready="/readyz"):
        await counted(port)
    lists = known_lists(path)
    assert set(lists) == {"time", "fx"}
    assert sorted(lists["time"]) == ["convert_time", "get_current_time"]  # not "now"
    known = tmp_path / "config.json.tools.json"
    written = known.stat()

    # Another run with the same tools does not write the file again.
    port = free_port()
    configure(port, {"get_current_time": {"name": "now"}})
    with running_gateway(["serve", "--config", str(path), "--no-watch"], port, ready="/readyz"):
        await counted(port)
    again = known.stat()
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)

    # Now validate knows: an override of a missing tool is a warning naming its key path.
    configure(port, {"get_current_time": {"name": "now"}, "no_such_tool": {"description": "x"}})
    code, out, err = await validate(path)
    assert code == 0 and out.startswith("OK:"), err
    assert f"warning: {path}: {MISSING} (its last known tool list, config.json.tools.json)" in err
    assert "get_current_time" not in err  # the override of a tool it has is fine

    # The server's current toolFilter counts: an override of a tool it hides is reported too.
    document = json.loads(path.read_text())
    document["mcpServers"]["time"]["options"] = {
        "toolFilter": {"mode": "block", "list": ["get_current_time"]}
    }
    document["mcpServers"]["time"]["toolOverrides"] = {"get_current_time": {"name": "now"}}
    path.write_text(json.dumps(document))
    code, _out, err = await validate(path)
    assert code == 0 and "mcpServers.time.toolOverrides.get_current_time: the server has no tool" in err


async def test_a_sleeping_members_known_list_follows_a_reload_of_its_overrides(tmp_path: Path) -> None:
    path = tmp_path / "config.json"

    def configure(new_name: str) -> None:
        clock = {**TIME, "lazyStart": True, "toolOverrides": {"get_current_time": {"name": new_name}}}
        document = {
            "mcpServers": {"fx": {"command": sys.executable, "args": [str(FIXTURE_SERVER)]}, "clock": clock},
            "groups": {"g": {"servers": ["fx", "clock"], "toolDiscovery": "search"}},
        }
        path.write_text(json.dumps(document))

    async def found(client: Any) -> list[str]:
        result = await client.call_tool("search_tools", {"query": "current time in a timezone", "limit": 50})
        assert result.structured_content is not None
        return [tool["name"] for tool in result.structured_content["tools"]]

    configure("now")
    async with (
        serve(load_config(str(path)), watch=False) as (base, _app),
        mcp_client(f"{base}/groups/g/mcp", "streamable-http") as client,
    ):
        assert "clock__now" in await found(client)  # the first search starts it once to learn
        with anyio.fail_after(30):
            while "clock" not in known_lists(path):  # noqa: ASYNC110 - a file the gateway writes
                await anyio.sleep(0.05)

    async with (
        serve(load_config(str(path)), load=lambda: load_config(str(path))) as (base, app),
        mcp_client(f"{base}/groups/g/mcp", "streamable-http") as client,
    ):
        assert "clock__now" in await found(client)
        configure("wall_clock")
        assert await app.reloader.reload("test")
        names = await found(client)
        assert "clock__wall_clock" in names and "clock__now" not in names
        assert "clock__get_current_time" not in names
        described = await client.call_tool("describe_tool", {"name": "clock__wall_clock"})
        assert not described.is_error
        assert (await status_of(base, "clock"))["state"] == "stopped"  # all from the known list
        called = await client.call_tool(
            "call_tool", {"name": "clock__wall_clock", "arguments": {"timezone": "UTC"}}
        )
        assert not called.is_error
        assert (await status_of(base, "clock"))["state"] == "ready"
