"""The HTTP edge of a real ``mcp-central serve`` process, attacked with raw sockets before any
request reaches the gateway (and so before any token is checked): oversized and unfinished request
heads, heads that trickle in, connection floods, a small open-file limit; and the access log,
which must not carry whole session ids.

Limits are set small in each config so that every test stays fast.
"""

from __future__ import annotations

import json
import resource
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from conftest import ECHO_SERVER, INIT_REQUEST, free_port, stop_process, wait_for_port
from mcp_central.config.loader import load_config_text
from mcp_central.errors import ConfigError

ECHO = {"echo": {"command": sys.executable, "args": [str(ECHO_SERVER)], "timeout": 10}}
JSON_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
MiB = 1024 * 1024


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, *fragments: str, seconds: float = 10) -> str:
        """The first log line holding every fragment (fails after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while True:
            for line in self.log().splitlines():
                if all(fragment in line for fragment in fragments):
                    return line
            assert time.monotonic() < deadline, f"no log line with {fragments}:\n{self.log()}"
            time.sleep(0.05)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def status(self, field: str) -> int:
        """A ``/proc/PID/status`` figure in KiB (``VmRSS``, ``VmHWM``)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.proc.pid}/status")


@contextmanager
def serving(
    tmp_path: Path, options: dict[str, Any], open_files: tuple[int, int] | None = None
) -> Iterator[Served]:
    """``mcp-central serve`` with ``options`` in ``mcpProxy.options`` (and ``open_files`` as its
    soft and hard ``RLIMIT_NOFILE``), its log in a file; stopped by PID afterwards."""
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"mcpProxy": {"addr": f"127.0.0.1:{port}", "options": options}, "mcpServers": ECHO})
    )
    log_path = tmp_path / "serve.log"

    def limit_open_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_central", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_open_files,
        )
        try:
            wait_for_port(proc, port, "mcp-central")
            served = Served(proc, port, log_path)
            served.wait_for_log("upstream 'echo' ready")
            yield served
        finally:
            stop_process(proc)
    assert "Traceback" not in log_path.read_text(errors="replace")


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One whole HTTP response with a ``content-length`` (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed within a response body"
        body += chunk
    return int(lines[0].split()[1]), body


def until_closed(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (fails after ``seconds``)."""
    sock.settimeout(seconds)
    received = b""
    with suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def healthz(served: Served, sock: socket.socket | None = None) -> int:
    own = sock or served.connect()
    try:
        own.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return read_response(own)[0]
    finally:
        if sock is None:
            own.close()


def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


# --------------------------------------------------------------------------- the keys


def test_the_edge_keys_are_read_defaulted_and_checked() -> None:
    proxy = load_config_text('{"mcpServers": {"a": {"command": "x"}}}', "c.json").proxy
    assert (proxy.max_header_bytes, proxy.header_timeout, proxy.max_connections) == (65536, 10, 2000)
    options = '{"maxHeaderBytes": 4096, "headerTimeout": "500ms", "maxConnections": 50}'
    text = '{"mcpProxy": {"options": %s}, "mcpServers": {"a": {"command": "x"}}}' % options
    proxy = load_config_text(text, "c.json").proxy
    assert (proxy.max_header_bytes, proxy.header_timeout, proxy.max_connections) == (4096, 0.5, 50)
    bad = """{"mcpProxy": {"options": {"maxHeaderBytes": 100, "headerTimeout": "soon", "maxConnections": 0}},
              "mcpServers": {"a": {"command": "x", "options": {"maxConnections": 5}}}}"""
    with pytest.raises(ConfigError) as info:
        load_config_text(bad, "cfg.json", environ={})
    problems = "\n".join(str(problem) for problem in info.value.problems)
    for expected in (
        "cfg.json: mcpProxy.options.maxHeaderBytes: expected a whole number ≥ 1024, got 100",
        "cfg.json: mcpProxy.options.headerTimeout: expected a duration",
        "cfg.json: mcpProxy.options.maxConnections: expected a whole number ≥ 1, got 0",
        "cfg.json: mcpServers.a.options.maxConnections: is a proxy-wide option: set it in mcpProxy.options",
    ):
        assert expected in problems, problems


# --------------------------------------------------------------------------- maxHeaderBytes


def test_a_head_over_max_header_bytes_gets_431_and_the_connection_closes(tmp_path: Path) -> None:
    with serving(tmp_path, {"maxHeaderBytes": 8192}) as served:
        # a whole request whose head is too long (16 MiB got 200 before)
        with served.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            answer = until_closed(sock, 5)
        assert answer.startswith(b"HTTP/1.1 431 "), answer
        # an unfinished head: answered as soon as it passes the limit, without waiting for its end
        with served.connect() as sock:
            sock.sendall(b"GET /healthz?q=" + b"b" * 9000)
            answer = until_closed(sock, 5)
        assert answer.startswith(b"HTTP/1.1 431 "), answer
        served.wait_for_log("maxHeaderBytes 8192")

        # a head just under the limit, sent in one piece with a body 8 times as long: only the head counts
        padding = {"pad": "p" * 65536}
        body = orjson.dumps({**INIT_REQUEST, "params": {**INIT_REQUEST["params"], "_meta": padding}})
        head = (
            "POST /echo/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n"
        )
        head += "X-Pad: " + "c" * (8192 - len(head) - 7 - 4) + "\r\n\r\n"
        assert len(head) == 8192
        with served.connect() as sock:
            sock.sendall(head.encode() + body)
            status, reply = read_response(sock)
        assert status == 200, reply
        assert healthz(served) == 200


def test_huge_unfinished_heads_leave_rss_bounded(tmp_path: Path) -> None:
    with serving(tmp_path, {}) as served:  # the default maxHeaderBytes: 64 KiB
        assert healthz(served) == 200
        before = served.status("VmRSS")
        chunk = b"X-Big-" + b"a" * (MiB - 6)

        def send_unfinished_head() -> None:
            with served.connect() as sock:
                try:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    for _ in range(64):  # 64 MiB of one header line that never ends
                        sock.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return  # refused and closed by the server: what a bounded server does

        senders = [threading.Thread(target=send_unfinished_head) for _ in range(4)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=60)
            assert not sender.is_alive(), "a sender was still blocked after 60 s"
        peak = served.status("VmHWM")  # the high-water mark: a passing peak counts too
        assert peak - before < 50 * 1024, f"RSS {before} KiB before, peak {peak} KiB"
        assert healthz(served) == 200
        served.wait_for_log("maxHeaderBytes 65536")


# --------------------------------------------------------------------------- headerTimeout


def test_trickling_and_silent_connections_are_closed_after_header_timeout(tmp_path: Path) -> None:
    with serving(tmp_path, {"headerTimeout": "1s"}) as served:
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200
        trickling = [served.connect() for _ in range(20)]
        silent = served.connect()
        kept_alive = served.connect()
        assert healthz(served, kept_alive) == 200  # its next request trickles, from now on
        started = time.monotonic()
        sockets = [*trickling, silent, kept_alive]
        received: dict[socket.socket, bytes] = {sock: b"" for sock in sockets}
        closed_after: dict[socket.socket, float] = {}
        sent = 0
        try:
            while len(closed_after) < len(sockets):
                assert time.monotonic() - started < 8, f"{len(sockets) - len(closed_after)} still open"
                for sock in [*trickling, kept_alive]:
                    if sock not in closed_after and sent < len(head):
                        with suppress(BrokenPipeError, ConnectionResetError):
                            sock.send(head[sent : sent + 1])  # one byte per tenth of a second
                sent += 1
                if sent % 5 == 0:
                    assert healthz(served) == 200  # others are served meanwhile
                open_now = [sock for sock in sockets if sock not in closed_after]
                readable, _, _ = select.select(open_now, [], [], 0.1)
                for sock in readable:
                    try:
                        chunk = sock.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                    received[sock] += chunk
                    if not chunk:
                        closed_after[sock] = time.monotonic() - started
        finally:
            for sock in sockets:
                sock.close()
        assert sent < len(head), "the heads were sent whole before the timeout"
        for sock in [*trickling, kept_alive]:
            assert received[sock].startswith(b"HTTP/1.1 408 "), received[sock]
            assert 0.9 < closed_after[sock] < 3, closed_after[sock]
        assert received[silent] == b"" and closed_after[silent] < 3
        served.wait_for_log("headerTimeout 1s")


def test_a_reload_keeps_the_edge_limits_and_says_they_need_a_restart(tmp_path: Path) -> None:
    with serving(tmp_path, {"maxHeaderBytes": 8192}) as served:
        config = tmp_path / "config.json"
        changed = json.loads(config.read_text())
        changed["mcpProxy"]["options"]["maxHeaderBytes"] = 65536
        config.write_text(json.dumps(changed))
        served.wait_for_log("WARNING", "maxHeaderBytes", "only after a restart")
        with served.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            assert until_closed(sock, 5).startswith(b"HTTP/1.1 431 ")


# --------------------------------------------------------------------------- maxConnections


def test_past_max_connections_new_ones_get_503_at_once_and_the_log_says_so(tmp_path: Path) -> None:
    with serving(tmp_path, {"maxConnections": 8, "headerTimeout": "30s"}) as served:
        existing = served.connect()
        assert healthz(served, existing) == 200
        flood = [served.connect() for _ in range(7)]
        for sock in flood:
            assert healthz(served, sock) == 200  # 8 connections open, each known to the server
        refused = []
        for _ in range(20):
            sock = served.connect()
            refused.append(sock)
            started = time.monotonic()
            answer = until_closed(sock, 5)
            assert answer.startswith(b"HTTP/1.1 503 "), answer
            assert time.monotonic() - started < 2, "a refused connection waited"
        served.wait_for_log("WARNING", "connection limit reached", "maxConnections 8")
        for sock in [*flood, *refused]:
            sock.close()
        assert healthz(served, existing) == 200  # the existing client carries on
        until(lambda: healthz(served) == 200, 5, "a new connection to be served")
        existing.close()


# --------------------------------------------------------------------------- open files


def test_a_small_open_file_limit_lowers_the_cap_with_a_warning_and_floods_get_503(tmp_path: Path) -> None:
    with serving(tmp_path, {}, open_files=(256, 256)) as served:  # default maxConnections: 2000
        warning = served.wait_for_log("WARNING", "maxConnections is 2000", "open-file limit is 256")
        cap = int(warning.split("serving at most ")[1].split()[0])
        assert 0 < cap < 256
        # 300 slow connections used to exhaust the descriptors: real clients got resets, unlogged
        flood = []
        try:
            for _ in range(300):
                sock = served.connect()
                with suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                flood.append(sock)
            with served.connect() as client:
                answer = until_closed(client, 5)
            assert answer.startswith(b"HTTP/1.1 503 "), answer
            served.wait_for_log("connection limit reached", f"maxConnections {cap}")
        finally:
            for sock in flood:
                sock.close()
        until(lambda: healthz(served) == 200, 5, "a connection to be served after the flood")


def test_the_soft_open_file_limit_is_raised_to_fit_max_connections(tmp_path: Path) -> None:
    with serving(tmp_path, {"maxConnections": 1000}, open_files=(256, 8192)) as served:
        served.wait_for_log("open-file limit raised from 256 to")
        limits = Path(f"/proc/{served.proc.pid}/limits").read_text()
        soft, hard = next(line for line in limits.splitlines() if line.startswith("Max open files")).split()[
            3:5
        ]
        assert 1000 < int(soft) <= 8192 and hard == "8192", limits
        assert "serving at most" not in served.log()


# --------------------------------------------------------------------------- access log


def test_the_access_log_shows_only_a_prefix_of_session_ids(tmp_path: Path) -> None:
    with serving(tmp_path, {"logEnabled": True}) as served:
        base = f"http://127.0.0.1:{served.port}"
        with httpx.Client(timeout=10) as http, http.stream("GET", f"{base}/echo/sse") as stream:
            lines = stream.iter_lines()
            endpoint = next(line for line in lines if line.startswith("data:")).removeprefix("data:").strip()
            session_id = endpoint.split("sessionId=")[1]
            assert len(session_id) > 8
            posted = http.post(
                f"{base}{endpoint}&apikey=key-SECRET",
                content=orjson.dumps(INIT_REQUEST),
                headers=JSON_HEADERS,
            )
            assert posted.status_code == 202
            line = served.wait_for_log("POST /echo/message?")
        log = served.log()
        assert session_id not in log and "key-SECRET" not in log, log
        assert f"sessionId={session_id[:8]}…" in line and "apikey=***" in line, line
