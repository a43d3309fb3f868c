"""Benchmark: tool discovery on an aggregated route — search quality and the size of tools/list.

    .venv/bin/python bench/discovery.py [--json FILE] [--misses] [--save-tools FILE | --tools FILE]
                                        [--postgres DATABASE_URI]

Starts real MCP servers (npm's server-everything, filesystem and memory; PyPI's mcp-server-fetch,
mcp-server-time and mcp-server-git; postgres-mcp when installed and ``--postgres`` names a database)
behind one ``mcp-central serve`` process, reads the aggregated route's ``tools/list`` (``/mcp``, names
``server__tool``) with the official SDK client, then:

- recall@1 and recall@5 of ``ToolIndex`` (core/tool_index.py) over those tools for the queries in
  ``bench/discovery_queries.json`` (each written as a user would ask, with the tool expected);
- the same recall through a second ``serve`` process in search mode (``"toolDiscovery": "search"``
  on ``mcpProxy.options``), each query asked of its real ``search_tools`` meta-tool (limit 5): what
  a client gets, vocabulary and caller's catalogue included;
- the size of ``tools/list`` in bytes and estimated tokens (bytes / 4: no tokenizer is installed),
  in list mode and in search mode, both as that route sends it.

Everything runs on 127.0.0.1 in a temporary directory; every process started is stopped by PID. Not
part of the test suite: the figures are written down in bench/README.md, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

# This checkout's ranker, not the one the venv may have installed from another checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).parent))
from run import free_port, wait_ready

from mcp_central.core.tool_index import IndexedTool, ToolIndex

ROOT = Path(__file__).resolve().parent.parent

QUERIES = Path(__file__).parent / "discovery_queries.json"
NPM = ROOT / "node_modules" / "@modelcontextprotocol"
CLI = [sys.executable, "-m", "mcp_central"]

# --------------------------------------------------------------------------- the upstreams


def _git_repository(path: Path) -> None:
    """A small repository with a few commits, for mcp-server-git to serve."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@invalid",
    }
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    for number in range(3):
        (path / "notes.txt").write_text(f"note {number}\n")
        subprocess.run(["git", "-C", str(path), "add", "notes.txt"], check=True, env=env)
        subprocess.run(["git", "-C", str(path), "commit", "-qm", f"note {number}"], check=True, env=env)


def upstreams(tmp: Path, postgres_uri: str | None) -> tuple[dict[str, Any], list[str]]:
    """The config's ``mcpServers`` and a line for each server that cannot start here (and why)."""
    node = shutil.which("node")
    skipped: list[str] = []
    servers: dict[str, Any] = {}
    if node is None:
        skipped.append("everything, filesystem, memory: no `node` on PATH")
    else:
        files = tmp / "files"
        files.mkdir()
        servers["everything"] = {
            "command": node,
            "args": [str(NPM / "server-everything/dist/index.js"), "stdio"],
        }
        servers["filesystem"] = {
            "command": node,
            "args": [str(NPM / "server-filesystem/dist/index.js"), str(files)],
        }
        servers["memory"] = {
            "command": node,
            "args": [str(NPM / "server-memory/dist/index.js")],
            "env": {"MEMORY_FILE_PATH": str(tmp / "memory.jsonl")},
        }
    repository = tmp / "repo"
    _git_repository(repository)
    servers["fetch"] = {"command": sys.executable, "args": ["-m", "mcp_server_fetch"]}
    servers["time"] = {"command": sys.executable, "args": ["-m", "mcp_server_time"]}
    servers["git"] = {
        "command": sys.executable,
        "args": ["-m", "mcp_server_git", "--repository", str(repository)],
    }
    postgres_mcp = shutil.which("postgres-mcp") or shutil.which(
        "postgres-mcp", path=str(Path(sys.executable).parent)
    )
    if postgres_mcp is None:
        skipped.append(
            "postgres: postgres-mcp is not installed (it needs Python >= 3.12; this is "
            f"{sys.version_info.major}.{sys.version_info.minor})"
        )
    elif postgres_uri is None:
        skipped.append("postgres: give --postgres DATABASE_URI to include postgres-mcp")
    else:
        servers["postgres"] = {
            "command": postgres_mcp,
            "args": ["--access-mode=restricted"],
            "env": {"DATABASE_URI": postgres_uri},
        }
    for server in servers.values():
        server["required"] = True  # /readyz waits until every one has listed its tools
        server["timeout"] = "60s"
    return servers, skipped


# --------------------------------------------------------------------------- one serve process


async def route_tools(
    tmp: Path, servers: dict[str, Any], options: dict[str, Any], queries: list[str] | None = None
) -> tuple[list[dict[str, Any]], dict[str, list[str]]] | str:
    """The aggregated route's tools/list through ``mcp-central serve``, and what its ``search_tools``
    answers (the first five names) to each of ``queries``; or why serve did not start."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    port = free_port()
    config = tmp / f"discovery-{port}.json"
    config.write_text(
        json.dumps({"mcpProxy": {"addr": f"127.0.0.1:{port}", "options": options}, "mcpServers": servers})
    )
    log = tmp / f"serve-{port}.log"
    with log.open("wb") as output:
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            "serve",
            "--config",
            str(config),
            "--no-watch",
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
    try:
        ready = asyncio.create_task(wait_ready(port))
        exited = asyncio.create_task(proc.wait())
        await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():  # serve stopped first: a config it refuses
            ready.cancel()
            return log.read_text(errors="replace").strip()[-2000:]
        exited.cancel()
        await ready
        tools: list[dict[str, Any]] = []
        found: dict[str, list[str]] = {}
        async with Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp"), mode="legacy") as client:
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                tools += [
                    tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in page.tools
                ]
                cursor = page.next_cursor
                if not cursor:
                    break
            for query in queries or []:
                result = await client.call_tool("search_tools", {"query": query, "limit": 5})
                if result.is_error or result.structured_content is None:
                    raise SystemExit(f"search_tools refused {query!r}: {result.content}")
                found[query] = [tool["name"] for tool in result.structured_content["tools"]]
        return tools, found
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


# --------------------------------------------------------------------------- the measures


def list_size(tools: list[dict[str, Any]]) -> dict[str, int]:
    """The tools/list result as sent (compact JSON); tokens estimated as bytes / 4."""
    size = len(orjson.dumps({"tools": tools}))
    return {"tools": len(tools), "bytes": size, "tokens_estimated": size // 4}


Ranking = Callable[[str], list[str]]
"""The first five tool names for a query."""


def local_ranking(tools: list[dict[str, Any]]) -> Ranking:
    """``ToolIndex`` over the list-mode tools, in this process."""
    index = ToolIndex([IndexedTool(tool["name"], tool["name"].split("__")[0], tool) for tool in tools])
    return lambda query: [match.tool.name for match in index.search(query, 5)]


def recall(tools: list[dict[str, Any]], queries: list[dict[str, Any]], ranking: Ranking) -> dict[str, Any]:
    known = {tool["name"] for tool in tools}
    hits_at_1 = hits_at_5 = 0
    counted = 0
    misses: list[dict[str, Any]] = []
    unknown: list[str] = []
    for entry in queries:
        expected = entry["expected"]
        accepted = {expected, *entry.get("also", [])}  # tools that do the same job
        if expected not in known:
            unknown.append(expected)  # its server did not start here: not counted
            continue
        counted += 1
        found = ranking(entry["query"])[:5]
        ranks = [rank for rank, name in enumerate(found, 1) if name in accepted]
        hits_at_1 += ranks[:1] == [1]
        hits_at_5 += bool(ranks)
        if ranks[:1] != [1]:
            rank = ranks[0] if ranks else None
            misses.append({"query": entry["query"], "expected": expected, "rank": rank, "top": found[:3]})
    return {
        "queries": counted,
        "recall_at_1": round(hits_at_1 / counted, 3) if counted else None,
        "recall_at_5": round(hits_at_5 / counted, 3) if counted else None,
        "not_counted_unknown_tool": sorted(set(unknown)),
        "misses": misses,
    }


async def collect(
    tmp: Path, postgres_uri: str | None, saved: list[dict[str, Any]] | None, queries: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, dict[str, list[str]] | None, list[str]]:
    """The route's tools in list mode (or ``saved``); in search mode its tools/list and each query's
    ``search_tools`` answer (``None`` with ``saved``: nothing is started); skipped servers."""
    if saved is not None:
        return saved, None, None, []
    servers, skipped = upstreams(tmp, postgres_uri)
    listed = await route_tools(tmp, servers, {})
    searched = await route_tools(tmp, servers, {"toolDiscovery": "search"}, queries)
    for outcome in (listed, searched):
        if isinstance(outcome, str):
            raise SystemExit(f"mcp-central serve did not start:\n{outcome}")
    assert not isinstance(listed, str) and not isinstance(searched, str)
    return listed[0], searched[0], searched[1], skipped


def measure(args: argparse.Namespace) -> dict[str, Any]:
    written = json.loads(QUERIES.read_text())
    saved = json.loads(Path(args.tools).read_text()) if args.tools else None
    queries = [entry["query"] for part in ("queries", "held_out") for entry in written[part]]
    with tempfile.TemporaryDirectory() as tmp_name:
        tools, search_list, answers, skipped = asyncio.run(
            collect(Path(tmp_name), args.postgres, saved, queries)
        )
    if args.save_tools:
        Path(args.save_tools).write_text(json.dumps(tools, indent=1) + "\n")
    list_mode = list_size(tools)
    by_server: dict[str, int] = {}
    for tool in tools:
        by_server[tool["name"].split("__")[0]] = by_server.get(tool["name"].split("__")[0], 0) + 1
    local = local_ranking(tools)
    report: dict[str, Any] = {
        "servers": by_server,
        "not_started": skipped,
        "list_mode": list_mode,
        "recall": recall(tools, written["queries"], local),
        "recall_held_out": recall(tools, written["held_out"], local),
    }
    if search_list is not None and answers is not None:
        search_mode = list_size(search_list)
        served = answers.__getitem__
        report["search_mode"] = search_mode
        report["search_over_list"] = round(search_mode["bytes"] / list_mode["bytes"], 4)
        report["served_recall"] = recall(tools, written["queries"], served)
        report["served_recall_held_out"] = recall(tools, written["held_out"], served)
    if not args.misses:
        for key in ("recall", "recall_held_out", "served_recall", "served_recall_held_out"):
            if key in report:
                report[key].pop("misses")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--misses", action="store_true", help="list the queries whose tool was not first")
    parser.add_argument("--save-tools", help="write the collected tools/list to this file")
    parser.add_argument("--tools", help="rank over this saved tools/list instead of collecting one")
    parser.add_argument("--postgres", help="DATABASE_URI for postgres-mcp (when it is installed)")
    args = parser.parse_args()
    report = measure(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
