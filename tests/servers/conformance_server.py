"""The fixtures the official conformance suite calls by name, written with the official SDK.

    python tests/servers/conformance_server.py [--transport stdio|streamable-http] [--port P]

The suite runs once against this server directly (streamable HTTP on 127.0.0.1) and once through
mcp-central (this server as a stdio upstream); both runs must agree. Behaviour follows each
scenario's published requirements (``conformance list --server`` and the scenario texts).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from typing import Any

import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import Message, UserMessage
from mcp.server.streamable_http import EventMessage, EventStore

parser = argparse.ArgumentParser()
parser.add_argument("--transport", default="stdio", choices=["stdio", "streamable-http"])
parser.add_argument("--port", type=int, default=0)
options = parser.parse_args()

# A 1x1 red PNG and a tiny silent WAV.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
WAV_B64 = base64.b64encode(
    b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00"
    b"\x02\x00\x10\x00data\x00\x00\x00\x00"
).decode()

server = MCPServer("mcp-central-conformance-fixture", version="1.0.0")
subscriptions: set[str] = set()


@server.tool(description="Returns simple text")
def test_simple_text() -> str:
    return "This is a simple text response for testing."


@server.tool(description="Returns an image")
def test_image_content() -> types.ImageContent:
    return types.ImageContent(type="image", data=PNG_B64, mime_type="image/png")


@server.tool(description="Returns audio")
def test_audio_content() -> types.AudioContent:
    return types.AudioContent(type="audio", data=WAV_B64, mime_type="audio/wav")


def _embedded(uri: str, text: str, mime: str = "text/plain") -> types.EmbeddedResource:
    return types.EmbeddedResource(
        type="resource", resource=types.TextResourceContents(uri=uri, mime_type=mime, text=text)
    )


@server.tool(description="Returns an embedded resource")
def test_embedded_resource() -> types.EmbeddedResource:
    return _embedded("test://embedded-resource", "This is an embedded resource content.")


@server.tool(description="Returns text, image and resource")
def test_multiple_content_types() -> list[Any]:
    return [
        types.TextContent(type="text", text="Multiple content types test:"),
        types.ImageContent(type="image", data=PNG_B64, mime_type="image/png"),
        _embedded(
            "test://mixed-content-resource", json.dumps({"test": "data", "value": 123}), "application/json"
        ),
    ]


@server.tool(description="Sends three log messages")
async def test_tool_with_logging(ctx: Context) -> str:
    await ctx.info("Tool execution started")
    await asyncio.sleep(0.05)
    await ctx.info("Tool processing data")
    await asyncio.sleep(0.05)
    await ctx.info("Tool execution completed")
    return "Logging test completed"


@server.tool(description="Reports progress 0, 50, 100")
async def test_tool_with_progress(ctx: Context) -> str:
    for value in (0, 50, 100):
        await ctx.report_progress(value, 100)
        if value < 100:
            await asyncio.sleep(0.05)
    return "Progress test completed"


@server.tool(description="Always fails")
def test_error_handling() -> str:
    raise RuntimeError("This tool intentionally returns an error for testing")


@server.tool(description="Asks the client's LLM")
async def test_sampling(prompt: str, ctx: Context) -> str:
    result = await ctx.session.create_message(
        messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
        max_tokens=100,
    )
    text = result.content.text if isinstance(result.content, types.TextContent) else str(result.content)
    return f"LLM response: {text}"


async def _elicit(ctx: Context, message: str, schema: dict[str, Any]) -> types.ElicitResult:
    return await ctx.session.elicit_form(message, schema)  # type: ignore[arg-type]


@server.tool(description="Asks the user")
async def test_elicitation(message: str, ctx: Context) -> str:
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    result = await _elicit(ctx, message, schema)
    return f"User response: action={result.action}, content={json.dumps(result.content)}"


@server.tool(description="Elicitation with defaults (SEP-1034)")
async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "score": {"type": "number", "default": 95.5},
            "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
            "verified": {"type": "boolean", "default": True},
        },
    }
    result = await _elicit(ctx, "Please review the defaults", schema)
    return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"


@server.tool(description="Elicitation with every enum form (SEP-1330)")
async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {
                "type": "string",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
            },
            "titledMulti": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ]
                },
            },
        },
    }
    result = await _elicit(ctx, "Pick some options", schema)
    return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"


@server.tool(description="Closes its SSE stream mid-call so the client must resume (SEP-1699)")
async def test_reconnection(ctx: Context) -> str:
    await asyncio.sleep(0.05)
    await ctx.close_sse_stream()
    await asyncio.sleep(0.2)
    return "Reconnection test completed"


SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


@server.tool(name="json_schema_2020_12_tool", description="Tool with JSON Schema 2020-12 features")
def json_schema_tool(name: str = "", address: dict[str, str] | None = None) -> str:
    return f"name={name}"


# The suite checks that these keywords survive as written, so the generated schema is replaced.
server._tool_manager.get_tool("json_schema_2020_12_tool").parameters = SCHEMA_2020_12  # type: ignore[union-attr]


@server.resource(
    "test://static-text", name="static-text", description="A static text resource", mime_type="text/plain"
)
def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource(
    "test://static-binary",
    name="static-binary",
    description="A static binary resource",
    mime_type="image/png",
)
def static_binary() -> bytes:
    return PNG


@server.resource(
    "test://watched-resource",
    name="watched-resource",
    description="A resource to subscribe to",
    mime_type="text/plain",
)
def watched() -> str:
    return "Watched resource content."


@server.resource(
    "test://template/{id}/data",
    name="template",
    description="A resource template",
    mime_type="application/json",
)
def template(id: str) -> str:
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@server.prompt(description="A simple prompt")
def test_simple_prompt() -> str:
    return "This is a simple prompt for testing."


@server.prompt(description="A prompt with arguments")
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt(description="A prompt embedding a resource")
def test_prompt_with_embedded_resource(resourceUri: str) -> list[Message]:
    return [
        UserMessage(content=_embedded(resourceUri, "Embedded resource content for testing.")),
        UserMessage(content="Please process the embedded resource above."),
    ]


@server.prompt(description="A prompt with an image")
def test_prompt_with_image() -> list[Message]:
    return [
        UserMessage(content=types.ImageContent(type="image", data=PNG_B64, mime_type="image/png")),
        UserMessage(content="Please analyze the image above."),
    ]


@server.completion()
async def complete(ref: Any, argument: Any, context: Any) -> types.Completion:
    words = ["paris", "park", "party"]
    return types.Completion(
        values=[w for w in words if w.startswith(argument.value)], total=3, has_more=False
    )


# logging/setLevel and resources/subscribe are low-level handlers: MCPServer has no decorators for them.
async def _subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
    subscriptions.add(str(params.uri))
    return types.EmptyResult()


async def _unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
    subscriptions.discard(str(params.uri))
    return types.EmptyResult()


async def _set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
    return types.EmptyResult()


lowlevel = server._lowlevel_server
lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, _set_level)
lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, _subscribe)
lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, _unsubscribe)


class MemoryEventStore(EventStore):
    """Lets ``test_reconnection``'s stream be resumed when served directly over HTTP."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    async def store_event(self, stream_id: str, message: Any) -> str:
        event_id = str(len(self.events) + 1)
        self.events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: Any) -> str | None:
        stream = next((s for e, s, _ in self.events if e == last_event_id), None)
        if stream is None:
            return None
        for event_id, stream_id, message in self.events:
            if stream_id == stream and int(event_id) > int(last_event_id) and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream


if __name__ == "__main__":
    if options.transport == "stdio":
        server.run("stdio")
    else:
        asyncio.run(
            server.run_streamable_http_async(
                host="127.0.0.1", port=options.port, event_store=MemoryEventStore(), retry_interval=100
            )
        )
