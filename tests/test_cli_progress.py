"""Progress of `check` and `server add|remove --test`: a spinner line on a terminal (stderr on a
pseudo-terminal), plain lines with no control characters when piped.

The verbs run as processes against a real `mcp-central serve` (live reload on); stdout stays a pipe
so the results themselves can be compared.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from conftest import FIXTURE_SERVER, free_port, stop_process
from manage_helpers import CLI, operator_env, serving  # noqa: F401 - autouse fixture

TOKEN = "progress-token"
ENV = {"TEST_TOKEN": TOKEN}
SPINNER = re.compile(r"\r\x1b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏|/\\-] ")
"""A redrawn spinner line: carriage return, erase the line, a frame, a space."""


def write_config(path: Path, port: int, *, with_time: bool = True) -> Path:
    servers = {"fixture": {"command": sys.executable, "args": [str(FIXTURE_SERVER), "--transport", "stdio"]}}
    if with_time:
        servers["time"] = {"command": sys.executable, "args": ["-m", "mcp_server_time"]}
    document = {
        "mcpProxy": {"addr": f"127.0.0.1:{port}", "options": {"authTokens": ["${TEST_TOKEN}"]}},
        "mcpServers": servers,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def child_env() -> dict[str, str]:
    env = {**os.environ, **ENV, "TERM": "xterm"}
    env.pop("MCP_PROXY_TOKEN", None)
    env.pop("MCP_CENTRAL_CONFIG", None)
    return env


def on_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run ``mcp-central ARGS`` with stderr on a pseudo-terminal (200 columns) and stdout on a
    pipe; its exit code, stdout, and everything the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    received: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every holder of the terminal's other end has closed it
                return
            if not data:
                return
            received.append(data)

    try:
        proc = subprocess.Popen(
            [*CLI, *args], env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
        )
    finally:
        os.close(slave)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        stop_process(proc)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, out.decode(), b"".join(received).decode(errors="replace")


def piped(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=child_env(), capture_output=True, text=True, timeout=120)


def test_check_shows_a_spinner_on_a_terminal_and_plain_lines_when_piped(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port)
    base = f"http://127.0.0.1:{port}"
    with serving(config, port, ENV):
        code, out, terminal = on_terminal(["check", "--url", base, "--token", TOKEN])
        plain = piped(["check", "--url", base, "--token", TOKEN])
    assert code == 0 and plain.returncode == 0, terminal + plain.stderr

    # Same results either way: the table on stdout (latencies aside).
    def table(text: str) -> list[list[str]]:
        return [row[:2] + row[3:] for row in (line.split() for line in text.splitlines())]

    assert table(out) == table(plain.stdout) and len(table(out)) == 5
    # On the terminal: the spinner, naming what is being checked, then erased; each result stays.
    assert SPINNER.search(terminal), terminal
    assert "done, checking fixture" in terminal or "done, checking time" in terminal
    for n in range(1, 5):
        assert f"[{n}/4]" in terminal
    assert terminal.rstrip("\r\n").endswith("\x1b[2K")
    # Piped: the lines it always printed, and no control characters at all.
    assert "\x1b" not in plain.stderr and "\r" not in plain.stderr
    assert plain.stderr.splitlines()[0] == f"checking 4 route(s) at {base} …"
    assert sorted(line.split("]")[0] for line in plain.stderr.splitlines()[1:]) == [
        f"  [{n}/4" for n in range(1, 5)
    ]


def test_server_add_and_remove_test_show_a_spinner_on_a_terminal(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.json", port, with_time=False)
    url = f"http://127.0.0.1:{port}/time"
    with serving(config, port, ENV):
        code, out, terminal = on_terminal(
            ["server", "add", "time", "-c", str(config), "--command", sys.executable,
             "--arg=-m", "--arg", "mcp_server_time", "--test", "--test-timeout", "90"]
        )  # fmt: skip
        assert code == 0, terminal
        assert f"ok: {url}/mcp: 2 tool(s)" in out and f"ok: {url}/sse: 2 tool(s)" in out
        assert SPINNER.search(terminal), terminal
        assert f"waiting for {url}/mcp" in terminal and f"waiting for {url}/sse" in terminal
        assert f"testing {url}/mcp (up to 90 s) …" in terminal

        code, out, terminal = on_terminal(
            ["server", "remove", "time", "-c", str(config), "--test", "--test-timeout", "90"]
        )
        assert code == 0, terminal
        assert f"ok: {url}/mcp is gone (404)" in out
        assert SPINNER.search(terminal) and f"waiting for {url}/mcp to go" in terminal

        plain = piped(["server", "add", "time", "-c", str(config), "--command", sys.executable,
                       "--arg=-m", "--arg", "mcp_server_time", "--test", "--test-timeout", "90"])  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert "\x1b" not in plain.stderr and "\r" not in plain.stderr and "waiting for" not in plain.stderr
    assert plain.stderr.count("testing ") == 2
