"""Operator rough edges of issue 16: dash-leading server arguments, what ``validate`` reports, and
what git ignores. Real files, the real command in-process (``cli``) and the real ``git``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from manage_helpers import cli, operator_env  # noqa: F401  (autouse fixture)

ROOT = Path(__file__).parent.parent


def test_server_add_takes_dash_leading_arguments_after_arg_and_after_double_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    run = cli(capsys, "server", "add", "files", "--config", str(config), "--command", "npx", "--arg", "-y")
    assert run.code == 0, run.err
    run = cli(
        capsys,
        "server", "add", "fetch", "--config", str(config), "--command", "uvx",
        "--", "mcp-server-fetch", "--ignore-robots-txt", "-v",
    )  # fmt: skip
    assert run.code == 0, run.err
    run = cli(capsys, "server", "add", "both", "--config", str(config), "--command", "npx",
              "--arg=-y", "--", "@scope/pkg", "--root", "/srv")  # fmt: skip
    assert run.code == 0, run.err
    servers = json.loads(config.read_text())["mcpServers"]
    assert servers["files"] == {"command": "npx", "args": ["-y"]}
    assert servers["fetch"] == {"command": "uvx", "args": ["mcp-server-fetch", "--ignore-robots-txt", "-v"]}
    assert servers["both"] == {"command": "npx", "args": ["-y", "@scope/pkg", "--root", "/srv"]}


def test_validate_reports_an_unset_variable_once_per_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPS_UNSET_TOKEN", "OPS_UNSET_KEY", "OPS_UNSET_PORT"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "mcpProxy": {"addr": ":${OPS_UNSET_PORT}", "options": {"authTokens": ["${OPS_UNSET_TOKEN}"]}},
                "mcpServers": {
                    "a": {"command": "python3", "args": ["--key=${OPS_UNSET_KEY}:${OPS_UNSET_KEY}"]}
                },
            }
        )
    )
    run = cli(capsys, "validate", "--config", str(config))
    assert run.code == 1
    lines = [line.strip() for line in run.err.splitlines()[1:]]
    for key, name in (
        ("mcpProxy.addr", "OPS_UNSET_PORT"),
        ("mcpProxy.options.authTokens[0]", "OPS_UNSET_TOKEN"),
        ("mcpServers.a.args[0]", "OPS_UNSET_KEY"),
    ):
        about_key = [line for line in lines if f": {key}: " in line]
        assert len(about_key) == 1, (key, run.err)
        assert f"environment variable {name} is not set" in about_key[0]
    assert run.err.startswith("mcp-central: invalid config (3 problem(s)):"), run.err


def test_validate_warns_about_a_stdio_command_not_on_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "ghost": {"command": "mcp-central-no-such-program", "args": ["x"]},
                    "here": {"command": "python3"},
                    "off": {"command": "mcp-central-also-missing", "disabled": True},
                }
            }
        )
    )
    run = cli(capsys, "validate", "--config", str(config))
    assert run.code == 0, run.err  # a warning, not a failure: the gateway may run elsewhere
    assert run.out.startswith("OK: ")
    warnings = [line for line in run.err.splitlines() if "warning" in line]
    assert len(warnings) == 1, run.err
    assert "mcpServers.ghost.command" in warnings[0]
    assert "'mcp-central-no-such-program' is not found on PATH" in warnings[0]
    assert "server 'ghost'" in warnings[0]


def test_git_ignores_an_operators_config_and_backups_but_not_the_deploy_example() -> None:
    ignored = [
        "config.json",
        "config/config.json",
        ".mcp-central-backups/x.json",
        "deploy/config/.mcp-central-backups/x",
    ]
    found = subprocess.run(
        ["git", "check-ignore", "--no-index", *ignored], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert found.stdout.split() == ignored, found
    kept = subprocess.run(
        ["git", "check-ignore", "--no-index", "deploy/config/config.json"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    assert kept.returncode == 1  # not ignored: the example stays tracked
