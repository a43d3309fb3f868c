"""``mcp-central check --url A --url B``: every replica checked on its own routes, directly (issue 17),
against two real ``serve`` processes; a replica that is down fails the check and is named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import CLI, FIXTURE_SERVER, free_port, running_gateway

CONFIG = {
    "mcpProxy": {"addr": "127.0.0.1:9090", "name": "replica", "options": {"logEnabled": False}},
    "mcpServers": {
        "fixture": {"command": sys.executable, "args": [str(FIXTURE_SERVER), "--transport", "stdio"]},
    },
}


def check(*urls: str) -> subprocess.CompletedProcess[str]:
    argv = [*CLI, "check", "--server", "fixture", "--format", "json", "--timeout", "30"]
    for url in urls:
        argv += ["--url", url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_check_covers_every_replica_and_names_the_one_that_is_down(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    serve = ["serve", "--config", str(config), "--host", "127.0.0.1", "--port"]
    with running_gateway([*serve, str(ports[0])], ports[0]):
        with running_gateway([*serve, str(ports[1])], ports[1]):
            both = check(*urls)
            assert both.returncode == 0, both.stderr
            rows = json.loads(both.stdout)
            assert sorted((row["url"], row["ok"]) for row in rows) == sorted(
                (f"{url}/fixture/{leaf}", True) for url in urls for leaf in ("mcp", "sse")
            )
            assert len({row["tools"] for row in rows}) == 1
            table = subprocess.run(
                [*CLI, "check", "--server", "fixture", *(arg for url in urls for arg in ("--url", url))],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert table.returncode == 0, table.stderr
            for url in urls:  # several replicas: whole URLs in the table
                assert f"{url}/fixture/mcp" in table.stdout

        # The second replica is stopped: the first is still checked, the run fails, naming it.
        one_down = check(*urls)
        assert one_down.returncode == 1
        rows = json.loads(one_down.stdout)
        assert {(row["url"], row["ok"]) for row in rows} == {
            (f"{urls[0]}/fixture/mcp", True),
            (f"{urls[0]}/fixture/sse", True),
        }
        assert f"cannot reach the proxy at {urls[1]}" in one_down.stderr

        table = subprocess.run(
            [*CLI, "check", "--server", "fixture", "--url", urls[0], "--url", urls[0] + "/"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert table.returncode == 0, table.stderr
        assert table.stderr.count("checking 2 route(s)") == 1  # the same replica, checked once
