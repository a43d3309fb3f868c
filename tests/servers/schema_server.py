"""An SDK server whose tools have the schemas and results the OpenAPI bridge must carry faithfully.

    python tests/servers/schema_server.py        (stdio only)

Recursive ``$ref``/``$defs`` input (a tree), ``anyOf``/nullable/enum/default arguments, a tool with
an ``outputSchema``, results of every content kind (text, image, embedded resource), a tool that
fails (``isError``), a slow one that reports progress, a prompt with arguments and two resources.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Literal

import mcp_types as types
from mcp.server.mcpserver import Context, Image, MCPServer
from pydantic import BaseModel, Field

server = MCPServer("schemas", instructions="Schemas the OpenAPI bridge must keep.")

PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class Node(BaseModel):
    """A tree: a name and child trees (a recursive schema: ``$defs`` + ``$ref``)."""

    name: str
    children: list[Node] = Field(default_factory=list)


class Summary(BaseModel):
    nodes: int
    depth: int
    names: list[str]


def _walk(node: Node, depth: int, names: list[str]) -> int:
    names.append(node.name)
    return max([depth, *(_walk(child, depth + 1, names) for child in node.children)])


@server.tool()
def tree_summary(tree: Node) -> Summary:
    """Count a tree's nodes and its depth (structured output)."""
    names: list[str] = []
    depth = _walk(tree, 1, names)
    return Summary(nodes=len(names), depth=depth, names=names)


@server.tool()
def paint(
    color: Literal["red", "green", "blue"] = "red",
    note: str | None = None,
    size: int | float = 1,
) -> str:
    """Describe a brush stroke (an enum with a default, a nullable string, a union)."""
    return f"{color} stroke of size {size}" + (f" ({note})" if note else "")


@server.tool()
def pixel() -> Image:
    """A 1x1 PNG image."""
    return Image(data=PIXEL, format="png")


@server.tool()
def bundle() -> list[types.TextContent | types.EmbeddedResource]:
    """Text and an embedded binary resource."""
    blob = types.BlobResourceContents(
        uri="schemas://blob",
        mime_type="application/octet-stream",
        blob=base64.b64encode(b"\x00\x01").decode(),
    )
    return [
        types.TextContent(type="text", text="two things"),
        types.EmbeddedResource(type="resource", resource=blob),
    ]


@server.tool()
def fail(reason: str) -> str:
    """Always fails with `reason` (isError)."""
    raise ValueError(reason)


@server.tool()
async def crawl(steps: int, ctx: Context) -> str:
    """Report `steps` progress notifications 50 ms apart, then answer."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
        await asyncio.sleep(0.05)
    return f"crawled {steps}"


@server.prompt()
def review(language: str, focus: str = "bugs") -> str:
    """Ask for a code review."""
    return f"Review this {language} code, looking for {focus}."


@server.resource("schemas://readme", mime_type="text/plain")
def readme() -> str:
    return "read me"


@server.resource("schemas://items/{item}")
def item(item: str) -> str:
    return f"item {item}"


if __name__ == "__main__":
    server.run("stdio")
