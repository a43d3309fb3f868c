"""``serve`` binds its port before it starts anything (issue 16): a port in use is one clear line
and a non-zero exit, with no upstream started; a normal start says "serving" once it listens, and
a stop is not a failure. Real ``mcp-central serve`` processes on 127.0.0.1, stopped by PID."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from conftest import CLI, free_port, stop_process, wait_for_port


def marker_config(tmp_path: Path, port: int) -> tuple[Path, Path]:
    """A config whose one stdio upstream leaves a marker file the moment it is started."""
    marker = tmp_path / "upstream-started"
    script = f"open({str(marker)!r}, 'w').write('started'); import time; time.sleep(60)"
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "mcpProxy": {"addr": f"127.0.0.1:{port}"},
                "mcpServers": {"marker": {"command": sys.executable, "args": ["-c", script]}},
            }
        )
    )
    return config, marker


def test_a_port_in_use_is_one_clear_error_and_starts_no_upstream(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config, marker = marker_config(tmp_path, port)
        done = subprocess.run(
            [*CLI, "serve", "--config", str(config)], capture_output=True, text=True, timeout=60, check=False
        )
    log = done.stdout + done.stderr
    assert done.returncode != 0, log
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert len(errors) == 1, log
    assert f"cannot listen on http://127.0.0.1:{port}" in errors[0]
    assert "in use" in errors[0]
    assert "serving" not in log
    assert "CancelledError" not in log and "Traceback" not in log, log
    assert not marker.exists(), "an upstream was started although the port could not be bound"


def test_serving_is_logged_once_listening_and_a_stop_exits_zero(tmp_path: Path) -> None:
    port = free_port()
    config, _marker = marker_config(tmp_path, port)
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            [*CLI, "serve", "--config", str(config)], stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(proc, port, "mcp-central")
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        finally:
            stop_process(proc)
        output.seek(0)
        log = output.read().decode()
    assert proc.returncode == 0, log  # SIGTERM is a shutdown, not a failure
    serving = [line for line in log.splitlines() if "serving" in line]
    assert len(serving) == 1 and f"on http://127.0.0.1:{port}/" in serving[0], log
    assert "CancelledError" not in log and "Traceback" not in log, log
