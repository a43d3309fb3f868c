"""What observing calls costs: the same 32-session streamable-HTTP load, with observers off and on.

    .venv/bin/python bench/observer_cost.py [--duration 5] [--rounds 3] [--json FILE]

Each round starts `mcp-central serve` twice on the echo upstream of bench/run.py: once with
``MCP_CENTRAL_BENCH_NO_OBSERVERS=1`` (links stamp nothing and report no call: no metrics, no call
logs, no recent-calls ring, no audit) and once as shipped (every observer the gateway registers),
alternating which goes first. Each run opens 32 sessions, warms up for 1 s, then measures calls/s
for ``--duration`` seconds and the proxy process's own CPU time per call (utime + stime from
``/proc``, the upstream excluded), and finally scrapes ``/metrics`` once so the "on" run is known
to have counted. The summary gives each mode's medians and, steadier on a shared machine, the
median over rounds of each round's on-versus-off difference. Everything on 127.0.0.1; every
process stopped by PID. Speed is written down in bench/README.md, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import Connection
from run import bench_main, session_load, wait_ready

SESSIONS = 32


async def one_run(config: Path, port: int, seconds: float, observers: bool) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("MCP_CENTRAL_BENCH_NO_OBSERVERS", None)
    if not observers:
        env["MCP_CENTRAL_BENCH_NO_OBSERVERS"] = "1"
    proxy = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "mcp_central", "serve", "--config", str(config), "--log-level", "warning"),
        env=env,
    )
    try:
        await wait_ready(port)
        load = await session_load(port, proxy.pid, SESSIONS, seconds)
        connection = await Connection.open("127.0.0.1", port)
        status, _, body = await connection.request("GET", "/metrics")
        connection.close()
        counted = any(
            line.startswith("mcp_central_tool_calls_total") and not line.endswith(" 0.0")
            for line in body.decode().splitlines()
        )
        load.close()
        return {
            "observers": observers,
            "calls_per_s": load.calls_per_s,
            "cpu_us_per_call": load.cpu_us_per_call,
            "errors": load.errors,
            "metrics_counted_calls": status == 200 and counted,
        }
    finally:
        proxy.terminate()
        await asyncio.wait_for(proxy.wait(), 20)


async def measure(config: Path, port: int, seconds: float, rounds: int) -> dict[str, Any]:
    runs = []
    for round_number in range(rounds):
        order = (False, True) if round_number % 2 == 0 else (True, False)
        for observers in order:
            runs.append(await one_run(config, port, seconds, observers))
            print(json.dumps(runs[-1]), file=sys.stderr)
    summary: dict[str, Any] = {}
    for observers in (False, True):
        mine = [run for run in runs if run["observers"] is observers]
        summary["on" if observers else "off"] = {
            "calls_per_s_median": median(run["calls_per_s"] for run in mine),
            "cpu_us_per_call_median": median(run["cpu_us_per_call"] for run in mine),
        }
    # The machine's load drifts between rounds: compare each round's two runs with each other.
    pairs = [(runs[i], runs[i + 1]) if not runs[i]["observers"] else (runs[i + 1], runs[i])
             for i in range(0, len(runs), 2)]  # fmt: skip
    summary["paired_median_calls_per_s_change_pct"] = round(
        median((on["calls_per_s"] / off["calls_per_s"] - 1) * 100 for off, on in pairs), 1
    )
    summary["paired_median_cpu_us_per_call_added"] = round(
        median(on["cpu_us_per_call"] - off["cpu_us_per_call"] for off, on in pairs), 1
    )
    summary["paired_median_cpu_per_call_change_pct"] = round(
        median((on["cpu_us_per_call"] / off["cpu_us_per_call"] - 1) * 100 for off, on in pairs), 1
    )
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "sessions": SESSIONS,
        "duration_s": seconds,
        "runs": runs,
        "summary": summary,
    }


def main() -> None:
    bench_main(
        __doc__ or "",
        lambda config, port, args: measure(config, port, args.duration, args.rounds),
        (("--rounds",), {"type": int, "default": 3, "help": "off/on pairs, alternating which goes first"}),
    )


if __name__ == "__main__":
    main()
