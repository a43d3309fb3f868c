"""Helpers for the operator-verb tests: run the command in-process or as a process, snapshot files,
and start `mcp-central serve` on a free loopback port (stopped by PID)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import CLI as CLI  # re-exported for the operator-verb tests
from conftest import running_gateway
from mcp_central.cli.main import main

TESTS = Path(__file__).parent
SEED_DIR = TESTS / "fixtures" / "configs"
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


def serving(
    config: Path, port: int, env: dict[str, str] | None = None, *extra: str
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """``mcp-central serve --config CONFIG --port PORT [EXTRA…]`` on 127.0.0.1 until /readyz says ready."""
    args = ["serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port), *extra]
    return running_gateway(args, port, env, ready="/readyz")
