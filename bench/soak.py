"""Soak: minutes of churning load on `mcp-central serve`, with an upstream killed every minute, then
the proxy's RSS, open file descriptors and child processes compared with before.

    .venv/bin/python bench/soak.py [--minutes 10] [--workers 32] [--pace-ms 20] [--json FILE]

Upstreams (stdio): `echo` and `victim` (tests/servers/echo_server.py), `fixture` (the SDK fixture
server). Workers open a session, make 200 calls, and end it (streamable HTTP with DELETE, legacy
SSE by closing the stream), over and over; a quarter of them use `victim`, whose process gets
`kill -9` every `--kill-every` seconds. Every call has a 30 s deadline: one that passes it counts
as hung. Not part of the test suite: the figures go to bench/README.md; nothing is asserted.
Everything runs on 127.0.0.1 and every process started is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import Connection, call
from run import ROOT, SSESession, StreamableSession, free_port, wait_ready

ECHO = ROOT / "tests" / "servers" / "echo_server.py"
FIXTURE = ROOT / "tests" / "servers" / "fixture_server.py"
VICTIM_MARK = "--soak-victim"
CALLS_PER_SESSION = 200
CALL_DEADLINE = 30.0


def proc_figures(pid: int) -> dict[str, Any]:
    """RSS, open fds and live (non-zombie) descendants of ``pid``, read from /proc."""
    with open(f"/proc/{pid}/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return {
        "rss_mb": round(rss_kb / 1024, 1),
        "open_fds": len(os.listdir(f"/proc/{pid}/fd")),
        "descendants": len(descendants(pid)),
    }


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def victim_pids(proxy: int) -> list[int]:
    pids = []
    for pid in descendants(proxy):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except OSError:
            continue
        if VICTIM_MARK.encode() in argv and not argv[0].endswith(b"sh"):
            pids.append(pid)
    return pids


class Tally:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.hung = 0
        self.sessions = 0


async def delete(session: StreamableSession) -> None:
    await session.connections[0].request("DELETE", session.path, b"", session.headers)


async def worker(
    index: int, port: int, route: str, sse: bool, until: float, pace: float, tally: Tally
) -> None:
    request_id = 0
    while time.monotonic() < until:
        session: StreamableSession | SSESession
        session = SSESession(port, route) if sse else StreamableSession(port, f"/{route}/mcp")
        try:
            async with asyncio.timeout(CALL_DEADLINE):
                await session.open()
            tally.sessions += 1
            for _ in range(CALLS_PER_SESSION):
                if time.monotonic() >= until:
                    break
                request_id += 1
                text = f"w{index}-{request_id}"
                try:
                    async with asyncio.timeout(CALL_DEADLINE):
                        ok = await session.call(request_id, call(request_id, text))
                except TimeoutError:
                    tally.hung += 1
                    ok = False
                tally.calls[route] += 1
                if not ok:
                    tally.errors[route] += 1
                if pace:
                    await asyncio.sleep(pace)
            if isinstance(session, StreamableSession):
                await delete(session)
        except (OSError, AssertionError, TimeoutError, asyncio.IncompleteReadError):
            tally.errors[route] += 1  # the session could not be opened (e.g. its upstream restarting)
            await asyncio.sleep(0.2)
        finally:
            session.close()


async def status(port: int) -> dict[str, Any]:
    connection = await Connection.open("127.0.0.1", port)
    _, _, body = await connection.request("GET", "/status")
    connection.close()
    return {up["name"]: up for up in orjson.loads(body)["upstreams"]}


async def soak(args: argparse.Namespace, config: Path, port: int) -> dict[str, Any]:
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcp_central", "serve", "--config", str(config), "--log-level", "warning"
    )
    try:
        await wait_ready(port)
        warm = Tally()  # one short round first, so "before" is a warmed-up process, not a cold one
        await asyncio.gather(*(
            worker(i, port, "echo", i % 4 == 3, time.monotonic() + 5, args.pace_ms / 1000, warm)
            for i in range(args.workers)
        ))  # fmt: skip
        await asyncio.sleep(2)
        before = proc_figures(proxy.pid)
        tally = Tally()
        until = time.monotonic() + args.minutes * 60
        kills = 0

        async def killer() -> None:
            nonlocal kills
            while time.monotonic() + args.kill_every < until:
                await asyncio.sleep(args.kill_every)
                for pid in victim_pids(proxy.pid):
                    os.kill(pid, signal.SIGKILL)
                    kills += 1

        routes = ["echo", "fixture", "victim", "echo"]
        started = time.monotonic()
        await asyncio.gather(
            killer(),
            *(
                worker(i, port, routes[i % 4], i % 8 == 7, until, args.pace_ms / 1000, tally)
                for i in range(args.workers)
            ),
        )
        elapsed = time.monotonic() - started
        await asyncio.sleep(5)  # ended sessions and restarted processes settle
        after = proc_figures(proxy.pid)
        upstreams = await status(port)
    finally:
        proxy.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proxy.wait(), 30)
    total = sum(tally.calls.values())
    return {
        "minutes": round(elapsed / 60, 2),
        "workers": args.workers,
        "calls": total,
        "calls_per_s": round(total / elapsed, 1),
        "sessions": tally.sessions,
        "errors_by_route": dict(tally.errors),
        "calls_by_route": dict(tally.calls),
        "hung": tally.hung,
        "victim_kills": kills,
        "victim_restarts": upstreams["victim"]["restarts"],
        "other_restarts": sum(up["restarts"] for name, up in upstreams.items() if name != "victim"),
        "before": before,
        "after": after,
        "exit_code": code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--pace-ms", type=float, default=20.0, help="pause after each call (0: flat out)")
    parser.add_argument("--kill-every", type=float, default=60.0, help="seconds between kills of 'victim'")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    port = free_port()
    restart = {"initialDelay": "500ms", "maxDelay": "5s"}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "soak.json"
        config.write_text(json.dumps({
            "mcpProxy": {"addr": f"127.0.0.1:{port}"},
            "mcpServers": {
                "echo": {"command": sys.executable, "args": [str(ECHO)]},
                "fixture": {"command": sys.executable, "args": [str(FIXTURE)]},
                "victim": {"command": sys.executable, "args": [str(ECHO), VICTIM_MARK], "restart": restart},
            },
        }))  # fmt: skip
        report = asyncio.run(soak(args, config, port))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
