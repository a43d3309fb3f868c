"""The built-in demo upstream: what ``mcp-central serve`` serves when it is given no config.

It exists only so a new user reaches a tool through the gateway at once, offline. It must not
grow features: real servers belong in a config file.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp.server.mcpserver import MCPServer

README = """This is mcp-central's built-in demo server.

You reached it through the gateway, so the proxy works. To serve your own MCP servers, write a
config file (TBXark/mcp-proxy's config.json layout) and run: mcp-central serve --config config.json
"""

server = MCPServer("mcp-central-demo", instructions="The built-in demo upstream of mcp-central.")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
def now(timezone: str = "UTC") -> str:
    """The current time in an IANA timezone (e.g. 'Europe/Berlin'), ISO 8601."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone: {timezone!r}") from None
    return datetime.now(zone).isoformat()


@server.tool()
def system_info() -> dict[str, str]:
    """Where this demo server runs: Python version, platform, process id."""
    return {"python": platform.python_version(), "platform": platform.platform(), "pid": str(os.getpid())}


@server.resource("demo://readme")
def readme() -> str:
    """What this server is and how to configure real ones."""
    return README


@server.prompt()
def summarize(text: str) -> str:
    """Ask for a short summary of a text."""
    return f"Summarize the following text in three sentences:\n\n{text}"


def main() -> None:
    server.run("stdio")
