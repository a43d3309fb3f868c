"""Where a session puts messages for its open streams: minimal single-consumer async queues that
share one bound per session.

Cheaper than ``asyncio.Queue`` for the one-producer-callback, one-awaiting-handler pattern of
every forwarded request, and closable so a waiting stream ends when its session ends (a closed
channel still yields what it holds, then ``ChannelClosed``).

Bounded per session: a client that stops reading (its socket buffers full, the writer blocked, or
a dropped stream it never resumes) must not make the gateway hold every message an upstream sends
it. All the channels of one session draw on one ``QueueBudget`` of ``maxQueuedMessages``; past it
the channel that was to take one more drops what it holds and closes, and the budget's owner is
told once (``on_overflow``): a session then drops every queue it has and ends, with a log line
naming ``maxQueuedMessages``. Memory per session is bounded by ``limit`` messages, however many
streams it opens. A channel given up for good is ``discard``ed, which gives its share back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from mcp_central.types import Message


class QueueBudget:
    """How many messages the channels of one owner (a session, a stateless call) hold together."""

    __slots__ = ("_on_overflow", "limit", "queued")

    def __init__(self, limit: int, on_overflow: Callable[[], None] | None = None) -> None:
        self.limit = limit
        self.queued = 0
        """Messages put and not yet taken, over all the channels drawing on this budget."""
        self._on_overflow = on_overflow

    def overflowed(self) -> None:
        """A channel found the budget spent: tell the owner, once."""
        callback, self._on_overflow = self._on_overflow, None
        if callback is not None:
            callback()


class ChannelClosed(Exception):
    pass


class ChannelInterrupted(Exception):
    """The reader should stop for now (its client went away); the channel itself lives on."""


class Channel:
    __slots__ = ("_budget", "_closed", "_interrupted", "_items", "_waiter")

    def __init__(self, budget: QueueBudget) -> None:
        self._items: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._interrupted = False
        self._budget = budget

    def put(self, message: Message) -> None:
        if self._closed:
            return  # nobody will read it
        budget = self._budget
        if budget.queued >= budget.limit:
            self.discard()
            budget.overflowed()
            return
        budget.queued += 1
        self._items.append(message)
        self._wake()

    def close(self) -> None:
        """No more messages: the reader gets what is queued, then ``ChannelClosed``."""
        self._closed = True
        self._wake()

    def discard(self) -> None:
        """Close and drop what is queued (nobody will read it), giving its share of the budget back."""
        if self._items:
            self._budget.queued -= len(self._items)
            self._items.clear()
        self.close()

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
        self._budget.queued -= 1
        return self._items.popleft()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
