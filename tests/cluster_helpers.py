"""Helpers for replicas sharing sessions: a real ``redis-server`` on loopback, and an HTTP
transport that spreads a client's requests over several replicas in turn (what a round-robin
balancer does, without one, so a test knows which replica each request reached)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2

from conftest import free_port, stop_process, wait_for_port

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisProcess:
    """``redis-server`` on 127.0.0.1:``port`` (no persistence, its own folder), stopped and started
    again at will (a Redis outage), always by its PID."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._folder = tempfile.TemporaryDirectory()
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._folder.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self._proc, self.port, "redis-server")

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None

    def close(self) -> None:
        self.stop()
        self._folder.cleanup()


@contextmanager
def redis_server(port: int | None = None) -> Iterator[int]:
    """A running ``RedisProcess`` for a ``with`` block: its port."""
    redis = RedisProcess(port)
    try:
        redis.start()
        yield redis.port
    finally:
        redis.close()


class RoundRobin(httpx2.AsyncBaseTransport):
    """Sends each request to the next of ``bases`` (``http://127.0.0.1:PORT``), whatever URL it
    names; ``reached`` records where each went."""

    def __init__(self, bases: list[str]) -> None:
        self._ports = itertools.cycle([int(base.rsplit(":", 1)[1].split("/")[0]) for base in bases])
        self._inner = httpx2.AsyncHTTPTransport()
        self.reached: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self._ports)
        self.reached.append(port)
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
