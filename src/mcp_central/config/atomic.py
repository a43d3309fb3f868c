"""Writing files the gateway keeps beside its config (the config itself, its backups, the pin file,
the known tool lists): never half-written, never wider than the mode they are meant to have.

``write_new`` creates a file that did not exist (never following or reusing a link) with its mode
from the first byte and its data flushed to disk; ``replace`` does that under a temporary name and
renames it over the target, so readers see the old file or the new one, never a mix.

Must not: decide modes or paths (callers do), or log.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` and ``data``, flushed. The umask can only narrow the mode at
    creation; restoring the bits it took never exceeds ``mode``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, mode)
    try:
        if os.fstat(fd).st_mode & 0o7777 != mode:
            os.fchmod(fd, mode)
        write_all(fd, data)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def temporary_beside(target: Path) -> Path:
    return target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"


def replace(target: Path, data: bytes, mode: int) -> None:
    """Replace ``target`` with ``data`` at once (a temporary file beside it, renamed over it)."""
    tmp = temporary_beside(target)
    try:
        write_new(tmp, data, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
