"""Change a config file safely: validate the result, back up the old file, replace it atomically.

Every registry edit (``server add/remove``, ``import --config``, ``config rollback``) ends here:

1. the new text is validated with the loader; an invalid result raises ``ConfigError`` and the file
   is not touched (``${VAR}`` unset in this shell only warns: the proxy's environment may set it);
2. the current file is copied to ``<dir>/.mcp-central-backups/<name>.<UTC timestamp>``;
3. the new text goes to a temporary file in the same directory, is flushed to disk, and renamed
   over the old one, so a reader (or the proxy's reload) sees the old file or the new, never half.

A failure at any step leaves the config byte-for-byte as it was. This module does file I/O only;
it knows nothing of servers or the network.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mcp_central.config.loader import load_config_text
from mcp_central.errors import ConfigError, ConfigProblem

BACKUP_DIR = ".mcp-central-backups"
KEEP_BACKUPS = 50
"""Older backups of one config are pruned past this many (each edit adds one)."""
_STAMP = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True)
class Backup:
    id: str
    """The UTC timestamp in the file name, e.g. ``20250923T101500.123456Z``; ``config rollback ID``."""
    path: Path
    created: datetime
    size: int


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


def rollback(path: Path, backup_id: str | None = None) -> tuple[Backup, Backup | None]:
    """Restore a backup (the newest when ``backup_id`` is None); return it and the backup of the
    file it replaced, so a rollback can itself be rolled back."""
    available = backups(path)
    if not available:
        raise problem(path, f"no backups (looked in {_resolve(path).parent / BACKUP_DIR})")
    if backup_id is None:
        chosen = available[0]
    else:
        matches = [b for b in available if b.id == backup_id or b.id.startswith(backup_id)]
        if len(matches) != 1:
            known = ", ".join(b.id for b in available[:5])
            what = "no backup" if not matches else f"{len(matches)} backups"
            raise problem(path, f"{what} match {backup_id!r} (newest: {known})")
        chosen = matches[0]
    text = read_text(chosen.path)
    if text is None:
        raise problem(chosen.path, "the backup disappeared")
    try:
        validate_text(text, str(chosen.path))
    except ConfigError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), "", f"backup {chosen.id} is not a valid config"), *exc.problems]
        ) from None
    saved, _ = write_config(path, text, read_text(_resolve(path)))
    return chosen, saved


def _resolve(path: Path) -> Path:
    # Edit the file a symlink points to: replacing the link itself would detach it.
    return path.resolve() if path.is_symlink() else path


def _backup(target: Path, text: str) -> Backup:
    folder = target.parent / BACKUP_DIR
    try:
        folder.mkdir(exist_ok=True)
        now = datetime.now(UTC)
        while True:
            stamp = now.strftime(_STAMP)
            backup = folder / f"{target.name}.{stamp}"
            try:
                with backup.open("x", encoding="utf-8") as out:
                    out.write(text)
                break
            except FileExistsError:  # same microsecond: step on
                now = now.replace(microsecond=(now.microsecond + 1) % 1_000_000)
        _copy_mode(target, backup)
    except OSError as exc:
        raise problem(
            target, f"cannot write a backup in {folder}: {exc.strerror or exc}; nothing changed"
        ) from None
    return Backup(stamp, backup, now, len(text.encode()))


def _atomic_write(target: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            _copy_mode(target, tmp)
        else:
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o666 & ~umask)
        try:
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            # A file bind-mounted on its own (docker -v ./config.json:/config/config.json) cannot
            # be renamed over; write it in place instead, which is not atomic but is all we can do.
            with target.open("w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            tmp.unlink()
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _copy_mode(source: Path, destination: Path) -> None:
    with contextlib.suppress(OSError):
        destination.chmod(source.stat().st_mode & 0o7777)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _prune(target: Path) -> None:
    for old in backups(target)[KEEP_BACKUPS:]:
        with contextlib.suppress(OSError):
            old.path.unlink()
