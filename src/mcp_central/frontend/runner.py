"""The stdio front end's driver: stdin lines in, stdout lines out, one gateway session at a time.

It carries out ``core.BridgeCore``'s commands: writes to stdout, sends through the session's
transport in the order they were decided, opens the first session (a failure ends the process:
exit status 1), and reopens lost ones with a growing delay (``RETRY_FIRST`` doubling up to
``RETRY_MAX``) for as long as the client stays; after ``wait`` seconds of it, requests held for the
new session get an error. A refused token (401/403) on reconnect ends the process too. stdin's end
closes the session (DELETE) and returns 0. It prints errors and notes to the log, never header
values, and makes no decisions about messages itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

from mcp_central.core.jsonrpc import error_response
from mcp_central.frontend.core import SESSION_LOST, BridgeCore, Command, Note, Open, ToClient, ToGateway
from mcp_central.frontend.gateway import GatewayRefused, GatewayUnreachable, Target, open_session
from mcp_central.types import Message
from mcp_central.upstream.http import HTTPTransport

RETRY_FIRST = 0.2
RETRY_MAX = 10.0
PARSE_ERROR = -32700
log = logging.getLogger("mcp_central.stdio")


class StdioFrontend:
    def __init__(self, target: Target, stdin: BinaryIO, stdout: BinaryIO, wait: float = 30.0) -> None:
        self.target = target
        self.core = BridgeCore()
        self.wait = wait
        self.error: str | None = None
        """Why the front end ended with a failure (for stderr); ``None`` after a clean end."""
        self._stdin, self._stdout = stdin, stdout
        self._transport: HTTPTransport | None = None
        self._generation = 0
        self._outbox: asyncio.Queue[tuple[int, Message]] = asyncio.Queue()
        self._done: asyncio.Future[int] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._spawn(self._send_in_order())
        # A daemon thread, not the default executor: a blocked read must not hold the exit.
        threading.Thread(target=self._read_stdin, args=(loop,), daemon=True, name="stdin").start()
        try:
            return await self._done
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._close_transport()

    # ------------------------------------------------------------------ stdin / stdout

    def _read_stdin(self, loop: asyncio.AbstractEventLoop) -> None:
        # os.read on the descriptor, not the buffered file: a daemon thread blocked in a buffered
        # read holds its lock, and the interpreter aborts at exit when it cannot take that lock.
        pending = b""
        with contextlib.suppress(RuntimeError, OSError):  # the loop closed first: nothing to tell
            while chunk := os.read(self._stdin.fileno(), 65536):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        loop.call_soon_threadsafe(self._on_line, line)
            if pending.strip():
                loop.call_soon_threadsafe(self._on_line, pending)
            loop.call_soon_threadsafe(self._finish, 0)

    def _on_line(self, line: bytes) -> None:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self._write(error_response(None, PARSE_ERROR, f"not JSON: {exc}"))
            return
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                self._carry(self.core.from_client(item))
            else:
                self._write(error_response(None, -32600, "a JSON-RPC message must be an object"))

    def _write(self, message: Message) -> None:
        try:
            self._stdout.write(orjson.dumps(message) + b"\n")
            self._stdout.flush()
        except (BrokenPipeError, ValueError):
            self._finish(0)  # the client is gone

    # ------------------------------------------------------------------ commands

    def _carry(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, ToClient):
                self._write(command.message)
            elif isinstance(command, ToGateway):
                self._outbox.put_nowait((self._generation, command.message))
            elif isinstance(command, Open):
                self._spawn(self._open_first(command.initialize))
            elif isinstance(command, Note):
                log.log(logging.WARNING if command.level == "warning" else logging.INFO, "%s", command.text)

    async def _send_in_order(self) -> None:
        while True:
            generation, message = await self._outbox.get()
            if generation == self._generation and self._transport is not None:
                await self._transport.send(message)  # starts the POST and returns: order kept

    def _on_gateway(self, message: Message) -> None:
        self._carry(self.core.from_gateway(message))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _finish(self, status: int, error: str | None = None) -> None:
        if self._done is not None and not self._done.done():
            self.error = error
            self._done.set_result(status)

    # ------------------------------------------------------------------ sessions

    async def _open_first(self, initialize: Message) -> None:
        try:
            opened = await open_session(self.target, initialize, self._on_gateway, self._lost_callback())
        except (GatewayRefused, GatewayUnreachable) as exc:
            refused = isinstance(exc, GatewayRefused)
            why = f"the gateway refused the credentials: {exc}" if refused else str(exc)
            self._write(error_response(initialize.get("id"), SESSION_LOST, f"mcp-central stdio: {why}"))
            self._finish(1, why)
            return
        self._install(opened.transport)
        self.target.kind = opened.kind  # reconnects use what worked
        log.info("connected to %s over %s", self.target.describe(), opened.kind)
        self._carry(self.core.opened(opened.response))
        for message in opened.early:
            self._on_gateway(message)

    def _lost_callback(self) -> Callable[[BaseException | None], None]:
        generation = self._generation + 1  # the one _install is about to set

        def lost(error: BaseException | None) -> None:
            if generation == self._generation:
                self._carry(self.core.lost(str(error) if error else "the gateway ended the session"))
                self._generation += 1
                self._spawn(self._reconnect())

        return lost

    def _install(self, transport: HTTPTransport) -> None:
        self._generation += 1
        self._transport = transport

    async def _reconnect(self) -> None:
        await self._close_transport()
        delay, why = RETRY_FIRST, "the gateway has not answered yet"
        loop = asyncio.get_running_loop()
        give_up = loop.call_later(self.wait, lambda: self._carry(self.core.stop_waiting(why)))
        try:
            while True:
                await asyncio.sleep(delay)
                try:
                    opened = await open_session(
                        self.target, self.core.reopen_request(), self._on_gateway, self._lost_callback()
                    )
                except GatewayRefused as exc:
                    self._finish(1, f"the gateway refused the credentials on reconnecting: {exc}")
                    return
                except GatewayUnreachable as exc:
                    why = str(exc)
                    where = self.target.describe()
                    log.info("reconnecting to %s failed: %s (next try in %.1f s)", where, why, delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                if "result" not in opened.response:
                    why = f"the new session refused initialize: {opened.response.get('error')}"
                    await opened.transport.close()
                    continue
                self._install(opened.transport)
                self._carry(self.core.reopened(opened.response))
                for message in opened.early:
                    self._on_gateway(message)
                return
        finally:
            give_up.cancel()

    async def _close_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
