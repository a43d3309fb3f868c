"""A raw stdio MCP server that mixes garbage into its output: for the gateway's upstream fuzz test.

Before every answer it writes a random handful of bad lines — not JSON, JSON of the wrong shape,
answers to ids nobody used, notifications with params of the wrong type, progress with odd
tokens, server→client requests with odd ids, and lines longer than the gateway's
``maxMessageBytes`` — then the right answer. ``tools/call`` of ``echo`` answers with its ``text``
argument; the seed comes from the call's ``seed`` argument, so a failing run can be replayed.
"""

from __future__ import annotations

import json
import random
import sys

TOOL = {
    "name": "echo",
    "description": "Returns its text argument (after some noise).",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}, "seed": {"type": "integer"}},
    },
}


def noise(rng: random.Random) -> list[bytes]:
    junk: list[object] = [
        "not json at all {",
        [1, 2, 3],
        {"jsonrpc": "2.0", "id": rng.randint(10_000, 99_999), "result": {"stray": True}},
        {"jsonrpc": "2.0", "id": {"an": "object"}, "result": {}},
        {"jsonrpc": "2.0", "method": "notifications/message", "params": ["wrong", "type"]},
        {"jsonrpc": "2.0", "method": "notifications/message", "params": "text"},
        {"jsonrpc": "2.0", "method": 12345},
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": [1], "progress": 1},
        },
        {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": {"x": 1}}},
        {"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": {"taskId": None}},
        {"jsonrpc": "2.0", "id": [7], "method": "ping"},
        {"jsonrpc": "2.0", "id": 3, "method": "roots/list", "params": 5},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": {"a": 1}}},
        "x" * (80 * 1024),  # longer than the test's maxMessageBytes
        {"jsonrpc": "2.0", "id": None, "error": {"code": "not-a-number"}},
        42,
    ]
    picked = rng.sample(junk, rng.randint(1, 6))
    return [(item if isinstance(item, str) else json.dumps(item)).encode() for item in picked]


def answer(request: dict) -> dict | None:  # type: ignore[type-arg]
    method, request_id = request.get("method"), request.get("id")
    if request_id is None:
        return None
    if method == "initialize":
        result: object = {
            "protocolVersion": request["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fuzzy", "version": "0"},
        }
    elif method == "tools/list":
        result = {"tools": [TOOL]}
    elif method == "tools/call":
        text = str(request["params"]["arguments"].get("text"))
        result = {"content": [{"type": "text", "text": text}]}
    else:
        result = {}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def main() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        reply = answer(request)
        if reply is None:
            continue
        if request.get("method") == "tools/call":
            seed = request["params"]["arguments"].get("seed", 0)
            for bad in noise(random.Random(seed)):
                out.write(bad + b"\n")
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
