"""The test suite's main real upstream: an MCP server written with the official SDK (MCPServer).

    python tests/servers/fixture_server.py [--transport stdio|sse|streamable-http] [--port P] [--name N]
                                           [--json-response] [--cut-get-streams N] [--sse-path P]

HTTP modes bind 127.0.0.1 only, on the port the test chose. Tools cover what the gateway must
carry: plain calls, env passing, long lines, slow calls, a chatty stderr, progress, a call that
waits for another (``gated`` / ``open_gate``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import anyio
import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer

parser = argparse.ArgumentParser()
parser.add_argument("--transport", default="stdio", choices=["stdio", "sse", "streamable-http"])
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--name", default="fixture")
parser.add_argument("--sse-path", default="/sse", help="sse: the path of the event stream")
parser.add_argument(
    "--json-response", action="store_true", help="streamable HTTP: answer with JSON bodies, not SSE"
)
parser.add_argument(
    "--cut-get-streams",
    type=int,
    default=0,
    help="streamable HTTP: end each of the first N GET streams as soon as it opens (a flaky network)",
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
async def progress(steps: int, ctx: Context, padding: int = 0) -> str:
    """Report `steps` progress notifications (messages padded by `padding` characters), then answer."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}" + "." * padding)
    return f"{steps} steps"


_gates: dict[str, asyncio.Event] = {}
_cancelled_gates: list[str] = []


@server.tool()
async def gated(gate: str, ctx: Context, then_steps: int = 0) -> str:
    """Report progress, then wait until `open_gate(gate)` is called, then report `then_steps` more
    progress notifications; answers 'passed <gate>'."""
    await ctx.report_progress(1, 2, f"waiting at {gate}")
    try:
        await _gates.setdefault(gate, asyncio.Event()).wait()
    except BaseException:  # cancelled (notifications/cancelled): record and announce it for the tests
        _cancelled_gates.append(gate)
        with anyio.CancelScope(shield=True):
            await ctx.session.send_resource_updated(f"gate://{gate}")
            await ctx.notify_resource_updated(f"gate://{gate}")
        raise
    for step in range(then_steps):
        await ctx.report_progress(2 + step, 2 + then_steps, f"after {gate}")
    return f"passed {gate}"


@server.tool()
def cancelled_gates() -> list[str]:
    """The gates whose `gated` call was cancelled while waiting."""
    return _cancelled_gates


@server.tool()
def open_gate(gate: str) -> str:
    """Release the `gated` call waiting at `gate` (from any session: the process is shared)."""
    _gates.setdefault(gate, asyncio.Event()).set()
    return "opened"


@server.tool()
def header(name: str, ctx: Context) -> str:
    """The value of an HTTP request header this server received ('' over stdio or if absent)."""
    headers = ctx.headers or {}
    return next((value for key, value in headers.items() if key.lower() == name.lower()), "")


class GetStreams:
    """How many GET streams (streamable HTTP, server → client) this server has opened so far."""

    opened = 0


@server.tool()
def get_streams() -> int:
    """How many GET streams were opened (the first `--cut-get-streams` of them were ended at once)."""
    return GetStreams.opened


def cutting_get_streams(app: Any, cuts: int) -> Any:
    """ASGI middleware: the first ``cuts`` GET streams end right after their headers, as if the
    connection dropped; the SDK sees its client leave (``http.disconnect``) and forgets the stream."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await app(scope, receive, send)
            return
        cut = False

        async def maybe_cut(message: Any) -> None:
            nonlocal cut
            if cut:
                return  # the stream has ended: what the server still sends goes nowhere
            if message["type"] == "http.response.start" and message["status"] == 200:
                GetStreams.opened += 1
                if GetStreams.opened <= cuts:
                    cut = True
                    await send(message)
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
            await send(message)

        await app(scope, receive, maybe_cut)

    return wrapped


@server.tool()
def pid() -> int:
    """This server's process id (tells upstream processes apart)."""
    return os.getpid()


@server.tool()
async def roots(ctx: Context) -> str:
    """The client's roots (roots/list), comma-separated."""
    result = await ctx.session.list_roots()
    return ",".join(str(root.uri) for root in result.roots)


@server.tool()
def whoami() -> str:
    """The name this server was started with."""
    return options.name


@server.tool()
async def ask_llm(prompt: str, ctx: Context) -> str:
    """Ask the client's LLM (sampling/createMessage) and return its answer."""
    result = await ctx.session.create_message(
        messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
        max_tokens=50,
        related_request_id=ctx.request_id,  # over streamable HTTP: on this call's reply stream
    )
    content = result.content
    return content.text if isinstance(content, types.TextContent) else str(content)


@server.tool()
async def ask_llm_stateless(prompt: str, ctx: Context) -> str | types.InputRequiredResult:
    """The stateless (2026-07-28) way to ask the client's LLM: an input-required result, then the retry."""
    answer = (ctx.input_responses or {}).get("llm")
    if answer is None:
        message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
        request = types.CreateMessageRequest(
            params=types.CreateMessageRequestParams(messages=[message], max_tokens=50)
        )
        return types.InputRequiredResult(input_requests={"llm": request}, request_state="asked-once")
    assert ctx.request_state == "asked-once"
    content = answer.get("content") if isinstance(answer, dict) else getattr(answer, "content", None)
    text = content.get("text") if isinstance(content, dict) else getattr(content, "text", None)
    return f"llm said: {text}"


@server.tool()
async def ask_user(question: str, ctx: Context) -> str:
    """Ask the user (elicitation/create) for a name; return 'action:name'."""
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    result = await ctx.session.elicit_form(question, schema, related_request_id=ctx.request_id)  # type: ignore[arg-type]
    return f"{result.action}:{(result.content or {}).get('name', '')}"


@server.tool()
async def whisper(secret: str, ctx: Context) -> str:
    """Log `secret` at info (a message only the caller may hear), then return it."""
    await ctx.info(secret)
    return secret


@server.tool()
async def log_each_level(ctx: Context) -> str:
    """Send one log message at debug, info, warning and error."""
    await ctx.debug("a debug message")
    await ctx.info("an info message")
    await ctx.warning("a warning message")
    await ctx.error("an error message")
    return "logged"


@server.tool()
async def touch(uri: str, ctx: Context) -> str:
    """Announce that resource `uri` changed (notifications/resources/updated)."""
    await ctx.session.send_resource_updated(uri)  # handshake-era sessions
    await ctx.notify_resource_updated(uri)  # 2026-07-28 subscriptions/listen streams
    return "touched"


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called `name` and announce the change (notifications/tools/list_changed)."""
    server.add_tool(lambda: f"I am {name}", name=name, description="added at run time")
    await ctx.session.send_tool_list_changed()
    await ctx.notify_tools_changed()
    return "grown"


@server.resource("fixture://hello")
def hello() -> str:
    return "hello"


@server.prompt()
def greet(name: str) -> str:
    """Greet someone."""
    return f"Please greet {name} warmly."


@server.completion()
async def complete(ref: object, argument: types.CompletionArgument, context: object) -> types.Completion:
    names = ["Ada", "Alan", "Grace"]
    return types.Completion(
        values=[n for n in names if n.startswith(argument.value)], total=None, has_more=False
    )


# logging/setLevel and resources/subscribe are low-level handlers: MCPServer has no decorators for them.
async def _accept(ctx: object, params: object) -> types.EmptyResult:
    return types.EmptyResult()


server._lowlevel_server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, _accept)
server._lowlevel_server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, _accept)
server._lowlevel_server.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, _accept)


if __name__ == "__main__":
    if options.transport == "stdio":
        server.run("stdio")
    elif options.transport == "sse":
        asyncio.run(server.run_sse_async(host="127.0.0.1", port=options.port, sse_path=options.sse_path))
    elif options.cut_get_streams:
        import uvicorn

        app = server.streamable_http_app(json_response=options.json_response)
        cutting = cutting_get_streams(app, options.cut_get_streams)
        uvicorn.run(cutting, host="127.0.0.1", port=options.port, log_level="warning")
    else:
        asyncio.run(
            server.run_streamable_http_async(
                host="127.0.0.1", port=options.port, json_response=options.json_response
            )
        )
