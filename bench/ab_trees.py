"""Two source trees, one load: the same 32-session streamable-HTTP bench on each, paired A/B.

    git archive 1debe5e src | tar -x -C /tmp/bench-before        # the older tree, anywhere
    .venv/bin/python bench/ab_trees.py --a /tmp/bench-before/src --b src [--rounds 6] [--duration 5]

Each round starts ``mcp-central serve`` once from each tree (``PYTHONPATH`` pointing at it; the
report shows which file each run's package was imported from), alternating which goes first, on
the echo upstream of bench/run.py with the default memory session store. Each run opens 32
sessions (one keep-alive connection each), warms up for 1 s, measures calls/s for ``--duration``
seconds and the proxy process's own CPU time per call (``/proc``, the upstream excluded), then
1,000 sequential calls on one session (p50/p99). The summary gives each tree's medians and the
median, smallest and largest of each round's B - A difference: the spread is the noise. Every
process stopped by PID. Speed is written down in bench/README.md, never asserted.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from run import bench_main, latency, session_load, wait_ready

SESSIONS = 32


def imported_from(src: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(src)}
    probe = [sys.executable, "-c", "import mcp_central; print(mcp_central.__file__)"]
    return subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout.strip()


async def one_run(config: Path, port: int, seconds: float, label: str, src: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    proxy = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "mcp_central", "serve", "--config", str(config), "--log-level", "warning"),
        env=env,
    )
    try:
        await wait_ready(port)
        load = await session_load(port, proxy.pid, SESSIONS, seconds)
        sequential, more = await latency(load.workers[0], 1000)
        load.close()
        return {
            "tree": label,
            "calls_per_s": load.calls_per_s,
            "cpu_us_per_call": load.cpu_us_per_call,
            "sequential": sequential,
            "errors": load.errors + more,
        }
    finally:
        proxy.terminate()
        await asyncio.wait_for(proxy.wait(), 20)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


def load_average() -> list[str]:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    return Path("/proc/loadavg").read_text().split()[:3]


async def measure(config: Path, port: int, seconds: float, rounds: int, a: Path, b: Path) -> dict[str, Any]:
    trees = {"A": a, "B": b}
    runs: list[dict[str, Any]] = []
    for round_number in range(rounds):
        order = ("A", "B") if round_number % 2 == 0 else ("B", "A")
        for label in order:
            runs.append(await one_run(config, port, seconds, label, trees[label]))
            print(runs[-1], file=sys.stderr)
    pairs = []
    for i in range(0, len(runs), 2):
        first, second = runs[i], runs[i + 1]
        pairs.append((first, second) if first["tree"] == "A" else (second, first))
    summary: dict[str, Any] = {
        label: {
            "calls_per_s": spread([r["calls_per_s"] for r in runs if r["tree"] == label]),
            "cpu_us_per_call": spread([r["cpu_us_per_call"] for r in runs if r["tree"] == label]),
            "sequential_p50_us": spread([r["sequential"]["p50_us"] for r in runs if r["tree"] == label]),
        }
        for label in trees
    }
    summary["paired_B_minus_A"] = {
        "calls_per_s_pct": spread([(pb["calls_per_s"] / pa["calls_per_s"] - 1) * 100 for pa, pb in pairs]),
        "cpu_us_per_call": spread([pb["cpu_us_per_call"] - pa["cpu_us_per_call"] for pa, pb in pairs]),
        "cpu_per_call_pct": spread(
            [(pb["cpu_us_per_call"] / pa["cpu_us_per_call"] - 1) * 100 for pa, pb in pairs]
        ),
        "sequential_p50_us": spread(
            [pb["sequential"]["p50_us"] - pa["sequential"]["p50_us"] for pa, pb in pairs]
        ),
    }
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_after": load_average(),
        "imported_from": {label: imported_from(src) for label, src in trees.items()},
        "sessions": SESSIONS,
        "duration_s": seconds,
        "runs": runs,
        "summary": summary,
    }


def main() -> None:
    bench_main(
        __doc__ or "",
        lambda config, port, args: measure(
            config, port, args.duration, args.rounds, Path(args.a).resolve(), Path(args.b).resolve()
        ),
        (("--a",), {"required": True, "help": "the first tree's src directory (e.g. the older code)"}),
        (("--b",), {"required": True, "help": "the second tree's src directory"}),
        (("--rounds",), {"type": int, "default": 6, "help": "A/B pairs, alternating which goes first"}),
    )


if __name__ == "__main__":
    main()
