"""Replicas on loopback for tests: Redis, N ``mcp-central serve`` processes and HAProxy running
deploy/haproxy/haproxy.cfg itself (listen address and server addresses substituted, every other
setting as shipped), each started on a free port in its own temp dir and stopped by PID.

    with replicas_behind_haproxy(config, tmp_path, count=3, store=True) as cluster:
        cluster.balancer_url            # http://127.0.0.1:P, HAProxy's frontend
        cluster.replicas[0].url         # one replica, directly
        cluster.replicas[0].kill()      # kill -9
        cluster.redis_url               # redis://127.0.0.1:P/0 when store=True

``store=True`` starts redis-server and sets ``mcpProxy.options.sessionStore`` to it. ``without``
drops lines from the shipped HAProxy config (e.g. ``("option httpclose",)``) to show what a setting
is for. This module starts and stops processes only; it asserts nothing about the gateway.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conftest import free_port, running_gateway, stop_process, wait_for_port

HAPROXY_CFG = Path(__file__).parent.parent / "deploy" / "haproxy" / "haproxy.cfg"
_SERVER_LINE = re.compile(r"^(\s*server\s+)\S+\s+\S+(.*)$")
_BIND_LINE = re.compile(r"^(\s*bind\s+)\S+(.*)$")


@dataclass
class Replica:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """``kill -9``: no drain, no goodbye (the harness still reaps it by PID at the end)."""
        self.process.kill()
        self.process.wait(timeout=10)


@dataclass
class Cluster:
    replicas: list[Replica]
    balancer_url: str
    redis_url: str | None = None
    haproxy_log: Path = field(default_factory=Path)


def render_haproxy(
    template: str, listen_port: int, replica_ports: Sequence[int], *, without: Sequence[str] = ()
) -> str:
    """The shipped config on loopback: ``bind`` on ``listen_port``; the backend's ``server`` lines
    replaced by one per replica port, each keeping the first line's options; lines equal to an
    entry of ``without`` (stripped) dropped."""
    out: list[str] = []
    servers_done = False
    for line in template.splitlines():
        if line.strip() in without:
            continue
        if bind := _BIND_LINE.match(line):
            out.append(f"{bind.group(1)}127.0.0.1:{listen_port}{bind.group(2)}")
        elif server := _SERVER_LINE.match(line):
            if not servers_done:
                prefix, options = server.group(1), server.group(2)
                out += [
                    f"{prefix}replica{i + 1} 127.0.0.1:{port}{options}"
                    for i, port in enumerate(replica_ports)
                ]
                servers_done = True
        else:
            out.append(line)
    missing = [entry for entry in without if entry not in template]
    assert not missing, f"not in {HAPROXY_CFG.name}: {missing}"
    assert servers_done, f"{HAPROXY_CFG.name} has no server line"
    return "\n".join(out) + "\n"


@contextmanager
def running_redis(directory: Path) -> Iterator[str]:
    """redis-server on a free loopback port, nothing on disk; yields its ``redis://`` URL."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "redis.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(proc, port, "redis-server")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            stop_process(proc)


@contextmanager
def running_haproxy(config_text: str, directory: Path, port: int) -> Iterator[Path]:
    """HAProxy in the foreground with ``config_text`` (checked with ``haproxy -c`` first), until
    ``port`` accepts connections; yields its log file."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "haproxy.cfg"
    config.write_text(config_text)
    check = subprocess.run(["haproxy", "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, f"haproxy -c: {check.stdout}{check.stderr}"
    log_path = directory / "haproxy.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(proc, port, "haproxy")
            yield log_path
        finally:
            stop_process(proc)


@contextmanager
def replicas_behind_haproxy(
    config: dict[str, Any],
    directory: Path,
    count: int = 3,
    *,
    store: bool = False,
    without: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """``count`` replicas of ``config`` (one config file, as in deploy/compose) behind HAProxy,
    each ready (``/readyz``) before the balancer starts; with ``store``, Redis too."""
    with ExitStack() as stack:
        redis_url = None
        config = json.loads(json.dumps(config))  # the caller's dict stays as it was
        if store:
            redis_url = stack.enter_context(running_redis(directory / "redis"))
            config.setdefault("mcpProxy", {}).setdefault("options", {})["sessionStore"] = redis_url
        directory.mkdir(parents=True, exist_ok=True)
        config_path = directory / "config.json"
        config_path.write_text(json.dumps(config))
        replicas = []
        for _ in range(count):
            port = free_port()
            args = ["serve", "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port)]
            process = stack.enter_context(running_gateway(args, port, env, ready="/readyz"))
            replicas.append(Replica(port, process))
        listen = free_port()
        rendered = render_haproxy(
            HAPROXY_CFG.read_text(), listen, [r.port for r in replicas], without=without
        )
        log = stack.enter_context(running_haproxy(rendered, directory / "haproxy", listen))
        balancer = f"http://127.0.0.1:{listen}"
        assert httpx.get(f"{balancer}/readyz", timeout=10).status_code == 200
        yield Cluster(replicas, balancer, redis_url, log)
