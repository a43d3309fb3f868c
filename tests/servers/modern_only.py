"""A stateless-only (2026-07-28) MCP server over stdio: the SDK fixture server behind a thin shim
that refuses the ``initialize`` handshake, as a server speaking only the newest revision does.

A shim, not a real peer, because no published server is modern-only yet (the SDK's servers are
dual-era). Everything but ``initialize`` and ``notifications/initialized`` reaches the real fixture
server untouched, and everything it says comes back untouched.

    python tests/servers/modern_only.py [--name N]
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

FIXTURE = Path(__file__).with_name("fixture_server.py")


async def main() -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(FIXTURE), "--transport", "stdio", *sys.argv[1:],
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    async def relay_out() -> None:
        assert child.stdout is not None
        while line := await child.stdout.readline():
            out.write(line)
            out.flush()

    relay = asyncio.ensure_future(relay_out())
    while line := await reader.readline():
        message = json.loads(line)
        if message.get("method") == "initialize":
            error = {
                "code": -32022,
                "message": "Unsupported protocol version: this server speaks only 2026-07-28",
                "data": {"supported": ["2026-07-28"], "requested": message["params"].get("protocolVersion")},
            }
            out.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": error}).encode() + b"\n")
            out.flush()
        elif message.get("method") != "notifications/initialized":
            child.stdin.write(line)
            await child.stdin.drain()
    child.stdin.close()
    await child.wait()
    relay.cancel()


if __name__ == "__main__":
    asyncio.run(main())
