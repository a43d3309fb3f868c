"""`mcp-central server add|remove|list` and `config backups|rollback` on real config files.

Every refused edit must leave the directory (config and backups) byte-for-byte as it was, and
say what is wrong and where.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from manage_helpers import BACKUPS, SEED_DIR, cli, operator_env, snapshot  # noqa: F401 - autouse fixture
from mcp_central.config import jsonc
from mcp_central.config.loader import load_config

SEED = SEED_DIR / "seed_central.json"
SEED_COMMENT = "/* Enable CORS only if browser client needs it"


@pytest.fixture
def seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCP_PROXY_TOKEN", "tok")
    path = tmp_path / "config.json"
    shutil.copy(SEED, path)
    return path


def backups_of(path: Path) -> list[Path]:
    folder = path.parent / BACKUPS
    return sorted(folder.iterdir()) if folder.exists() else []


def test_add_stdio_server_keeps_comments_backs_up_and_loads(
    seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = seed.read_text()
    args = ["--command", "uvx", "--arg", "mcp-server-time", "--env", "TZ=UTC"]
    run = cli(capsys, "server", "add", "time", "-c", str(seed), *args)
    assert run.code == 0, run.err
    assert "added 'time'" in run.out
    after = seed.read_text()
    assert SEED_COMMENT in after  # the operator's comment block survives
    # Everything before the new entry is untouched, byte for byte.
    assert after.startswith(before[: before.rindex('"url": "http://mcp-fetch-bridge')])
    server = load_config(str(seed)).servers["time"]
    assert (server.command, server.args, server.env) == ("uvx", ("mcp-server-time",), {"TZ": "UTC"})
    [backup] = backups_of(seed)
    assert backup.read_text() == before


def test_add_then_remove_restores_the_file_exactly(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = seed.read_bytes()
    assert cli(capsys, "server", "add", "time", "-c", str(seed), "--command", "uvx").code == 0
    run = cli(capsys, "server", "remove", "time", "-c", str(seed))
    assert run.code == 0, run.err
    assert "removed 'time'" in run.out
    assert seed.read_bytes() == before
    assert len(backups_of(seed)) == 2


def test_remove_a_seed_server_keeps_the_rest(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "server", "remove", "--service", "fetch", "-c", str(seed)).code == 0
    config = load_config(str(seed))
    assert list(config.servers) == ["postgres", "timescaledb", "filesystem"]
    assert SEED_COMMENT in seed.read_text()


def test_seed_bridge_registration_with_port_and_auth(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The seed's `add-to-central.sh --service filesystem --port 9071 --add-auth`, as a verb."""
    cli(capsys, "server", "remove", "filesystem", "-c", str(seed))
    run = cli(
        capsys, "server", "add", "--service", "filesystem", "--port", "9071", "--add-auth", "-c", str(seed)
    )
    assert run.code == 0, run.err
    entry = jsonc.loads(seed.read_text())["mcpServers"]["filesystem"]
    assert entry == {
        "url": "http://mcp-filesystem-bridge:9071/filesystem/sse",
        "headers": {"Authorization": "Bearer ${MCP_PROXY_TOKEN}"},  # expanded by the proxy, not stored
    }
    assert load_config(str(seed)).servers["filesystem"].headers == {"Authorization": "Bearer tok"}


def test_add_remote_streamable_server_with_headers(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--url", "https://example.lan/mcp", "--transport", "http"]
    args += ["--header", "X-Api-Key: ${KEY:-k}", "--header", "X-Team=ops"]
    run = cli(capsys, "server", "add", "remote", "-c", str(seed), *args)
    assert run.code == 0, run.err
    server = load_config(str(seed)).servers["remote"]
    assert server.transport == "streamable-http"
    assert server.headers == {"X-Api-Key": "k", "X-Team": "ops"}


def test_dry_run_prints_the_diff_and_writes_nothing(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(seed.parent)
    run = cli(capsys, "server", "add", "time", "-c", str(seed), "--command", "uvx", "--dry-run")
    assert run.code == 0, run.err
    assert run.out.startswith(f"--- {seed} (now)")
    assert '+    "time": {' in run.out
    assert "nothing was written" in run.err
    assert snapshot(seed.parent) == before
    run = cli(capsys, "server", "remove", "postgres", "-c", str(seed), "--dry-run")
    assert '-    "postgres": {' in run.out
    assert snapshot(seed.parent) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["server", "add", "fetch", "--command", "uvx"],
            "mcpServers.fetch: a server with this name already exists",
        ),
        (["server", "remove", "nope"], "mcpServers.nope: no such server (configured: postgres, timescaledb"),
        (["server", "add", "bad", "--url", "not-a-url"], "mcpServers.bad.url: expected an http(s) URL"),
        (["server", "add", "bad", "--url", "ftp://x/sse"], "mcpServers.bad.url: expected an http(s) URL"),
        (["server", "add", "sse", "--command", "x"], "mcpServers.sse: 'sse' is reserved"),
        (["server", "add", "a/b", "--command", "x"], "server names may use only letters"),
        (["server", "add", "x", "--command", "c", "--env", "NOEQUALS"], "--env: expected NAME=VALUE"),
        (["server", "add", "x"], "x: say how to reach it: --command (stdio), --url, or --port"),
        (["server", "add", "x", "--command", "c", "--url", "http://a/sse"], "give either --command or --url"),
        (["server", "add", "x", "--command", "c", "--add-auth"], "are for remote servers"),
        (["server", "add", "--command", "c"], "give the server's name"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(
    seed: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    before = snapshot(seed.parent)
    run = cli(capsys, *args, "-c", str(seed))
    assert run.code == 1
    assert expected in run.err
    assert "nothing changed" in run.err
    if "mcpServers" in expected:
        assert str(seed) in run.err  # the file is named along with the key
    assert snapshot(seed.parent) == before


def test_unwritable_backup_location_refuses_the_edit(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (seed.parent / BACKUPS).write_text("a file where the backup folder should be")
    before = snapshot(seed.parent)
    run = cli(capsys, "server", "add", "time", "-c", str(seed), "--command", "uvx")
    assert run.code == 1
    assert f"cannot write a backup in {seed.parent / BACKUPS}" in run.err
    assert snapshot(seed.parent) == before


def _lock(folder: Path) -> Callable[[], None]:
    """Make ``folder`` unwritable — by mode, or for root (whom modes do not stop) as immutable."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode
    ):
        pytest.skip("root, and this file system cannot mark a folder immutable")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_directory_refuses_the_edit(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(seed.parent)
    unlock = _lock(seed.parent)
    try:
        run = cli(capsys, "server", "add", "time", "-c", str(seed), "--command", "uvx")
    finally:
        unlock()
    assert run.code == 1
    assert str(seed) in run.err
    assert snapshot(seed.parent) == before


def test_a_directory_given_as_config_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "server", "add", "time", "-c", str(tmp_path), "--command", "uvx")
    assert run.code == 1
    assert f"{tmp_path}: cannot read the file" in run.err


def test_an_invalid_file_is_not_edited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"mcpServers": {"x": {"args": []}}}')
    before = snapshot(tmp_path)
    run = cli(capsys, "server", "add", "time", "-c", str(path), "--command", "uvx")
    assert run.code == 1
    assert "mcpServers.x: needs either 'command'" in run.err
    assert snapshot(tmp_path) == before


def test_v1_layout_is_refused_with_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "v1.json"
    path.write_text(
        '{"server": {"addr": ":9090"}, "clients": {"a": {"type": "stdio", "config": {"command": "x"}}}}'
    )
    run = cli(capsys, "server", "add", "time", "-c", str(path), "--command", "uvx")
    assert run.code == 1
    assert "v1 layout" in run.err
    listed = cli(capsys, "server", "list", "-c", str(path), "--format", "names")
    assert listed.out == "a\n"


def test_unset_variables_warn_but_do_not_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"mcpProxy": {"options": {"authTokens": ["${UNSET_IN_THIS_SHELL}"]}}, "mcpServers": {}}')
    run = cli(capsys, "server", "add", "time", "-c", str(path), "--command", "uvx")
    assert run.code == 0, run.err
    assert "UNSET_IN_THIS_SHELL is not set" in run.err
    assert "time" in jsonc.loads(path.read_text())["mcpServers"]


def test_add_creates_a_missing_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new.json"
    run = cli(
        capsys, "server", "add", "time", "-c", str(path), "--command", "uvx", "--arg", "mcp-server-time"
    )
    assert run.code == 0, run.err
    assert "(new file)" in run.out
    assert list(load_config(str(path)).servers) == ["time"]


def test_config_flag_from_environment(
    seed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_CENTRAL_CONFIG", str(seed))
    assert cli(capsys, "server", "list", "--format", "names").out.split() == [
        "postgres", "timescaledb", "filesystem", "fetch",
    ]  # fmt: skip
    monkeypatch.delenv("MCP_CENTRAL_CONFIG")
    run = cli(capsys, "server", "list")
    assert run.code == 1
    assert "pass --config FILE or set MCP_CENTRAL_CONFIG" in run.err


def test_list_formats(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "server", "add", "time", "-c", str(seed), "--command", "uvx", "--arg", "mcp-server-time")
    table = cli(capsys, "server", "list", "-c", str(seed)).out.splitlines()
    assert table[0].split() == ["NAME", "TRANSPORT", "STATE", "TARGET"]
    assert table[1].split() == ["postgres", "sse", "enabled", "http://mcp-postgres:8686/sse"]
    assert table[-1].split() == ["time", "stdio", "enabled", "uvx", "mcp-server-time"]
    names = cli(capsys, "server", "list", "-c", str(seed), "--format", "names").out
    assert names == "postgres\ntimescaledb\nfilesystem\nfetch\ntime\n"
    rows = json.loads(cli(capsys, "server", "list", "-c", str(seed), "--format", "json").out)
    assert rows[-1] == {
        "name": "time", "transport": "stdio", "target": "uvx mcp-server-time", "disabled": False,
        "routes": ["/time/mcp", "/time/sse"],
    }  # fmt: skip


def test_backups_and_rollback(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = seed.read_bytes()
    cli(capsys, "server", "add", "one", "-c", str(seed), "--command", "uvx")
    after_one = seed.read_bytes()
    cli(capsys, "server", "add", "two", "-c", str(seed), "--command", "uvx")
    listing = cli(capsys, "config", "backups", "-c", str(seed)).out.splitlines()
    assert listing[0].split()[:2] == ["ID", "CREATED"]
    ids = [line.split()[0] for line in listing[1:]]
    assert len(ids) == 2  # newest first: [before "two", before "one"]

    run = cli(capsys, "config", "rollback", "-c", str(seed))  # the newest: undo "two"
    assert run.code == 0, run.err
    assert seed.read_bytes() == after_one
    run = cli(capsys, "config", "rollback", ids[1], "-c", str(seed))
    assert run.code == 0, run.err
    assert f"restored {seed} from backup {ids[1]}" in run.out
    assert seed.read_bytes() == original
    assert len(backups_of(seed)) == 4  # each rollback backed up what it replaced

    before = snapshot(seed.parent)
    run = cli(capsys, "config", "rollback", "19990101", "-c", str(seed))
    assert run.code == 1
    assert "no backup match '19990101'" in run.err
    assert snapshot(seed.parent) == before


def test_rollback_without_backups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"mcpServers": {}}')
    run = cli(capsys, "config", "rollback", "-c", str(path))
    assert run.code == 1
    assert "no backups" in run.err
