"""A ``mcp-central serve`` process whose log the test reads while it runs, and what tests look
for in it. Processes are stopped by PID (``conftest.stop_process``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from conftest import CLI, FIXTURE_SERVER, fixture_over_http, free_port, stop_process

PYTHON = sys.executable


def fixture_entry(name: str, **extra: Any) -> dict[str, Any]:
    """A config entry for the SDK fixture server over stdio."""
    return {"command": PYTHON, "args": [str(FIXTURE_SERVER), "--transport", "stdio", "--name", name], **extra}


def http_fixture() -> contextlib.AbstractContextManager[int]:
    """The fixture server over streamable HTTP on a free loopback port (yields the port)."""
    return fixture_over_http()


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.proc, self.log, self.port = proc, log, port
        self.url = f"http://127.0.0.1:{port}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Poll the log until ``predicate(text)`` (deadline ``timeout`` s); the text."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if predicate(text):
                return text
            assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}:\n{text}"
            assert time.monotonic() < deadline, f"no {what} in the log within {timeout} s:\n{text}"
            time.sleep(0.05)

    def stop(self) -> str:
        """Stop it (SIGTERM, by PID) and return its whole log."""
        stop_process(self.proc)
        return self.text()


@contextmanager
def serving(
    config: dict[str, Any], folder: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """``mcp-central serve --config folder/config.json ARGS`` on a free port, its stdout and stderr
    in ``folder/serve.log``, until ``/healthz`` answers and every upstream has settled (``/readyz``)."""
    port = free_port()
    proxy = config.setdefault("mcpProxy", {})
    proxy["addr"] = f"127.0.0.1:{port}"
    path = folder / "config.json"
    path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    log = folder / "serve.log"
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [*CLI, "serve", "--config", str(path), *args],
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    served = Served(proc, log, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{served.text()}"
            try:
                if httpx.get(f"{served.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"serve was not ready within 60 s:\n{served.text()}"
            time.sleep(0.05)
        yield served
    finally:
        stop_process(proc)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` parsed as one JSON object (fails on the first line that is not)."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise AssertionError(f"line {number} is not JSON: {line!r}") from exc
        assert isinstance(value, dict), f"line {number} is not an object: {line!r}"
        lines.append(value)
    return lines


def call_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("logger") == "mcp_central.calls"]
