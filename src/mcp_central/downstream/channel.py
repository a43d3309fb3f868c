"""A minimal single-consumer async queue: where a session puts messages for one open stream.

Cheaper than ``asyncio.Queue`` for the one-producer-callback, one-awaiting-handler pattern of
every forwarded request, and closable so a waiting stream ends when its session ends.

Bounded: a client that stops reading (its socket buffers full, the writer blocked) must not make
the gateway hold every message an upstream sends it. Past ``limit`` queued messages the channel
drops what it holds, closes, and calls ``on_overflow`` once: the owner ends the session with a log
line naming ``maxQueuedMessages``. Memory per stream is bounded by ``limit`` messages.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from mcp_central.config.model import DEFAULT_MAX_QUEUED_MESSAGES
from mcp_central.types import Message


class ChannelClosed(Exception):
    pass


class ChannelInterrupted(Exception):
    """The reader should stop for now (its client went away); the channel itself lives on."""


class Channel:
    __slots__ = ("_closed", "_interrupted", "_items", "_limit", "_on_overflow", "_waiter")

    def __init__(
        self, limit: int = DEFAULT_MAX_QUEUED_MESSAGES, on_overflow: Callable[[], None] | None = None
    ) -> None:
        self._items: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._interrupted = False
        self._limit = limit
        self._on_overflow = on_overflow

    def put(self, message: Message) -> None:
        if self._closed:
            return  # nobody will read it
        if len(self._items) >= self._limit:
            self._overflow()
            return
        self._items.append(message)
        self._wake()

    def _overflow(self) -> None:
        self._items.clear()
        self.close()
        callback, self._on_overflow = self._on_overflow, None
        if callback is not None:
            callback()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def interrupt(self) -> None:
        """Make the current (or next) ``get`` raise ``ChannelInterrupted`` once; messages stay queued."""
        self._interrupted = True
        self._wake()

    def clear_interrupt(self) -> None:
        self._interrupted = False

    async def get(self, timeout: float | None = None) -> Message:  # noqa: ASYNC109 (hot path: no extra scope)
        """The next message; ``TimeoutError`` after ``timeout`` seconds, ``ChannelClosed`` once closed."""
        while not self._items or self._interrupted:
            if self._interrupted:
                self._interrupted = False
                raise ChannelInterrupted
            if self._closed:
                raise ChannelClosed
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await self._waiter
                else:
                    await asyncio.wait_for(self._waiter, timeout)
            finally:
                self._waiter = None
        return self._items.popleft()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
