"""stdio upstream transport: one child process, newline-delimited JSON on stdin/stdout.

The child runs in its own process group, started through a tiny ``sh`` keeper that gets
``PR_SET_PDEATHSIG``: when the proxy dies, even by ``kill -9``, the keeper kills the whole group,
so the server's own helpers (``npx`` → ``node``, a browser) die too. Its stderr is drained
continuously into the log (a chatty server must never block on a full pipe), and its last lines are
kept: when the process ends, ``on_close`` says how (exit status or signal) and what it last printed
there, never its arguments or environment (they may hold secrets). Lines up to
``max_line_bytes`` (``maxMessageBytes``) are read whole; a longer one is skipped — its request
answered with an error when its id can be seen — without losing the framing of the lines after it.
This module does not interpret MCP: it only frames, spawns, and reaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import sys
from collections import Counter, deque
from collections.abc import Coroutine
from typing import Any

import orjson

from mcp_central.errors import INTERNAL_ERROR, UpstreamError, UpstreamUnavailable, to_jsonrpc_error
from mcp_central.types import Message
from mcp_central.upstream.base import OnClose, OnMessage
from mcp_central.upstream.tasks import OwnedTasks

DEFAULT_MAX_LINE_BYTES = 32 * 1024 * 1024
DEFAULT_WRITE_TIMEOUT = 60.0
STOP_GRACE_SECONDS = 2.0
STDERR_TAIL_LINES = 20
STDERR_REPORTED_LINES = 5
"""How many of the last stderr lines a failure report (``lastError``, the log) quotes."""
STDERR_LINE_CHARS = 300
STDERR_SETTLE_SECONDS = 0.5
"""After stdout ends, how long to wait for the rest of stderr before reporting the exit: long enough
for a dying server's last words, bounded because a helper it left behind may hold the pipe open."""
_LEADING_ID = re.compile(rb'\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(\d+)\s*[,}]')
"""The id of a response whose serializer writes ``jsonrpc``/``id`` first (the SDKs do): enough to
answer the request behind an over-long line. Other orders leave that request to its deadline."""


_KEEPER = (
    'exec 3<&0; trap "kill -KILL 0" USR2; trap : TERM; "$0" "$@" <&3 3<&- & exec 3<&-; child=$!; '
    "while :; do wait $child; status=$?; kill -0 $child 2>/dev/null || exit $status; done"
)
"""Runs the server as its child and waits for it, passing its exit status on. Its death signal
(SIGUSR2) makes it SIGKILL its process group: the server and everything the server started. It
outlives SIGTERM, so a server stopping gracefully is waited for, not cut short; a background
command's stdin is /dev/null in sh unless given explicitly: hence fd 3."""
USE_KEEPER = sys.platform.startswith("linux") and os.path.exists("/bin/sh")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGUSR2 if USE_KEEPER else signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


class StdioTransport:
    def __init__(
        self,
        name: str,
        command: str,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    ) -> None:
        self.name = name
        self.command = command
        self.args = args
        self.env = env or {}
        self.cwd = cwd
        self.max_line_bytes = max_line_bytes
        self.dropped: Counter[str] = Counter()
        """Messages dropped here, by reason (the link shares its core's counter: ``/metrics``)."""
        self.write_timeout = write_timeout
        """How long ``send`` waits for the server to take a message off its stdin (its ``timeout``)."""
        self.last_stderr: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.process: asyncio.subprocess.Process | None = None
        self._log = logging.getLogger(f"mcp_central.upstream.{name}")
        self._tasks = OwnedTasks(self._log, "the stdio transport")
        self._closing = False
        self._close_reported = False
        self._on_message: OnMessage | None = None
        self._on_close: OnClose | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stderr_drain: asyncio.Task[None] | None = None
        self.exit_reason: str | None = None
        """How the process ended (status or signal, and its last stderr lines), once it has."""

    def describe(self) -> str:
        # The command only: arguments may carry expanded ${VAR} secrets (an --api-key=…).
        count = len(self.args)
        return f"{self.command} with {count} argument{'s' if count != 1 else ''}" if count else self.command

    def set_protocol_version(self, version: str) -> None:
        pass  # stdio carries no version header

    async def start(self, on_message: OnMessage, on_close: OnClose) -> None:
        env = {**os.environ, **self.env}
        # Found here, not by the keeper's sh, so a missing command is a clear error, not "exit 127".
        executable = shutil.which(self.command, path=env.get("PATH"))
        if executable is None:
            problem = f"cannot start '{self.command}': not found or not executable"
            raise UpstreamUnavailable(self.name, problem)
        argv = ("/bin/sh", "-c", _KEEPER, executable) if USE_KEEPER else (executable,)
        try:
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                *self.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=self.cwd,
                limit=self.max_line_bytes,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise UpstreamUnavailable(self.name, f"cannot start '{self.command}': {exc}") from exc
        self._on_message = on_message
        self._on_close = on_close
        self._reader = self._spawn(self._read_stdout(on_message))
        self._stderr_drain = self._spawn(self._drain_stderr())

    async def send(self, message: Message) -> None:
        process = self.process
        stdin = process.stdin if process is not None else None
        try:
            if stdin is None or stdin.is_closing():
                raise ConnectionError("the process is not running")
            stdin.write(orjson.dumps(message) + b"\n")
            if not stdin.transport.get_write_buffer_size():
                await stdin.drain()  # all of it is in the pipe already: no timer on the hot path
                return
            try:
                async with asyncio.timeout(self.write_timeout):
                    await stdin.drain()
            except TimeoutError:
                self._write_stalled(message, stdin)
        except (ConnectionError, RuntimeError) as exc:
            # Never raise into a caller: a request gets an error answer instead. The process is gone
            # or going: let the reader report how it ended first, so the caller learns why.
            reader = self._reader
            if reader is not None and not reader.done():
                await asyncio.wait({reader}, timeout=2 * STDERR_SETTLE_SECONDS)
            why = self.exit_reason or f"{exc}{self._stderr_tail()}"
            self._answer_error(message, f"upstream '{self.name}' cannot take messages: {why}")

    def _write_stalled(self, message: Message, stdin: asyncio.StreamWriter) -> None:
        """The server has not read its stdin for ``write_timeout``: answer the request now.

        Its bytes stay queued in order (dropping them would cut a line in half and break the
        framing of every later message), so a server that resumes still gets it. Past
        ``max_line_bytes`` queued, the server is treated as lost, so memory stays bounded and the
        supervisor restarts it."""
        queued = stdin.transport.get_write_buffer_size()
        detail = (
            f"upstream '{self.name}' did not read its input for {self.write_timeout:g}s "
            f"({queued} bytes waiting); the message may still reach it if it resumes"
        )
        self._log.warning("%s", detail)
        self._answer_error(message, detail)
        if queued > self.max_line_bytes:
            why = f"it stopped reading its input: {queued} bytes waiting, over maxMessageBytes"
            self._report_close(ConnectionError(f"upstream '{self.name}' {why}"))

    def _answer_error(self, message: Message, detail: str) -> None:
        """Answer a request the server will not answer (it never got it, or not in time)."""
        if "id" in message and "method" in message and self._on_message is not None:
            error = {"code": INTERNAL_ERROR, "message": detail}
            self._on_message({"jsonrpc": "2.0", "id": message["id"], "error": error})

    def _report_close(self, error: BaseException) -> None:
        """Tell the link once that the transport is gone (unless it is being closed on purpose)."""
        if not self._closing and not self._close_reported and self._on_close is not None:
            self._close_reported = True
            self._on_close(error)

    async def close(self) -> None:
        self._closing = True
        process = self.process
        try:
            if process is not None and process.returncode is None:
                if process.stdin is not None:
                    process.stdin.close()
                if not await self._wait(process, STOP_GRACE_SECONDS):
                    self._signal_group(process, signal.SIGTERM)
                    if not await self._wait(process, STOP_GRACE_SECONDS):
                        self._signal_group(process, signal.SIGKILL)
                        await process.wait()
        finally:
            # Also when this close is cancelled midway (a start given up on): nothing may outlive it.
            # The server is gone; its group may still hold what it started (npx → node, a browser).
            if process is not None:
                self._signal_group(process, signal.SIGKILL)
            tasks = self._tasks.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # their failures are logged as they end

    async def _read_stdout(self, on_message: OnMessage) -> None:
        assert self.process is not None
        try:
            await self._read_lines(on_message)
        except asyncio.CancelledError:
            return
        except Exception as exc:
            # Whatever broke (here or in on_message), a link whose reader is gone must not look
            # alive with every call timing out: end the transport, so the supervisor restarts it.
            self._log.error("reading the server's output failed; ending its connection", exc_info=exc)
            why = f"reading its output failed: {type(exc).__name__}: {exc}"
            self._report_close(UpstreamError(self.name, why))
            return
        if self._closing:
            return
        code = await self.process.wait()
        if self._stderr_drain is not None:
            await asyncio.wait({self._stderr_drain}, timeout=STDERR_SETTLE_SECONDS)
        self.exit_reason = f"the process {how_it_ended(code)}{self._stderr_tail()}"
        self._report_close(ConnectionError(self.exit_reason))

    async def _read_lines(self, on_message: OnMessage) -> None:
        """Hand over every message on stdout until it ends."""
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        while True:
            try:
                line = await stdout.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                line = exc.partial  # end of output: a last line without its newline, or nothing
                if not line:
                    break
            except asyncio.LimitOverrunError as exc:
                await self._skip_long_line(stdout, exc.consumed, on_message)
                continue
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                if line.strip():
                    self.dropped["malformed"] += 1
                    self._log.warning("non-JSON line on stdout ignored: %.200r", line)
                continue
            if isinstance(message, dict):
                on_message(message)
            elif isinstance(message, list):
                for item in message:
                    if isinstance(item, dict):
                        on_message(item)

    async def _skip_long_line(
        self, stdout: asyncio.StreamReader, buffered: int, on_message: OnMessage
    ) -> None:
        """Discard a line longer than ``max_line_bytes`` up to its newline, keeping its first bytes."""
        start = await stdout.read(buffered)
        size, head = len(start), start[:256]
        del start
        while True:
            try:
                size += len(await stdout.readuntil(b"\n"))
                break
            except asyncio.IncompleteReadError as exc:
                size += len(exc.partial)
                break
            except asyncio.LimitOverrunError as exc:
                size += len(await stdout.read(exc.consumed))
        limit = self.max_line_bytes
        self.dropped["over-limit"] += 1
        self._log.warning("dropped a message of %d bytes, over maxMessageBytes (%d)", size, limit)
        match = _LEADING_ID.match(head)
        if match is not None:
            detail = f"its answer was {size} bytes, more than maxMessageBytes ({self.max_line_bytes})"
            error = to_jsonrpc_error(UpstreamError(self.name, detail))
            on_message({"jsonrpc": "2.0", "id": int(match.group(1)), "error": error})

    async def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        stderr = self.process.stderr
        while True:
            try:
                line = await stderr.readline()
            except ValueError:
                continue  # an over-long stderr line: skip it, keep draining
            except asyncio.CancelledError:
                return
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            self.last_stderr.append(text)
            self._log.info("%s", text)

    def _stderr_tail(self) -> str:
        lines = [line[:STDERR_LINE_CHARS] for line in self.last_stderr if line.strip()]
        if not lines:
            return "; nothing on stderr"
        return "; last stderr: " + " | ".join(lines[-STDERR_REPORTED_LINES:])

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task this transport owns: ``close`` cancels and awaits it; a failure is logged."""
        return self._tasks.spawn(coro)

    @staticmethod
    def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    @staticmethod
    async def _wait(process: asyncio.subprocess.Process, seconds: float) -> bool:
        try:
            await asyncio.wait_for(process.wait(), seconds)
        except TimeoutError:
            return False
        return True


def how_it_ended(code: int) -> str:
    """``exited with status 3`` or ``killed by signal 9 (SIGKILL)``, from a process's return code.

    Through the keeper, a signal arrives as a shell reports it, status 128 + N: read that way, as any
    shell would (a server that exits with such a status on purpose is indistinguishable).
    """
    number = -code if code < 0 else code - 128 if USE_KEEPER and code > 128 else 0
    if number > 0:
        try:
            return f"was killed by signal {number} ({signal.Signals(number).name})"
        except ValueError:
            pass
    return f"exited with status {code}"
