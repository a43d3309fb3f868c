"""The pin file (``pinTools``): ``<config>.pins.json`` beside the config file.

    {"version": 1, "servers": {"NAME": {
        "pinned":      {"TOOL": {"sha256": "…", "pinnedAt": 1700000000.0, "definition": {…}}},
        "quarantined": {"TOOL": {"sha256": "…", "since": 1700000000.0, "reason": "changed",
                                 "definition": {…}}}}}}

It holds the accepted definitions themselves, not only their hashes, so ``mcp-central pins diff``
can show what changed. The gateway writes it (new pins, held tools) and the operator's
``pins accept`` writes it; both read, change and write under an exclusive ``flock`` of
``<pin file>.lock``, so neither loses the other's change. Every write goes to a temporary file in
the same folder, born with the config file's mode, flushed, and renamed over the old one: a reader
sees the old file or the new, never half.

File I/O only: the decisions are in ``core.pins``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from mcp_central.config import atomic
from mcp_central.core.pins import Held, Pin, ServerRecord

SUFFIX = ".pins.json"
VERSION = 1
DEFAULT_MODE = 0o600


class PinFileError(Exception):
    """The pin file cannot be read or understood (the message names the file and the key)."""


def path_for(config_source: str | None) -> Path | None:
    """Where a config's pins live; ``None`` for a config that is not a local file (a URL, none)."""
    if not config_source or "://" in config_source or not os.path.isfile(config_source):
        return None
    return Path(config_source + SUFFIX)


def config_mode(pin_path: Path) -> int:
    """The mode of the config file the pin file belongs to (its tokens' readers may read pins)."""
    config = Path(str(pin_path)[: -len(SUFFIX)])
    try:
        return config.stat().st_mode & 0o777
    except OSError:
        return DEFAULT_MODE


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the pin file's lock (blocking) for a read-change-write."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), config_mode(path))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def read(path: Path) -> dict[str, ServerRecord]:
    """The pin file's servers (empty when there is no file yet); ``PinFileError`` if it is bad."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PinFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PinFileError(f"{path}: not JSON: {exc}") from None
    servers = raw.get("servers") if isinstance(raw, dict) else None
    if not isinstance(servers, dict):
        raise PinFileError(f"{path}: expected an object with 'servers'")
    return {str(name): _server(entry, f"{path}: servers.{name}") for name, entry in servers.items()}


def _server(entry: Any, where: str) -> ServerRecord:
    if not isinstance(entry, dict):
        raise PinFileError(f"{where}: expected an object")
    pins, held = {}, {}
    for name, pin in _entries(entry, "pinned", where):
        sha256, definition, at = _common(pin, f"{where}.pinned.{name}", "pinnedAt")
        pins[name] = Pin(sha256, definition, at)
    for name, hold in _entries(entry, "quarantined", where):
        sha256, definition, since = _common(hold, f"{where}.quarantined.{name}", "since")
        held[name] = Held(sha256, definition, since, "new" if hold.get("reason") == "new" else "changed")
    return pins, held


def _entries(entry: dict[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    value = entry.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(item, dict) for item in value.values()):
        raise PinFileError(f"{where}.{key}: expected an object of objects")
    return [(str(name), item) for name, item in value.items()]


def _common(item: dict[str, Any], where: str, stamp: str) -> tuple[str, dict[str, Any], float]:
    sha256, definition, at = item.get("sha256"), item.get("definition"), item.get(stamp, 0.0)
    if not isinstance(sha256, str) or not isinstance(definition, dict):
        raise PinFileError(f"{where}: expected 'sha256' (a string) and 'definition' (an object)")
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise PinFileError(f"{where}.{stamp}: expected seconds since the epoch")
    return sha256, definition, float(at)


def render(records: Mapping[str, ServerRecord]) -> bytes:
    """The file's text: pretty, keys sorted, so an operator can read and diff it."""
    servers = {
        name: {
            "pinned": {
                tool: {"sha256": pin.sha256, "pinnedAt": pin.at, "definition": pin.definition}
                for tool, pin in sorted(pins.items())
            },
            "quarantined": {
                tool: {
                    "sha256": held.sha256,
                    "since": held.since,
                    "reason": held.reason,
                    "definition": held.definition,
                }
                for tool, held in sorted(holds.items())
            },
        }
        for name, (pins, holds) in sorted(records.items())
    }
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    return orjson.dumps({"version": VERSION, "servers": servers}, option=options)


def write(path: Path, records: Mapping[str, ServerRecord]) -> None:
    """Replace the pin file atomically with ``records``, with the config file's mode."""
    atomic.replace(path, render(records), config_mode(path))


def fingerprint(path: Path | None) -> tuple[int, int, int] | None:
    """The file's identity (inode, size, mtime): a change means it should be read again."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
