"""`mcp-central import FILE`: Claude Desktop, Claude Code, VS Code and Cursor configs into ours —
printed, written as a new file, or merged into an existing config (validated, backed up)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE_SERVER, free_port
from manage_helpers import BACKUPS, SEED_DIR, cli, operator_env, serving, snapshot  # noqa: F401 - autouse fixture
from mcp_central.config.loader import load_config, load_config_text

CLAUDE_DESKTOP = {
    "mcpServers": {
        "fixture": {"command": sys.executable, "args": [str(FIXTURE_SERVER), "--transport", "stdio"],
                    "env": {"LOG_LEVEL": "debug"}},
        "time": {"command": "uvx", "args": ["mcp-server-time", "--local-timezone=UTC"]},
    }
}  # fmt: skip


def write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
    return path


def test_claude_desktop_config_prints_a_config_we_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path / "claude_desktop_config.json", CLAUDE_DESKTOP)
    run = cli(capsys, "import", str(source))
    assert run.code == 0, run.err
    assert "as Claude Desktop / Claude Code / Cursor (mcpServers): 2 server(s)" in run.err
    config = load_config_text(run.out, "stdout")
    assert config.servers["fixture"].env == {"LOG_LEVEL": "debug"}
    assert config.servers["time"].args == ("mcp-server-time", "--local-timezone=UTC")


def test_the_seeds_claude_code_client_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "import", str(SEED_DIR / "seed_claude_code_client.json"))
    assert run.code == 0, run.err
    servers = json.loads(run.out)["mcpServers"]
    assert servers["postgres"] == {
        "url": "http://linuxserver.lan:9090/postgres/sse",  # "type": "sse" stays SSE (our default)
        "headers": {"Authorization": "Bearer changeme-token"},
    }
    assert load_config_text(run.out, "stdout").servers["fetch"].transport == "sse"


def test_vscode_inputs_and_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "project" / ".vscode" / "mcp.json"
    source.parent.mkdir(parents=True)
    source.write_text("""{
  // VS Code's own layout: "servers" and "inputs"
  "inputs": [{"type": "promptString", "id": "api-key", "description": "API key", "password": true}],
  "servers": {
    "files": {"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem",
              "${workspaceFolder}"]},
    "remote api": {"type": "http", "url": "https://api.example.com/mcp",
                   "headers": {"Authorization": "Bearer ${input:api-key}"}},
  }
}""")
    run = cli(capsys, "import", str(source))
    assert run.code == 0, run.err
    servers = json.loads(run.out)["mcpServers"]
    assert servers["files"]["args"][-1] == str((tmp_path / "project").resolve())
    assert servers["remote-api"] == {
        "url": "https://api.example.com/mcp",
        "transportType": "streamable-http",
        "headers": {"Authorization": "Bearer ${API_KEY}"},
    }
    assert "server 'remote api' is named 'remote-api'" in run.err
    assert "set these variables where the proxy runs: API_KEY" in run.err


def test_vscode_settings_and_cursor_variables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = write(tmp_path / "settings.json", {"mcp": {"servers": {"s": {"command": "x"}}}})
    assert json.loads(cli(capsys, "import", str(settings)).out) == {"mcpServers": {"s": {"command": "x"}}}
    cursor = write(tmp_path / ".cursor" / "mcp.json", {"mcpServers": {
        "gh": {"url": "https://gh.example/mcp", "headers": {"Authorization": "Bearer ${env:GH_TOKEN}"}},
        "local": {"command": "${userHome}/bin/server", "env": {"K": "${env:K}"}, "disabled": True},
    }})  # fmt: skip
    run = cli(capsys, "import", str(cursor))
    servers = json.loads(run.out)["mcpServers"]
    assert servers["gh"]["headers"] == {"Authorization": "Bearer ${GH_TOKEN}"}
    assert servers["local"] == {"command": "${HOME}/bin/server", "env": {"K": "${K}"}, "disabled": True}
    assert "GH_TOKEN, K" in run.err


def test_vscode_user_settings_with_a_flat_mcp_servers_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # VS Code's settings editor writes dotted keys flat, beside the user's other settings, with comments.
    settings = tmp_path / "Code" / "User" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text("""{
  "editor.fontSize": 14,
  "workbench.colorTheme": "Default Dark Modern",
  // MCP servers, added through "MCP: Add Server…"
  "mcp.servers": {
    "fetch": {"type": "stdio", "command": "uvx", "args": ["mcp-server-fetch"]},
    "github": {
      "type": "http",
      "url": "https://api.githubcopilot.com/mcp/",
      "headers": {"Authorization": "Bearer ${input:github-token}"},  /* a prompt */
    },
  },
  "mcp.discovery.enabled": false,
}
""")
    run = cli(capsys, "import", str(settings))
    assert run.code == 0, run.err
    assert "as VS Code settings (mcp.servers): 2 server(s)" in run.err
    servers = json.loads(run.out)["mcpServers"]
    assert servers["fetch"] == {"command": "uvx", "args": ["mcp-server-fetch"]}
    assert servers["github"] == {
        "url": "https://api.githubcopilot.com/mcp/",
        "transportType": "streamable-http",
        "headers": {"Authorization": "Bearer ${GITHUB_TOKEN}"},
    }
    assert "set these variables where the proxy runs: GITHUB_TOKEN" in run.err
    config = load_config_text(run.out, "stdout", environ={"GITHUB_TOKEN": "t"})
    assert sorted(config.servers) == ["fetch", "github"]


def test_out_writes_a_valid_new_config_that_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(
        tmp_path / "claude_desktop_config.json",
        {"mcpServers": {"fixture": CLAUDE_DESKTOP["mcpServers"]["fixture"]}},
    )
    out = tmp_path / "central.json"
    run = cli(capsys, "import", str(source), "--out", str(out))
    assert run.code == 0, run.err
    assert f"wrote {out}: fixture" in run.out
    port = free_port()
    with serving(out, port):
        check = cli(capsys, "check", "--url", f"http://127.0.0.1:{port}")
    assert check.code == 0, check.out + check.err

    before = snapshot(tmp_path)
    again = cli(capsys, "import", str(source), "--out", str(out))
    assert again.code == 1
    assert f"{out}: already exists: merge into it with --config instead" in again.err
    assert snapshot(tmp_path) == before


def test_merge_into_an_existing_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_PROXY_TOKEN", "tok")
    central = tmp_path / "config.json"
    shutil.copy(SEED_DIR / "seed_central.json", central)
    source = write(
        tmp_path / "in.json", {"mcpServers": {"time": {"command": "uvx"}, "fetch": {"command": "uvx"}}}
    )

    before = snapshot(tmp_path)
    clash = cli(capsys, "import", str(source), "--config", str(central))
    assert clash.code == 1
    assert f"{central}: mcpServers.fetch: a server with this name already exists" in clash.err
    assert snapshot(tmp_path) == before

    dry = cli(capsys, "import", str(source), "--config", str(central), "--skip-existing", "--dry-run")
    assert dry.code == 0, dry.err
    assert '+    "time": {' in dry.out
    assert snapshot(tmp_path) == before

    run = cli(capsys, "import", str(source), "--config", str(central), "--skip-existing")
    assert run.code == 0, run.err
    assert "skipping 'fetch'" in run.err
    assert f"merged time into {central}" in run.out
    assert "/* Enable CORS only" in central.read_text()
    assert list(load_config(str(central)).servers)[-1] == "time"
    assert len(list((tmp_path / BACKUPS).iterdir())) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not a JSON/JSONC file"),
        ('{"something": {}}', "no MCP servers found (expected 'mcpServers', 'servers' or 'mcp.servers')"),
        ('{"mcpServers": {"x": {"env": {}}}}', "mcpServers.x: needs 'command' (stdio) or 'url' (remote)"),
    ],
)
def test_bad_input_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    source = tmp_path / "in.json"
    source.write_text(content)
    out = tmp_path / "out.json"
    run = cli(capsys, "import", str(source), "--out", str(out))
    assert run.code == 1
    assert f"{source}" in run.err and expected in run.err
    assert not out.exists()


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "import", str(tmp_path / "nope.json"))
    assert run.code == 1
    assert "cannot read the file" in run.err
