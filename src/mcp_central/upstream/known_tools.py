"""The last tool list each upstream gave this gateway, so a search-mode route can index an upstream
that is not running (``lazyStart`` not started yet, ``idleStop`` stopped) without starting it, and
``mcp-central validate`` can check ``toolOverrides`` against the tools a server really has.

Lists are stored as the upstream gave them: its own names and definitions (after its
``toolFilter`` and held pinned tools, before ``toolOverrides``), so whoever reads a list applies
the overrides in force then, and a reload that changes them never leaves old names behind. Every
server's list is kept in memory and in a small JSON file beside the config
(``<config>.tools.json``) so it survives a restart. The file is replaced atomically (a temporary
file created with the config file's mode from its first byte, flushed, renamed), and only when a
list actually changed; it is read lazily, on the first list remembered or asked for. A missing,
unreadable or malformed file (or one an older version wrote in clients' names) is an empty
memory, never a failed start.

Must not: start or ask upstreams (callers hand it what they listed), or keep anything but tool
definitions (no arguments, results or secrets pass through here).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

from mcp_central.config import atomic

log = logging.getLogger("mcp_central.upstream")

SUFFIX = ".tools.json"
FORMAT_VERSION = 2
"""Version 1 stored some lists in the names clients saw (after ``toolOverrides``): not read."""
NEW_FILE_MODE = 0o600
"""The file's mode when the config's cannot be read (the config came from a URL)."""


class KnownTools:
    def __init__(self, path: Path | None, like: Path | None = None) -> None:
        """``path``: the file (``None``: memory only); ``like``: the file whose mode it takes."""
        self.path = path
        self._like = like
        self._lists: dict[str, list[dict[str, Any]]] = {}
        self._loaded = path is None
        self._write_failed = False

    @classmethod
    def beside(cls, config_source: str | None) -> KnownTools:
        """The store for a config read from ``config_source``: a file beside it when it is a file."""
        if config_source and os.path.isfile(config_source):
            source = Path(config_source)
            return cls(source.with_name(source.name + SUFFIX), source)
        return cls(None)

    def tools_of(self, server: str) -> list[dict[str, Any]] | None:
        """The last list ``server`` gave, in its own names (as stored: copy before changing it),
        or ``None``."""
        self._load()
        return self._lists.get(server)

    def remember(self, server: str, tools: list[dict[str, Any]]) -> None:
        """``server`` listed ``tools`` (every page, its own names); the file is written only when
        that differs from what was known."""
        self._load()
        if self._lists.get(server) == tools:
            return
        self._lists[server] = tools
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
        if isinstance(data, dict) and data.get("version") != FORMAT_VERSION:
            log.info("known tool lists: %s is from another version: starting without it", self.path)
            return
        servers = data.get("servers") if isinstance(data, dict) else None
        if not isinstance(servers, dict):
            log.warning("known tool lists: %s is not a tool list file: starting without it", self.path)
            return
        for server, entry in servers.items():
            tools = entry.get("tools") if isinstance(entry, dict) else None
            if isinstance(tools, list):
                self._lists[server] = [tool for tool in tools if isinstance(tool, dict)]

    def _write(self) -> None:
        """Replace the file with the known lists. Small and written only when an upstream's list
        changes (its first start, an upgrade, a ``list_changed`` that changed something), so it is
        written in place on the event loop."""
        if self.path is None:
            return
        kept = {server: {"tools": self._lists[server]} for server in sorted(self._lists)}
        data = orjson.dumps({"version": FORMAT_VERSION, "servers": kept}, option=orjson.OPT_INDENT_2)
        try:
            mode = self._like.stat().st_mode & 0o777 if self._like is not None else NEW_FILE_MODE
            atomic.replace(self.path, data, mode)
        except OSError as exc:
            # Once: a read-only config folder (a mounted file) would otherwise warn per server.
            level = logging.DEBUG if self._write_failed else logging.WARNING
            self._write_failed = True
            log.log(level, "known tool lists: cannot write %s (%s): kept in memory only", self.path, exc)
