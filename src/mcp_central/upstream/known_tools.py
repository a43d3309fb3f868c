"""The last tool list each upstream gave this gateway, so a search-mode route can index an upstream
that is not running (``lazyStart`` not started yet, ``idleStop`` stopped) without starting it.

Lists live in memory, and those of upstreams that sleep are also kept in a small JSON file beside
the config (``<config>.tools.json``) so they survive a restart. The file is replaced atomically
(a temporary file created with the config file's mode from its first byte, flushed, renamed) and
read lazily: a gateway without search-mode routes never touches it. A missing, unreadable or
malformed file is an empty memory, never a failed start.

Must not: start or ask upstreams (callers hand it what they listed), or keep anything but tool
definitions (no arguments, results or secrets pass through here).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("mcp_central.upstream")

SUFFIX = ".tools.json"
FORMAT_VERSION = 1
NEW_FILE_MODE = 0o600
"""The file's mode when the config's cannot be read (the config came from a URL)."""


class KnownTools:
    def __init__(self, path: Path | None, like: Path | None = None) -> None:
        """``path``: the file (``None``: memory only); ``like``: the file whose mode it takes."""
        self.path = path
        self._like = like
        self._lists: dict[str, list[dict[str, Any]]] = {}
        self._loaded = path is None
        self._kept: set[str] = set()
        """Servers whose lists belong in the file (loaded from it, or remembered with ``keep``)."""

    @classmethod
    def beside(cls, config_source: str | None) -> KnownTools:
        """The store for a config read from ``config_source``: a file beside it when it is a file."""
        if config_source and os.path.isfile(config_source):
            source = Path(config_source)
            return cls(source.with_name(source.name + SUFFIX), source)
        return cls(None)

    def tools_of(self, server: str) -> list[dict[str, Any]] | None:
        """The last list ``server`` gave (as stored: copy before changing it), or ``None``."""
        self._load()
        return self._lists.get(server)

    def remember(self, server: str, tools: list[dict[str, Any]], *, keep: bool) -> None:
        """``server`` listed ``tools``; ``keep``: it may sleep, so its list goes to the file too."""
        self._load()
        changed = self._lists.get(server) != tools
        self._lists[server] = tools
        if keep and (changed or server not in self._kept):
            self._kept.add(server)
            self._write()

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        assert self.path is not None
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("known tool lists: cannot read %s (%s): starting without them", self.path, exc)
            return
        servers = data.get("servers") if isinstance(data, dict) else None
        if not isinstance(servers, dict):
            log.warning("known tool lists: %s is not a tool list file: starting without it", self.path)
            return
        for server, entry in servers.items():
            tools = entry.get("tools") if isinstance(entry, dict) else None
            if isinstance(tools, list):
                self._lists[server] = [tool for tool in tools if isinstance(tool, dict)]
                self._kept.add(server)

    def _write(self) -> None:
        """Replace the file with the kept lists. Small and written only when a sleeping upstream's
        list changes, so it is written in place on the event loop."""
        if self.path is None:
            return
        kept = {
            server: {"tools": self._lists[server]} for server in sorted(self._kept) if server in self._lists
        }
        data = orjson.dumps({"version": FORMAT_VERSION, "servers": kept}, option=orjson.OPT_INDENT_2)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            mode = self._like.stat().st_mode & 0o777 if self._like is not None else NEW_FILE_MODE
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                os.fchmod(fd, mode)  # the umask may have narrowed it at creation
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("known tool lists: cannot write %s (%s): kept in memory only", self.path, exc)
            temporary.unlink(missing_ok=True)
