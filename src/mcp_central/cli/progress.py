"""Progress of the operator verbs that wait on the network (``check``, ``server add|remove --test``).

On a terminal, stderr gets a spinner line redrawn in place (what is being waited for, and for how
long), with the verb's permanent lines printed above it; the line is erased at the end. Piped or
redirected (not a TTY, or ``TERM=dumb``), only the permanent lines are written, exactly as they
would be without this module: scripts and logs see no control characters.

Output only: it decides nothing about checks or routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from types import TracebackType
from typing import TextIO

TICK_SECONDS = 0.1
CLEAR_LINE = "\r\x1b[2K"
UNICODE_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_FRAMES = "|/-\\"


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


class Progress:
    """``async with Progress() as progress``: ``line(text)`` for what stays, ``status(text)`` for
    the spinner's text (shown on a terminal only)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = is_terminal(self.stream)
        encoding = (getattr(self.stream, "encoding", None) or "").lower().replace("-", "")
        self.frames = UNICODE_FRAMES if encoding == "utf8" else ASCII_FRAMES
        self._text = ""
        self._frame = 0
        self._since = time.monotonic()
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Progress:
        self._since = time.monotonic()
        if self.live:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self.live and self._text:
            self._write(CLEAR_LINE)
        self._text = ""

    def line(self, text: str) -> None:
        """A line that stays (on a terminal, the spinner comes back below it on its next redraw)."""
        self._write((CLEAR_LINE if self.live and self._text else "") + text + "\n")

    def status(self, text: str) -> None:
        """What is being waited for now; the time since the start is added on each redraw."""
        self._text = text
        if self.live:
            self._draw()

    def _draw(self) -> None:
        if not self._text:
            return
        frame = self.frames[self._frame % len(self.frames)]
        elapsed = time.monotonic() - self._since
        text = f"{frame} {self._text} ({elapsed:.1f} s)"
        with contextlib.suppress(OSError, ValueError):
            width = os.get_terminal_size(self.stream.fileno()).columns
            if len(text) >= width:
                text = text[: max(width - 2, 1)] + "…"
        self._write(CLEAR_LINE + text)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self._frame += 1
            self._draw()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
