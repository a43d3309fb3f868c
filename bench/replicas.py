"""What replicas cost: N ``mcp-central serve`` behind HAProxy sharing sessions in Redis.

    .venv/bin/python bench/replicas.py [--duration 10] [--rounds 2] [--setups redis-3,memory-1] [--json FILE]

Each setup starts, on 127.0.0.1 with free ports: redis-server (no persistence) when the store is
Redis, N replicas of ``mcp-central serve`` on the echo upstream of bench/run.py (one config file,
``mcpProxy.options.sessionStore`` set to that Redis), and HAProxy running deploy/haproxy/haproxy.cfg
itself with only its ``bind`` address and ``server`` lines substituted (every other setting as
shipped: ``option httpclose``, so every request is its own TCP connection client → HAProxy →
replica; HTTP logging to a file). Setups, alternating their order each round:

- ``redis-3``: N=3, sessionStore Redis;  ``redis-1``: N=1, sessionStore Redis;
- ``memory-1``: N=1, sessionStore memory (the default), behind the same HAProxy;
- ``direct-1``: N=1, sessionStore memory, no HAProxy, one keep-alive connection per session (what
  bench/run.py measures): the price of the balancer and of a connection per request, for scale;
- ``redis-3-keepalive``, ``memory-1-keepalive``: as ``redis-3`` and ``memory-1`` but with the
  ``option httpclose`` line dropped and keep-alive clients: what that one setting costs.

32 sessions are opened through the balancer (``initialize`` + ``notifications/initialized``); with
N>1 each session then makes one ``tools/call`` on every replica directly, so that every replica
holds every session before measuring. After a 2 s warm-up the 32 sessions call ``echo`` back to
back for ``--duration`` seconds: calls/s, p50/p99 of those calls, CPU time per call of each part
(from ``/proc``: the replicas' ``serve`` processes; their upstreams, i.e. the echo servers and their
keepers; HAProxy; Redis; this load generator), and Redis commands during the window (``INFO
commandstats`` before and after, ``info`` itself left out). Then 1,000 sequential calls on one
session give the unloaded p50/p99. Every process is stopped by PID. Speed is written down in
bench/README.md, never asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import orjson
import redis

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import INIT, Connection, call
from run import ACCEPT, ECHO, bench_main, cpu_seconds, free_port, percentiles, wait_ready

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
SESSIONS = 32
HTTPCLOSE = "option httpclose"


@dataclass(frozen=True)
class Setup:
    replicas: int
    redis: bool
    haproxy: bool
    httpclose: bool = True
    """``False``: the shipped config without ``option httpclose``, and keep-alive clients."""


SETUPS = {
    "redis-3": Setup(3, redis=True, haproxy=True),
    "redis-1": Setup(1, redis=True, haproxy=True),
    "memory-1": Setup(1, redis=False, haproxy=True),
    "direct-1": Setup(1, redis=False, haproxy=False),
    "redis-3-keepalive": Setup(3, redis=True, haproxy=True, httpclose=False),
    "memory-1-keepalive": Setup(1, redis=False, haproxy=True, httpclose=False),
}


# --------------------------------------------------------------------------- processes


def haproxy_config(listen_port: int, replica_ports: list[int], httpclose: bool = True) -> str:
    """The shipped config with ``bind`` on ``listen_port`` and one ``server`` line per replica
    (each keeping the first server line's options); nothing else changed but, when not
    ``httpclose``, that one line."""
    out: list[str] = []
    servers_done = False
    text = HAPROXY_CFG.read_text()
    if HTTPCLOSE not in text:
        raise SystemExit(f"{HAPROXY_CFG} has no {HTTPCLOSE!r} line any more: update this bench")
    for line in text.splitlines():
        if line.strip() == HTTPCLOSE and not httpclose:
            continue
        if bind := re.match(r"^(\s*bind\s+)\S+(.*)$", line):
            out.append(f"{bind[1]}127.0.0.1:{listen_port}{bind[2]}")
        elif server := re.match(r"^(\s*server\s+)\S+\s+\S+(.*)$", line):
            if not servers_done:
                out += [
                    f"{server[1]}replica{i} 127.0.0.1:{p}{server[2]}" for i, p in enumerate(replica_ports)
                ]
                servers_done = True
        else:
            out.append(line)
    if not servers_done:
        raise SystemExit(f"{HAPROXY_CFG} has no server line")
    return "\n".join(out) + "\n"


@dataclass
class Processes:
    """What one setup started, to stop by PID."""

    replicas: list[asyncio.subprocess.Process] = field(default_factory=list)
    replica_ports: list[int] = field(default_factory=list)
    haproxy: asyncio.subprocess.Process | None = None
    redis: asyncio.subprocess.Process | None = None

    def all(self) -> list[asyncio.subprocess.Process]:
        return [p for p in (self.haproxy, *self.replicas, self.redis) if p is not None]


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (the stdio upstreams and their keepers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{current}/task"):
                children = Path(f"/proc/{current}/task/{tid}/children").read_text().split()
                found += map(int, children)
                todo += map(int, children)
    return found


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


@contextlib.asynccontextmanager
async def started(setup: str, directory: Path) -> AsyncIterator[tuple[int, Processes, redis.Redis | None]]:
    """Redis, replicas, HAProxy for ``setup``; yields the port clients use."""
    chosen = SETUPS[setup]
    count, store, balanced = chosen.replicas, chosen.redis, chosen.haproxy
    procs = Processes()
    client = None
    try:
        config: dict[str, Any] = {
            # Every bench session comes from one address: lift the per-client cap (default 100).
            "mcpProxy": {"addr": "127.0.0.1:9090", "options": {"maxSessionsPerClient": 1000}},
            "mcpServers": {"echo": {"command": sys.executable, "args": [str(ECHO)]}},
        }
        if store:
            redis_port = free_port()
            procs.redis = await asyncio.create_subprocess_exec(
                *("redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--dir", str(directory)),
                *("--save", "", "--appendonly", "no"),
                stdout=subprocess.DEVNULL,
            )
            client = redis.Redis(host="127.0.0.1", port=redis_port)
            async with asyncio.timeout(30):
                while True:
                    with contextlib.suppress(redis.ConnectionError):
                        if client.ping():
                            break
                    await asyncio.sleep(0.05)
            config["mcpProxy"]["options"]["sessionStore"] = f"redis://127.0.0.1:{redis_port}/0"
        config_path = directory / f"{setup}.json"
        config_path.write_text(json.dumps(config))
        ports = procs.replica_ports = [free_port() for _ in range(count)]
        for port in ports:
            procs.replicas.append(
                await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "mcp_central", "serve", "--config", str(config_path)),
                    *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
                )
            )
        for port in ports:
            await wait_ready(port)
        listen = ports[0]
        if balanced:
            listen = free_port()
            cfg = directory / f"{setup}-haproxy.cfg"
            cfg.write_text(haproxy_config(listen, ports, chosen.httpclose))
            with (directory / f"{setup}-haproxy.log").open("wb") as log:
                procs.haproxy = await asyncio.create_subprocess_exec(
                    "haproxy", "-db", "-f", str(cfg), stdout=log, stderr=subprocess.STDOUT
                )
            await wait_ready(listen)
        yield listen, procs, client
    finally:
        if client is not None:
            client.close()
        for proc in procs.all():
            await stop(proc)


# --------------------------------------------------------------------------- sessions


class Session:
    """A streamable-HTTP session; one connection per request when ``fresh_connections`` (what
    ``option httpclose`` makes of every request anyway), else one keep-alive connection."""

    def __init__(self, port: int, fresh_connections: bool) -> None:
        self.port, self.fresh = port, fresh_connections
        self.headers: dict[str, str] = {}
        self.kept: Connection | None = None

    async def request(self, body: bytes, port: int | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = self.headers or ACCEPT
        if port is not None or self.fresh:
            connection = await Connection.open("127.0.0.1", port or self.port)
            try:
                return await connection.request("POST", "/echo/mcp", body, headers)
            finally:
                connection.close()
        if self.kept is None:
            self.kept = await Connection.open("127.0.0.1", self.port)
        return await self.kept.request("POST", "/echo/mcp", body, headers)

    async def open(self) -> None:
        status, headers, _ = await self.request(orjson.dumps(INIT))
        assert status == 200, status
        self.headers = {
            **ACCEPT,
            "Mcp-Session-Id": headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        await self.request(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')

    async def call(self, request_id: int, port: int | None = None) -> bool:
        status, _, answer = await self.request(call(request_id), port)
        return status == 200 and b'"result"' in answer

    def close(self) -> None:
        if self.kept is not None:
            self.kept.close()


async def load(sessions: list[Session], seconds: float) -> tuple[int, list[float], int]:
    """Every session calling back to back until the deadline: (calls, durations, errors)."""
    deadline = time.perf_counter() + seconds
    samples: list[float] = []
    errors = 0

    async def run(index: int, session: Session) -> None:
        nonlocal errors
        request_id = 1_000_000 * (index + 1)
        while time.perf_counter() < deadline:
            request_id += 1
            begin = time.perf_counter()
            try:
                ok = await session.call(request_id)
            except (OSError, asyncio.IncompleteReadError):
                ok = False
            samples.append(time.perf_counter() - begin)
            errors += not ok

    await asyncio.gather(*(run(i, s) for i, s in enumerate(sessions)))
    return len(samples), samples, errors


def commandstats(client: redis.Redis | None) -> dict[str, int]:
    if client is None:
        return {}
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands run between two ``commandstats`` readings, by name (``info`` itself left out)."""
    return {
        name: calls - before.get(name, 0)
        for name, calls in after.items()
        if name != "info" and calls != before.get(name, 0)
    }


async def one_run(setup: str, directory: Path, seconds: float) -> dict[str, Any]:
    count, fresh = SETUPS[setup].replicas, SETUPS[setup].haproxy and SETUPS[setup].httpclose
    async with started(setup, directory) as (port, procs, client):
        idle = commandstats(client)
        sessions = [Session(port, fresh_connections=fresh) for _ in range(SESSIONS)]
        for session in sessions:
            await session.open()
        request_id = 0
        for session in sessions:  # every replica learns every session before measuring
            for replica_port in procs.replica_ports if count > 1 else []:
                request_id += 1
                assert await session.call(request_id, replica_port)
        setup_commands = delta(idle, commandstats(client))
        await load(sessions, 2.0)  # warm-up
        parts = {
            "replicas": [p.pid for p in procs.replicas],
            "upstreams": [c for p in procs.replicas for c in descendants(p.pid)],
            "haproxy": [procs.haproxy.pid] if procs.haproxy else [],
            "redis": [procs.redis.pid] if procs.redis else [],
        }
        cpu_before = {part: cpu_of(pids) for part, pids in parts.items()}
        own_before, redis_before = time.process_time(), commandstats(client)
        begin = time.perf_counter()
        calls, samples, errors = await load(sessions, seconds)
        elapsed = time.perf_counter() - begin
        own = time.process_time() - own_before
        cpu = {part: cpu_of(pids) - cpu_before[part] for part, pids in parts.items()}
        redis_after = commandstats(client)
        commands = delta(redis_before, redis_after)
        sequential: list[float] = []
        for n in range(1000):
            begin_one = time.perf_counter()
            errors += not await sessions[0].call(5_000_000 + n)
            sequential.append(time.perf_counter() - begin_one)
        for session in sessions:
            session.close()
    cpu_us = {part: round(seconds_used / calls * 1e6, 1) for part, seconds_used in cpu.items()}
    served = cpu_us["replicas"] + cpu_us["haproxy"] + cpu_us["redis"]
    return {
        "setup": setup,
        "calls_per_s": round(calls / elapsed),
        "under_load": percentiles(samples),
        "sequential": percentiles(sequential),
        "cpu_us_per_call": {
            **cpu_us,
            "replicas+haproxy+redis": round(served, 1),
            "load_generator": round(own / calls * 1e6, 1),
        },
        "redis_commands": commands,
        "redis_commands_per_call": round(sum(commands.values()) / calls, 4) if client else None,
        # Opening the 32 sessions and having each reach every replica once.
        "redis_commands_per_session_setup": round(sum(setup_commands.values()) / SESSIONS, 1)
        if client
        else None,
        "redis_commands_setup": setup_commands,
        "errors": errors,
    }


def load_average() -> list[str]:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    return Path("/proc/loadavg").read_text().split()[:3]


async def measure(seconds: float, rounds: int, only: list[str]) -> dict[str, Any]:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(rounds):
            order = only if round_number % 2 == 0 else only[::-1]
            for setup in order:
                runs.append(await one_run(setup, Path(tmp), seconds))
                print(json.dumps(runs[-1]), file=sys.stderr)
    summary = {}
    for setup in only:
        mine = [run for run in runs if run["setup"] == setup]
        summary[setup] = {
            "calls_per_s_median": median(run["calls_per_s"] for run in mine),
            "under_load_p50_us_median": median(run["under_load"]["p50_us"] for run in mine),
            "under_load_p99_us_median": median(run["under_load"]["p99_us"] for run in mine),
            "sequential_p50_us_median": median(run["sequential"]["p50_us"] for run in mine),
            "cpu_us_per_call_median": {
                part: median(run["cpu_us_per_call"][part] for run in mine)
                for part in mine[0]["cpu_us_per_call"]
            },
        }
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_after": load_average(),
        "sessions": SESSIONS,
        "duration_s": seconds,
        "runs": runs,
        "summary": summary,
    }


def main() -> None:
    bench_main(
        __doc__ or "",
        lambda config, port, args: measure(args.duration, args.rounds, args.setups.split(",")),
        (("--rounds",), {"type": int, "default": 2, "help": "rounds, alternating the setups' order"}),
        (("--setups",), {"default": ",".join(SETUPS), "help": "comma-separated, of: " + ", ".join(SETUPS)}),
    )


if __name__ == "__main__":
    main()
