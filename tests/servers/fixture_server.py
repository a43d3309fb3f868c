"""The test suite's main real upstream: an MCP server written with the official SDK (MCPServer).

    python tests/servers/fixture_server.py [--transport stdio|sse|streamable-http] [--port P] [--name N]
                                           [--json-response]

HTTP modes bind 127.0.0.1 only, on the port the test chose. Tools cover what the gateway must
carry: plain calls, env passing, long lines, slow calls, a chatty stderr, progress.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer

parser = argparse.ArgumentParser()
parser.add_argument("--transport", default="stdio", choices=["stdio", "sse", "streamable-http"])
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--name", default="fixture")
parser.add_argument(
    "--json-response", action="store_true", help="streamable HTTP: answer with JSON bodies, not SSE"
)
options = parser.parse_args()

server = MCPServer(options.name, instructions="A fixture server for mcp-central's tests.")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def env(name: str) -> str:
    """The value of an environment variable of this server process ('' if unset)."""
    return os.environ.get(name, "")


@server.tool()
def big(size: int) -> str:
    """A string of `size` 'x' characters (to test long lines)."""
    return "x" * size


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "done"


@server.tool()
def chatter(lines: int) -> str:
    """Write many long lines to stderr, then answer (to prove stderr is drained)."""
    for i in range(lines):
        print(f"chatter line {i} " + "-" * 200, file=sys.stderr, flush=True)
    return "ok"


@server.tool()
async def progress(steps: int, ctx: Context) -> str:
    """Report `steps` progress notifications, then answer."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
    return f"{steps} steps"


@server.tool()
def header(name: str, ctx: Context) -> str:
    """The value of an HTTP request header this server received ('' over stdio or if absent)."""
    headers = ctx.headers or {}
    return next((value for key, value in headers.items() if key.lower() == name.lower()), "")


@server.tool()
def whoami() -> str:
    """The name this server was started with."""
    return options.name


@server.resource("fixture://hello")
def hello() -> str:
    return "hello"


@server.prompt()
def greet(name: str) -> str:
    """Greet someone."""
    return f"Please greet {name} warmly."


if __name__ == "__main__":
    if options.transport == "stdio":
        server.run("stdio")
    elif options.transport == "sse":
        asyncio.run(server.run_sse_async(host="127.0.0.1", port=options.port))
    else:
        asyncio.run(
            server.run_streamable_http_async(
                host="127.0.0.1", port=options.port, json_response=options.json_response
            )
        )
