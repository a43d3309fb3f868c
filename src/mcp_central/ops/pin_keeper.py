"""Keeps the running gateway's pinned tool definitions (``core.pins.PinBook``) and the pin file
(``config.pin_file``) in step.

Loaded once when the gateway is built, before any link lists tools. Then one task: when the book
has something new (a pin, a held tool, a release) it writes the file; when the file changes (the
operator ran ``mcp-central pins accept``; polled like the config file, ``ops.reload``) it takes
the file's pins, and the servers whose held tools they release are announced (``announce``: their
sessions hear ``notifications/tools/list_changed``). Both under the file's lock, merging rather
than overwriting, so an accept and a new pin never undo each other.

A config that is not a local file (a URL, the built-in demo) keeps its pins in memory only. A pin
file that cannot be read is logged and left alone (never overwritten) until it can be.
This module does file I/O; it decides nothing about tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from mcp_central.config import pin_file
from mcp_central.config.model import Config
from mcp_central.core.pins import PinBook

log = logging.getLogger("mcp_central.pins")

POLL_SECONDS = 0.5
"""How often the pin file's identity (inode, size, mtime) is checked for an operator's accept."""


class PinKeeper:
    def __init__(self, config: Config) -> None:
        self.book = PinBook(time.time)
        self.path = pin_file.path_for(config.source)
        self.announce: Callable[[str], None] = lambda server: None
        """Told of each server whose held tools the file's pins released (``UpstreamManager``)."""
        self._wanted = asyncio.Event()
        self._fingerprint: tuple[int, int, int] | None = None
        self._broken: str | None = None
        """Why the file could not be read last time (logged once; the file is not overwritten)."""
        if any(server.pin_tools for server in config.servers.values()) and self.path is None:
            log.warning("pinTools: the config is not a local file, so pins are kept in memory only")
        self.sync()
        self.book.on_change = self._wanted.set

    def sync(self) -> None:
        """Take the file's pins, announce what they release, and write what the book adds."""
        path = self.path
        if path is None or not (self.book.servers or path.exists()):
            return  # nobody pins and nothing was pinned: no file, and no lock file, beside the config
        with pin_file.locked(path):
            self._fingerprint = pin_file.fingerprint(path)
            try:
                records = pin_file.read(path)
            except pin_file.PinFileError as exc:
                if self._broken != str(exc):
                    log.error("pinTools: %s; the pin file is not used or written until it is fixed", exc)
                self._broken = str(exc)
                return
            if self._broken is not None:
                log.info("pinTools: %s can be read again", path)
                self._broken = None
            released = self.book.absorb(records)
            merged = self.book.merged_into(records)
            if merged != records:
                pin_file.write(path, merged)
                self._fingerprint = pin_file.fingerprint(path)
        for server in sorted(released):
            log.info("pinTools: upstream '%s': accepted definitions released its held tools", server)
            self.announce(server)

    def flush(self) -> None:
        """Write what the book has not written yet (at shutdown)."""
        if self._wanted.is_set():
            self._wanted.clear()
            try:
                self.sync()
            except OSError as exc:
                log.error("pinTools: cannot update %s: %s", self.path, exc.strerror or exc)

    async def watch(self) -> None:
        """Write the book's news and take the operator's accepts, for the gateway's lifetime."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wanted.wait()
            wanted = self._wanted.is_set()
            self._wanted.clear()
            if wanted or pin_file.fingerprint(self.path) != self._fingerprint:
                try:
                    self.sync()  # a small file, read and written under a lock held for milliseconds
                except OSError as exc:
                    log.error("pinTools: cannot update %s: %s", self.path, exc.strerror or exc)
