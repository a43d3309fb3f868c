"""Helpers for the operator-verb tests: run the command in-process or as a process, snapshot files,
and start `mcp-central serve` on a free loopback port (stopped by PID)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mcp_central.cli.main import main

TESTS = Path(__file__).parent
SEED_DIR = TESTS / "fixtures" / "configs"
CLI = [sys.executable, "-m", "mcp_central"]
BACKUPS = ".mcp-central-backups"


@pytest.fixture(autouse=True)
def operator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verbs read MCP_CENTRAL_CONFIG and MCP_PROXY_TOKEN: the runner's own must not leak in.
    (Autouse in every module that imports it.)"""
    monkeypatch.delenv("MCP_CENTRAL_CONFIG", raising=False)
    monkeypatch.delenv("MCP_PROXY_TOKEN", raising=False)


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Run ``mcp-central ARGS`` in this process (fast) and capture what it printed."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (backups included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def wait_until(predicate: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def serving(
    config: Path, port: int, env: dict[str, str] | None = None, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``mcp-central serve --config CONFIG --port PORT [EXTRA…]`` on 127.0.0.1 until /readyz says ready."""
    proc = subprocess.Popen(
        [*CLI, "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port), *extra],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"mcp-central serve exited with {proc.returncode}:\n{err}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "mcp-central serve was not ready within 60 s"
            time.sleep(0.05)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
