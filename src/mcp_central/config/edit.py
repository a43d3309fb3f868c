"""Change a config file safely: validate the result, back up the old file, replace it atomically.

Every registry edit (``server add/remove``, ``import --config``, ``config rollback``) ends here:

1. the new text is validated with the loader; an invalid result raises ``ConfigError`` and the file
   is not touched (``${VAR}`` unset in this shell only warns: the proxy's environment may set it);
2. the current file is copied to ``<dir>/.mcp-central-backups/<name>.<UTC timestamp>``;
3. the new text goes to a temporary file in the same directory, is flushed to disk, and renamed
   over the old one, so a reader (or the proxy's reload) sees the old file or the new, never half.

Backups are written the same way (temporary file, fsync, rename), so a full disk or a kill leaves
no backup cut short under a backup's name. Every file is created with its final mode from the
first byte (``os.open`` with the mode): the original's for backups and replacements, 0600 for a
new config, since a config usually holds tokens. ``rollback`` without an ID passes over backups
that are not valid configs and says which.

A failure at any step leaves the config byte-for-byte as it was. This module does file I/O only;
it knows nothing of servers or the network.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mcp_central.config import atomic
from mcp_central.config.loader import load_config_text
from mcp_central.errors import ConfigError, ConfigProblem

BACKUP_DIR = ".mcp-central-backups"
KEEP_BACKUPS = 50
"""Older backups of one config are pruned past this many (each edit adds one)."""
_STAMP = "%Y%m%dT%H%M%S.%fZ"
NEW_CONFIG_MODE = 0o600
"""Mode of a config this module creates: it will usually hold tokens."""
BACKUP_DIR_MODE = 0o700
STALE_PARTIAL_SECONDS = 3600.0
"""A backup's temporary file older than this was left by a killed edit, and is removed."""
_PARTIAL = ".partial"


@dataclass(frozen=True)
class Backup:
    id: str
    """The UTC timestamp in the file name, e.g. ``20250923T101500.123456Z``; ``config rollback ID``."""
    path: Path
    created: datetime
    size: int


@dataclass(frozen=True)
class Rollback:
    restored: Backup
    saved: Backup | None
    """The backup of the file the rollback replaced (so a rollback can itself be rolled back)."""
    skipped: list[tuple[Backup, str]] = field(default_factory=list)
    """Newer backups passed over because they are not valid configs, each with the reason."""


class _CutShort(OSError):
    """Writing the config in place failed midway: the file may now be truncated."""


class ConfigCutShort(ConfigError):
    """The config was changed, but not completely: unlike other ``ConfigError``s from an edit, this
    one does not mean "nothing changed". The message says which backup restores it."""


def problem(path: Path | str, message: str, key: str = "") -> ConfigError:
    return ConfigError([ConfigProblem(str(path), key, message)])


def read_text(path: Path) -> str | None:
    """The file's text, ``None`` if it does not exist; ``ConfigError`` if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise problem(path, f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise problem(path, f"not UTF-8 text: {exc}") from None


def validate_text(text: str, source: str) -> list[str]:
    """Raise ``ConfigError`` unless ``text`` is a valid config; return warnings.

    A ``${VAR}`` unset here is a warning, not an error, and so is any problem at the key it
    feeds: the proxy runs with its own environment (the seed sets ``MCP_PROXY_TOKEN`` in compose).
    """
    try:
        load_config_text(text, source)
    except ConfigError as exc:
        unset = [p for p in exc.problems if p.message.startswith("environment variable ")]
        unset_paths = [p.path for p in unset]

        def related(path: str) -> bool:
            return any(path.startswith(u) or u.startswith(path) for u in unset_paths if path)

        errors = [p for p in exc.problems if p not in unset and not related(p.path)]
        if errors:
            raise ConfigError(errors) from None
        return [str(p) for p in unset]
    return []


def write_config(path: Path, new_text: str, expected_old: str | None) -> tuple[Backup | None, list[str]]:
    """Validate ``new_text``, back up ``path``, replace it; return the backup and any warnings.

    ``expected_old`` is the text the edit was computed from (``None``: the file did not exist);
    if the file changed meanwhile the write is refused rather than losing the other change.
    """
    warnings = validate_text(new_text, str(path))
    target = _resolve(path)
    current = read_text(target)
    if current != expected_old:
        raise problem(path, "the file changed while this edit was prepared; nothing was written, try again")
    if not target.parent.is_dir():
        raise problem(path, f"directory {target.parent} does not exist")
    backup = _backup(target, current) if current is not None else None
    try:
        _atomic_write(target, new_text)
    except _CutShort as exc:
        undo = f"`mcp-central config rollback {backup.id}`" if backup else "a copy"
        message = f"rewriting the file in place failed midway ({exc.strerror or exc}); restore it with {undo}"
        raise ConfigCutShort([ConfigProblem(str(path), "", message)]) from None
    except OSError as exc:
        if backup is not None:
            with contextlib.suppress(OSError):
                backup.path.unlink()
        raise problem(path, f"cannot write the file: {exc.strerror or exc}; nothing changed") from None
    _prune(target)
    return backup, warnings


def backups(path: Path) -> list[Backup]:
    """Backups of ``path``, newest first."""
    target = _resolve(path)
    folder = target.parent / BACKUP_DIR
    prefix = f"{target.name}."
    found = []
    with contextlib.suppress(FileNotFoundError):
        for entry in folder.iterdir():
            if not entry.name.startswith(prefix):
                continue
            stamp = entry.name[len(prefix) :]
            try:
                created = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
            except ValueError:
                continue
            found.append(Backup(stamp, entry, created, entry.stat().st_size))
    return sorted(found, key=lambda b: b.created, reverse=True)


def rollback(path: Path, backup_id: str | None = None) -> Rollback:
    """Restore a backup: the one ``backup_id`` names (a unique prefix will do), or else the newest
    that is a valid config, passing over newer ones cut short or invalid."""
    available = backups(path)
    if not available:
        raise problem(path, f"no backups (looked in {_resolve(path).parent / BACKUP_DIR})")
    if backup_id is not None:
        matches = [b for b in available if b.id == backup_id or b.id.startswith(backup_id)]
        if len(matches) != 1:
            known = ", ".join(b.id for b in available[:5])
            what = "no backup" if not matches else f"{len(matches)} backups"
            raise problem(path, f"{what} match {backup_id!r} (newest: {known})")
        text, invalid = _backup_text(matches[0])
        if invalid is not None:
            raise ConfigError(
                [ConfigProblem(str(path), "", f"backup {matches[0].id} is not a valid config"), *invalid]
            )
        saved, _ = write_config(path, text, read_text(_resolve(path)))
        return Rollback(matches[0], saved)
    skipped: list[tuple[Backup, str]] = []
    for candidate in available:
        text, invalid = _backup_text(candidate)
        if invalid is None:
            saved, _ = write_config(path, text, read_text(_resolve(path)))
            return Rollback(candidate, saved, skipped)
        skipped.append((candidate, _reason(text, invalid)))
    raise problem(path, f"none of the {len(available)} backups is a valid config (newest: {available[0].id})")


def _backup_text(backup: Backup) -> tuple[str, list[ConfigProblem] | None]:
    """A backup's text, and its problems if it is not a valid config (``None`` if it is)."""
    try:
        text = read_text(backup.path)
    except ConfigError as exc:
        return "", exc.problems
    if text is None:
        return "", [ConfigProblem(str(backup.path), "", "the backup disappeared")]
    try:
        validate_text(text, str(backup.path))
    except ConfigError as exc:
        return text, exc.problems
    return text, None


def _reason(text: str, problems: list[ConfigProblem]) -> str:
    if not text.strip():
        return "it is empty (a write cut short?)"
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first.path + ': ' if first.path else ''}{first.message}{more}"


def _resolve(path: Path) -> Path:
    # Edit the file a symlink points to: replacing the link itself would detach it.
    return path.resolve() if path.is_symlink() else path


def _backup(target: Path, text: str) -> Backup:
    """Copy ``text`` (the current config) to a new backup, complete or not at all."""
    folder = target.parent / BACKUP_DIR
    data = text.encode()
    tmp = folder / f".{target.name}.{secrets.token_hex(6)}{_PARTIAL}"
    try:
        folder.mkdir(mode=BACKUP_DIR_MODE, exist_ok=True)
        atomic.write_new(tmp, data, _mode_of(target))
        now = datetime.now(UTC)
        while (folder / f"{target.name}.{now.strftime(_STAMP)}").exists():  # same microsecond
            now += timedelta(microseconds=1)
        stamp = now.strftime(_STAMP)
        backup = folder / f"{target.name}.{stamp}"
        os.replace(tmp, backup)
        atomic.fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise problem(
            target, f"cannot write a backup in {folder}: {exc.strerror or exc}; nothing changed"
        ) from None
    return Backup(stamp, backup, now, len(data))


def _atomic_write(target: Path, text: str) -> None:
    data = text.encode()
    mode = _mode_of(target) if target.exists() else NEW_CONFIG_MODE
    tmp = atomic.temporary_beside(target)
    try:
        atomic.write_new(tmp, data, mode)
        try:
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            # A file bind-mounted on its own (docker -v ./config.json:/config/config.json) cannot
            # be renamed over; write it in place instead, which is not atomic but is all we can do.
            try:
                fd = os.open(target, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
                try:
                    atomic.write_all(fd, data)
                finally:
                    os.close(fd)
            except OSError as in_place:
                raise _CutShort(in_place.errno, in_place.strerror) from None
            tmp.unlink()
        atomic.fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _prune(target: Path) -> None:
    for old in backups(target)[KEEP_BACKUPS:]:
        with contextlib.suppress(OSError):
            old.path.unlink()
    # Temporary files of backups whose writer was killed (kill -9, power loss) before the rename.
    folder = target.parent / BACKUP_DIR
    with contextlib.suppress(OSError):
        for partial in folder.glob(f".{target.name}.*{_PARTIAL}"):
            with contextlib.suppress(OSError):
                if time.time() - partial.stat().st_mtime > STALE_PARTIAL_SECONDS:
                    partial.unlink()
