"""Benchmark: the same stdio echo upstream, measured directly and through mcp-central.

    .venv/bin/python bench/run.py [--duration SECONDS] [--json FILE]

Measures set-up time, per-call p50/p99, throughput at 1/8/32 sessions, 32 concurrent 100 ms calls
on one session, the proxy's RSS with 100 open sessions, and errors — for the direct stdio pipe,
streamable HTTP (sessions, and stateless 2026-07-28 requests) and legacy SSE. Everything runs on
127.0.0.1; every process started is stopped by PID. Not part of the test suite: speed is written
down in bench/README.md, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import quantiles
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import INIT, MODERN_META, Connection, call, modern_call

ROOT = Path(__file__).resolve().parent.parent
ECHO = ROOT / "tests" / "servers" / "echo_server.py"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(port: int) -> None:
    """Until ``mcp-central serve`` on ``port`` answers ``/readyz`` with 200 (60 s at most)."""
    async with asyncio.timeout(60):
        while True:
            try:
                connection = await Connection.open("127.0.0.1", port)
                status, _, _ = await connection.request("GET", "/readyz")
                connection.close()
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.05)


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = quantiles(samples, n=100)
    return {"p50_us": round(cuts[49] * 1e6, 1), "p99_us": round(cuts[98] * 1e6, 1)}


# --------------------------------------------------------------------------- direct stdio


class DirectPipe:
    """JSON-RPC over the echo server's stdin/stdout, many requests in flight."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.next_id = 0
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls) -> tuple[DirectPipe, float]:
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ECHO), stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=64 * 1024 * 1024
        )
        pipe = cls(proc)
        await pipe.call(INIT["method"], INIT["params"])
        return pipe, time.perf_counter() - started

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            message = orjson.loads(line)
            future = self.waiting.pop(message["id"], None)
            if future is not None:
                future.set_result(message)

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        self.proc.stdin.write(
            orjson.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}) + b"\n"
        )
        return await future

    async def stop(self) -> None:
        self.reader.cancel()
        self.proc.kill()
        await self.proc.wait()


# --------------------------------------------------------------------------- sessions over HTTP


class StreamableSession:
    def __init__(self, port: int, path: str) -> None:
        self.port, self.path = port, path
        self.headers: dict[str, str] = {}
        self.connections: list[Connection] = []

    async def open(self) -> None:
        connection = await Connection.open("127.0.0.1", self.port)
        status, headers, _ = await connection.request("POST", self.path, orjson.dumps(INIT), ACCEPT)
        assert status == 200, status
        self.headers = {
            **ACCEPT,
            "Mcp-Session-Id": headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        await connection.request(
            "POST", self.path, b'{"jsonrpc":"2.0","method":"notifications/initialized"}', self.headers
        )
        self.connections.append(connection)

    async def call(self, request_id: int, body: bytes, connection: Connection | None = None) -> bool:
        status, _, answer = await (connection or self.connections[0]).request(
            "POST", self.path, body, self.headers
        )
        return status == 200 and b'"result"' in answer

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


class StatelessSession:
    """A 2026-07-28 client: no session, every POST carries its envelope and mirrored headers."""

    def __init__(self, port: int, path: str) -> None:
        self.port, self.path = port, path
        self.headers = {**ACCEPT, "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call"}
        self.connections: list[Connection] = []

    async def open(self) -> None:
        connection = await Connection.open("127.0.0.1", self.port)
        discover = {"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {"_meta": MODERN_META}}
        headers = {**self.headers, "Mcp-Method": "server/discover"}
        status, _, _ = await connection.request("POST", self.path, orjson.dumps(discover), headers)
        assert status == 200, status
        self.connections.append(connection)

    async def call(self, request_id: int, body: bytes, connection: Connection | None = None) -> bool:
        name = "sleep" if b'"name":"sleep"' in body else "echo"
        status, _, answer = await (connection or self.connections[0]).request(
            "POST", self.path, body, {**self.headers, "Mcp-Name": name}
        )
        return status == 200 and b'"result"' in answer

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


class SSESession:
    def __init__(self, port: int, name: str) -> None:
        self.port, self.name = port, name
        self.waiting: dict[int, asyncio.Future[bytes]] = {}
        self.post: Connection | None = None
        self.stream: Connection | None = None
        self.endpoint = ""
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.stream = await Connection.open("127.0.0.1", self.port)
        await self.stream.open_stream(f"/{self.name}/sse", {"Accept": "text/event-stream"})
        events = self.stream.events()
        first = await anext(events)
        self.endpoint = first.data
        self.reader = asyncio.get_running_loop().create_task(self._read(events))
        self.post = await Connection.open("127.0.0.1", self.port)
        await self.call(0, orjson.dumps(INIT))
        await self.post.request(
            "POST", self.endpoint, b'{"jsonrpc":"2.0","method":"notifications/initialized"}', ACCEPT
        )

    async def _read(self, events: Any) -> None:
        async for event in events:
            if event.data:
                message = orjson.loads(event.data)
                future = self.waiting.pop(message.get("id"), None)
                if future is not None:
                    future.set_result(event.data.encode())

    async def call(self, request_id: int, body: bytes, connection: Connection | None = None) -> bool:
        future = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = future
        assert self.post is not None
        status, _, _ = await (connection or self.post).request("POST", self.endpoint, body, ACCEPT)
        answer = await future
        return status == 202 and b'"result"' in answer

    def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        for connection in (self.stream, self.post):
            if connection is not None:
                connection.close()


# --------------------------------------------------------------------------- measurements


async def latency(call_once: Callable[[int], Awaitable[bool]], count: int) -> tuple[dict[str, float], int]:
    samples, errors = [], 0
    for i in range(count):
        started = time.perf_counter()
        errors += not await call_once(i + 1)
        samples.append(time.perf_counter() - started)
    return percentiles(samples), errors


async def throughput(workers: list[Callable[[int], Awaitable[bool]]], seconds: float) -> tuple[float, int]:
    deadline = time.perf_counter() + seconds
    counts = [0] * len(workers)
    errors = 0

    async def run(index: int, call_once: Callable[[int], Awaitable[bool]]) -> None:
        nonlocal errors
        request_id = 1_000_000 * (index + 1)
        while time.perf_counter() < deadline:
            request_id += 1
            errors += not await call_once(request_id)
            counts[index] += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(i, w) for i, w in enumerate(workers)))
    return round(sum(counts) / (time.perf_counter() - started)), errors


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def bench_direct(seconds: float) -> dict[str, Any]:
    pipe, setup = await DirectPipe.start()
    try:

        async def one(request_id: int) -> bool:
            return "result" in await pipe.call("tools/call", {"name": "echo", "arguments": {"text": "x"}})

        result: dict[str, Any] = {"setup_ms": round(setup * 1000, 1)}
        result["latency"], errors = await latency(one, 3000)
        for sessions in (1, 8, 32):
            result[f"calls_per_s_{sessions}"], more = await throughput([one] * sessions, seconds)
            errors += more
        started = time.perf_counter()
        await asyncio.gather(
            *(pipe.call("tools/call", {"name": "sleep", "arguments": {"seconds": 0.1}}) for _ in range(32))
        )
        result["concurrent_32x100ms_ms"] = round((time.perf_counter() - started) * 1000, 1)
        result["errors"] = errors
        return result
    finally:
        await pipe.stop()


Session = StreamableSession | StatelessSession | SSESession


async def bench_proxy(kind: str, port: int, pid: int, seconds: float) -> dict[str, Any]:
    def new_session() -> Session:
        if kind == "streamable-http":
            return StreamableSession(port, "/echo/mcp")
        if kind == "stateless":
            return StatelessSession(port, "/echo/mcp")
        return SSESession(port, "echo")

    body_of = modern_call if kind == "stateless" else call

    def caller(session: Session) -> Callable[[int], Awaitable[bool]]:
        return lambda request_id: session.call(request_id, body_of(request_id))

    result: dict[str, Any] = {}
    started = time.perf_counter()
    first = new_session()
    await first.open()
    result["session_setup_ms"] = round((time.perf_counter() - started) * 1000, 2)
    result["latency"], errors = await latency(caller(first), 3000)
    sessions = [first]
    for count in (1, 8, 32):
        while len(sessions) < count:
            session = new_session()
            await session.open()
            sessions.append(session)
        workers = [caller(session) for session in sessions[:count]]
        result[f"calls_per_s_{count}"], more = await throughput(workers, seconds)
        errors += more
    # 32 concurrent 100 ms calls on one session: one connection per in-flight request.
    connections = [await Connection.open("127.0.0.1", port) for _ in range(32)]
    begin = time.perf_counter()
    oks = await asyncio.gather(
        *(
            first.call(90_000 + n, body_of(90_000 + n, tool="sleep", seconds=0.1), c)
            for n, c in enumerate(connections)
        )
    )
    result["concurrent_32x100ms_ms"] = round((time.perf_counter() - begin) * 1000, 1)
    errors += oks.count(False)
    for connection in connections:
        connection.close()
    while len(sessions) < 100:
        session = new_session()
        await session.open()
        sessions.append(session)
    result["rss_mb_100_sessions"] = rss_mb(pid)
    for session in sessions:
        session.close()
    result["errors"] = errors
    return result


async def measure(seconds: float, config: Path, port: int) -> dict[str, Any]:
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "direct": await bench_direct(seconds),
    }
    started = time.perf_counter()
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcp_central", "serve", "--config", str(config), "--log-level", "warning"
    )
    try:
        await wait_ready(port)
        report["proxy_setup_ms"] = round((time.perf_counter() - started) * 1000, 1)
        report["proxy_idle_rss_mb"] = rss_mb(proxy.pid)
        for kind in ("streamable-http", "stateless", "sse"):
            report[kind] = await bench_proxy(kind, port, proxy.pid, seconds)
    finally:
        proxy.terminate()
        await asyncio.wait_for(proxy.wait(), 20)
    return report


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid`` has used, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


@dataclass
class SessionLoad:
    """What ``session_load`` measured, with its sessions still open for more (closed by ``close``)."""

    sessions: list[StreamableSession]
    workers: list[Callable[[int], Awaitable[bool]]]
    calls_per_s: float
    errors: int
    cpu_us_per_call: float

    def close(self) -> None:
        for session in self.sessions:
            session.close()


async def session_load(port: int, pid: int, sessions: int, seconds: float) -> SessionLoad:
    """``sessions`` streamable-HTTP sessions on ``/echo/mcp`` calling without pause: 1 s of warm-up,
    then calls/s and process ``pid``'s own CPU time per call over ``seconds``."""
    opened = [StreamableSession(port, "/echo/mcp") for _ in range(sessions)]
    for session in opened:
        await session.open()

    def caller(session: StreamableSession) -> Callable[[int], Awaitable[bool]]:
        return lambda request_id: session.call(request_id, call(request_id))

    workers = [caller(session) for session in opened]
    await throughput(workers, 1.0)  # warm-up
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    rate, errors = await throughput(workers, seconds)
    cpu = cpu_seconds(pid) - cpu_before
    calls = rate * (time.perf_counter() - started)
    return SessionLoad(opened, workers, rate, errors, round(cpu / calls * 1e6, 1))


def bench_main(
    description: str, measure: Callable[[Path, int, argparse.Namespace], Any], *options: Any
) -> None:
    """The command line every bench shares: ``--duration``, ``--json`` and ``options`` (argparse
    ``add_argument`` argument tuples); uvloop when installed; a temporary config serving the echo
    upstream on a free loopback port; the report printed as JSON (and written to ``--json``)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured step")
    parser.add_argument("--json", help="also write the results to this file")
    for args, kwargs in options:
        parser.add_argument(*args, **kwargs)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.json"
        config.write_text(json.dumps({
            # Every bench session comes from one address: lift the per-client cap (default 100).
            "mcpProxy": {"addr": f"127.0.0.1:{port}", "options": {"maxSessionsPerClient": 1000}},
            "mcpServers": {"echo": {"command": sys.executable, "args": [str(ECHO)]}},
        }))  # fmt: skip
        report = asyncio.run(measure(config, port, args))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


def main() -> None:
    bench_main(__doc__ or "", lambda config, port, args: measure(args.duration, config, port))


if __name__ == "__main__":
    main()
