"""Benchmark: one tool call over the OpenAPI bridge beside the same call over MCP streamable HTTP.

    .venv/bin/python bench/openapi.py [--duration SECONDS] [--rounds N] [--json FILE]

The same stdio echo upstream (``tests/servers/echo_server.py``) behind one ``mcp-central serve``
(no token: both ways would pay the same digest); each round measures, alternating the two ways
so that the shared machine's drift hits both alike:

- *MCP*: ``POST /echo/mcp`` with a ``tools/call`` on an initialized session (as bench/run.py);
- *OpenAPI*: ``POST /openapi/echo/echo`` with the arguments as the body.

Per way: p50/p99 of 2,000 sequential calls, calls/s with 32 connections calling back to back, and
the proxy's CPU time per call at 32 connections (from ``/proc``: the steadier figure on a shared
machine). Everything on 127.0.0.1; the proxy is stopped by PID. Not part of the test suite.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import Connection, call
from run import StreamableSession, bench_main, cpu_seconds, latency, throughput, wait_ready

Caller = Callable[[int], Awaitable[bool]]


async def mcp_callers(port: int, count: int) -> tuple[list[Caller], Callable[[], None]]:
    sessions = []
    for _ in range(count):
        session = StreamableSession(port, "/echo/mcp")
        await session.open()
        sessions.append(session)

    def caller(session: StreamableSession) -> Caller:
        return lambda request_id: session.call(request_id, call(request_id))

    def close() -> None:
        for session in sessions:
            session.close()

    return [caller(session) for session in sessions], close


async def openapi_callers(port: int, count: int) -> tuple[list[Caller], Callable[[], None]]:
    connections = [await Connection.open("127.0.0.1", port) for _ in range(count)]
    headers = {"Content-Type": "application/json"}
    body = orjson.dumps({"text": "x"})

    def caller(connection: Connection) -> Caller:
        async def one(request_id: int) -> bool:
            status, _, answer = await connection.request("POST", "/openapi/echo/echo", body, headers)
            return status == 200 and answer == b'"x"'

        return one

    def close() -> None:
        for connection in connections:
            connection.close()

    return [caller(connection) for connection in connections], close


async def one_way(way: str, port: int, pid: int, seconds: float) -> dict[str, Any]:
    make = mcp_callers if way == "mcp" else openapi_callers
    (single,), close_single = await make(port, 1)
    result: dict[str, Any] = {}
    result["latency"], errors = await latency(single, 2000)
    close_single()
    workers, close = await make(port, 32)
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    result["calls_per_s_32"], more = await throughput(workers, seconds)
    calls = result["calls_per_s_32"] * (time.perf_counter() - started)
    result["cpu_us_per_call_32"] = round((cpu_seconds(pid) - cpu_before) / calls * 1e6, 1)
    close()
    result["errors"] = errors + more
    return result


async def measure(seconds: float, rounds: int, config: Path, port: int) -> dict[str, Any]:
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcp_central", "serve", "--config", str(config), "--log-level", "warning"
    )
    report: dict[str, Any] = {"rounds": []}
    try:
        await wait_ready(port)
        warm = await Connection.open("127.0.0.1", port)  # the document is built once, then kept
        await warm.request("GET", "/openapi/echo/openapi.json")
        warm.close()
        for _ in range(rounds):
            report["rounds"].append(
                {way: await one_way(way, port, proxy.pid, seconds) for way in ("mcp", "openapi")}
            )
    finally:
        proxy.terminate()
        await asyncio.wait_for(proxy.wait(), 20)
    return report


def main() -> None:
    bench_main(
        __doc__ or "",
        lambda config, port, args: measure(args.duration, args.rounds, config, port),
        (("--rounds",), {"type": int, "default": 3, "help": "alternating rounds of both ways"}),
    )


if __name__ == "__main__":
    main()
