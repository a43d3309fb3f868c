"""A raw JSON-RPC stdio MCP server that reflects what it receives.

No SDK on purpose: to prove the gateway forwards messages untouched (unknown methods, extra fields,
``_meta``) the upstream must show exactly what arrived, which no real server does. It is also the
"stdio echo upstream" the benchmark measures. Methods:

    initialize          a minimal InitializeResult (tools capability)
    tools/list          one tool, ``echo``
    tools/call          ``echo``: text content with the ``text`` argument; ``sleep``: waits ``seconds``;
                        ``list_changed_burst``: lists ``tools`` more tools from now on, forgets the
                        ``tools/list`` requests counted so far, and sends ``count``
                        ``notifications/tools/list_changed`` before its answer;
                        ``tools_list_count``: how many ``tools/list`` requests arrived since then;
                        ``emit``: writes each of ``lines`` to stdout as it is, then answers
    anything else       result ``{"received": <the whole request as it arrived>}``

``--stall METHOD`` (repeatable): requests for METHOD are never answered — a hung upstream.
"""

from __future__ import annotations

import asyncio
import json
import sys

ECHO_TOOL = {
    "name": "echo",
    "description": "Returns its text argument.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
}


class Listing:
    """What ``tools/list`` answers and how often it was asked (for the coalescing tests)."""

    extra_tools = 0
    requests = 0


def extra_tool(number: int) -> dict:  # type: ignore[type-arg]
    return {**ECHO_TOOL, "name": f"extra-{number}", "description": "Listed after a burst."}


def answer(request: dict) -> dict | None:  # type: ignore[type-arg]
    method = request.get("method")
    if "id" not in request:
        return None
    if method == "tools/list":
        Listing.requests += 1
    if method == "initialize":
        result: dict = {  # type: ignore[type-arg]
            "protocolVersion": (request.get("params") or {}).get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "echo-server", "version": "1.0.0"},
            "instructions": "Reflects requests back.",
        }
    elif method == "tools/list":
        result = {"tools": [ECHO_TOOL, *(extra_tool(n) for n in range(Listing.extra_tools))]}
    elif method == "tools/call":
        params = request.get("params")
        arguments = (params.get("arguments") if isinstance(params, dict) else None) or {}
        text = str(arguments.get("text", "")) if isinstance(arguments, dict) else ""
        if isinstance(params, dict) and params.get("name") == "tools_list_count":
            text = str(Listing.requests)
        result = {"content": [{"type": "text", "text": text}], "_meta": {"received": request}}
    else:
        result = {"received": request}
    return {"jsonrpc": "2.0", "id": request["id"], "result": result}


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    async def sleeper(request: dict, seconds: float) -> None:  # type: ignore[type-arg]
        await asyncio.sleep(seconds)
        reply = {
            "jsonrpc": "2.0",
            "id": request["id"],
            "result": {"content": [{"type": "text", "text": "slept"}]},
        }
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()

    stalled = {sys.argv[i + 1] for i, arg in enumerate(sys.argv[:-1]) if arg == "--stall"}
    tasks = set()
    while line := await reader.readline():
        request = json.loads(line)
        if request.get("method") in stalled:
            continue
        params = request.get("params")
        params = params if isinstance(params, dict) else {}
        if request.get("method") == "tools/call" and params.get("name") == "sleep":
            task = asyncio.ensure_future(sleeper(request, float(params["arguments"]["seconds"])))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            continue
        if request.get("method") == "tools/call" and params.get("name") == "list_changed_burst":
            arguments = params.get("arguments") or {}
            Listing.extra_tools, Listing.requests = int(arguments.get("tools", 0)), 0
            changed = json.dumps({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            out.write((changed.encode() + b"\n") * int(arguments["count"]))
        if request.get("method") == "tools/call" and params.get("name") == "emit":
            for raw in (params.get("arguments") or {}).get("lines", []):
                out.write(str(raw).encode() + b"\n")  # malformed on purpose, as a faulty server might
        reply = answer(request)
        if reply is not None:
            out.write(json.dumps(reply).encode() + b"\n")
            out.flush()


if __name__ == "__main__":
    asyncio.run(main())
