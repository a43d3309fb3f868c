"""Backups and new configs never leak and are never cut short (issue 11, finding 7).

A config holding tokens is 0600; its backups must be 0600 from their first byte (a reader of
another uid got secrets from backups created under the umask and chmodded afterwards). A backup
cut short by a full disk or a kill must not be left behind under a backup's name, and the default
``config rollback`` must pass over such files.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from manage_helpers import BACKUPS, cli, operator_env, snapshot  # noqa: F401 - autouse fixture

CONFIG = '{\n  "mcpProxy": {"options": {"authTokens": ["${TOKEN:-s3cret-token}"]}},\n  "mcpServers": {}\n}\n'


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual 022: files created without an explicit mode would be world-readable."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def no_chmod(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record and ignore every chmod on a path from now on: a file must be born with its mode, not
    fixed later."""
    calls: list[str] = []

    def refuse(path: object, mode: int, *args: object, **kwargs: object) -> None:
        calls.append(f"{path} {oct(mode)}")

    monkeypatch.setattr(os, "chmod", refuse)
    return calls


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def backups_of(path: Path) -> list[Path]:
    folder = path.parent / BACKUPS
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("original", [0o600, 0o640])
def test_backups_are_born_with_the_originals_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, original: int
) -> None:
    path = tmp_path / "config.json"
    path.write_text(CONFIG)
    path.chmod(original)
    chmods = no_chmod(monkeypatch)
    for name in ("one", "two"):
        run = cli(capsys, "server", "add", name, "-c", str(path), "--command", "uvx")
        assert run.code == 0, run.err
    assert mode(path) == original
    backups = backups_of(path)
    assert len(backups) == 2 and all(mode(backup) == original for backup in backups)
    assert mode(tmp_path / BACKUPS) == 0o700
    assert chmods == []


@pytest.mark.usefixtures("permissive_umask")
def test_a_config_created_by_server_add_is_0600(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new" / "config.json"
    path.parent.mkdir()
    run = cli(capsys, "server", "add", "time", "-c", str(path), "--command", "uvx")
    assert run.code == 0, run.err
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary file left


def failing_writes(monkeypatch: pytest.MonkeyPatch, inside: Path) -> list[str]:
    """Make ``os.write`` to files under ``inside`` write part of its bytes, then fail as a full disk."""
    real_write = os.write
    failed: list[str] = []

    def write(fd: int, data: bytes | memoryview) -> int:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if not target.startswith(str(inside)):
            return real_write(fd, data)
        if failed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        failed.append(target)
        return real_write(fd, bytes(data)[: max(1, len(data) // 2)])

    monkeypatch.setattr(os, "write", write)
    return failed


def test_a_backup_cut_short_by_a_full_disk_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.json"
    path.write_text(CONFIG)
    (tmp_path / BACKUPS).mkdir()
    before = snapshot(tmp_path)
    failed = failing_writes(monkeypatch, tmp_path / BACKUPS)
    run = cli(capsys, "server", "add", "time", "-c", str(path), "--command", "uvx")
    assert failed, "the backup was not written with os.write"
    assert run.code == 1
    assert "cannot write a backup" in run.err and "No space left on device; nothing changed" in run.err
    assert snapshot(tmp_path) == before  # the config as it was, and no partial backup


def test_a_config_write_cut_short_leaves_the_config_and_no_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.json"
    path.write_text(CONFIG)
    before = snapshot(tmp_path)
    real_write = os.write

    def write(fd: int, data: bytes | memoryview) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):  # the new config's temporary file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    run = cli(capsys, "server", "add", "time", "-c", str(path), "--command", "uvx")
    assert run.code == 1 and "No space left on device; nothing changed" in run.err
    assert snapshot(tmp_path) == before


def test_an_in_place_rewrite_cut_short_points_to_the_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A config bind-mounted on its own cannot be renamed over (EBUSY): it is rewritten in place, and
    # if that fails midway the CLI must not claim "nothing changed".
    path = tmp_path / "config.json"
    path.write_text(CONFIG)
    original = path.read_bytes()
    real_replace = os.replace

    def replace(src: object, dst: object) -> None:
        if Path(str(dst)) == path:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)
    failing_writes(monkeypatch, path)
    run = cli(capsys, "server", "add", "time", "-c", str(path), "--command", "uvx")
    monkeypatch.undo()
    assert run.code == 1 and "nothing changed" not in run.err
    [backup] = backups_of(path)
    backup_id = backup.name.removeprefix("config.json.")
    assert "the config was changed but is incomplete:" in run.err
    assert "rewriting the file in place failed midway (No space left on device)" in run.err
    assert f"restore it with `mcp-central config rollback {backup_id}`" in run.err
    assert backup.read_bytes() == original and path.read_bytes() != original
    assert cli(capsys, "config", "rollback", backup_id, "-c", str(path)).code == 0
    assert path.read_bytes() == original


def test_rollback_passes_over_backups_cut_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text(CONFIG)
    original = path.read_bytes()
    assert cli(capsys, "server", "add", "one", "-c", str(path), "--command", "uvx").code == 0
    [good] = backups_of(path)
    # What a kill -9 or a full disk left with the old code: newer backups that are empty or cut short.
    empty = good.with_name("config.json.29990101T000000.000001Z")
    empty.write_text("")
    cut = good.with_name("config.json.29990101T000000.000002Z")
    cut.write_text(CONFIG[:30])
    run = cli(capsys, "config", "rollback", "-c", str(path))
    assert run.code == 0, run.err
    assert path.read_bytes() == original
    assert f"restored {path} from backup {good.name.removeprefix('config.json.')}" in run.out
    assert (
        "skipped backup 29990101T000000.000002Z: not a valid config: line 2, column 28: Unterminated"
        in run.err
    )
    assert "skipped backup 29990101T000000.000001Z: not a valid config: it is empty" in run.err

    # Named explicitly, a cut-short backup is refused, and nothing changes.
    before = snapshot(tmp_path)
    run = cli(capsys, "config", "rollback", "29990101T000000.000001Z", "-c", str(path))
    assert run.code == 1 and "backup 29990101T000000.000001Z is not a valid config" in run.err
    assert snapshot(tmp_path) == before


def test_rollback_with_no_valid_backup_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text(CONFIG)
    (tmp_path / BACKUPS).mkdir()
    (tmp_path / BACKUPS / "config.json.20250101T000000.000000Z").write_text("")
    before = snapshot(tmp_path)
    run = cli(capsys, "config", "rollback", "-c", str(path))
    assert run.code == 1 and "none of the 1 backups is a valid config" in run.err
    assert snapshot(tmp_path) == before
