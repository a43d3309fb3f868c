"""`mcp-central clients`: each client's configuration, compared with the shape of that client's
documented example (restated here in our own words), and its URLs proven against a running proxy."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import FIXTURE_SERVER, free_port
from manage_helpers import cli, operator_env, serving  # noqa: F401 - autouse fixture
from mcp_central.ops.check import check_route

BASE = "http://linuxserver.lan:9090"

# The documented shape of one remote server with a bearer token, per client.
DOCUMENTED: dict[str, Any] = {
    # Claude Code .mcp.json: "type" http|sse, "url", "headers"; ${VAR} expanded by Claude Code.
    "claude-code": {"mcpServers": {"api": {"type": "http", "url": "https://a.example/mcp",
                                           "headers": {"Authorization": "Bearer ${API_TOKEN}"}}}},
    # VS Code mcp.json: top-level "servers" and "inputs" (promptString, password) used as ${input:id}.
    "vscode": {"servers": {"api": {"type": "http", "url": "https://a.example/mcp",
                                   "headers": {"Authorization": "Bearer ${input:api-token}"}}},
               "inputs": [{"type": "promptString", "id": "api-token", "description": "Token",
                           "password": True}]},
    # Gemini CLI settings.json: "type" http|sse with "url" ("httpUrl" is deprecated, and a "url"
    # without "type" is taken for streamable HTTP), "headers".
    "gemini": {"mcpServers": {"api": {"type": "http", "url": "https://a.example/mcp",
                                      "headers": {"Authorization": "Bearer $API_TOKEN"}}}},
    # Cursor mcp.json: "url" and "headers"; ${env:NAME} interpolation.
    "cursor": {"mcpServers": {"api": {"url": "https://a.example/mcp",
                                      "headers": {"Authorization": "Bearer ${env:API_TOKEN}"}}}},
    # Open WebUI tool-server connections (TOOL_SERVER_CONNECTIONS / Admin → External Tools).
    "open-webui": [{"type": "mcp", "url": "https://a.example/mcp", "path": "", "auth_type": "bearer",
                    "key": "secret", "config": {"enable": True},
                    "info": {"id": "api", "name": "api", "description": "d"}}],
    # Codex config.toml: a [mcp_servers.NAME] table with url and bearer_token_env_var.
    "codex": {"mcp_servers": {"api": {"url": "https://a.example/mcp", "bearer_token_env_var": "API_TOKEN"}}},
}  # fmt: skip


def shape(value: Any) -> Any:
    """Keys and value types, recursively; a map of servers is keyed by a placeholder."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def per_server(client: str, document: Any) -> Any:
    """The document with its server map reduced to one entry named 'api' (for shape comparison)."""
    if client == "open-webui":
        return document[:1]
    key = {"vscode": "servers", "codex": "mcp_servers"}.get(client, "mcpServers")
    first = next(iter(document[key].values()))
    return {**document, key: {"api": first}}


def render(capsys: pytest.CaptureFixture[str], client: str, *extra: str) -> Any:
    run = cli(capsys, "clients", "--client", client, "--base-url", BASE, "--token-env", "MCP_PROXY_TOKEN",
              "--server", "postgres", "fetch", *extra)  # fmt: skip
    assert run.code == 0, run.err
    return tomllib.loads(run.out) if client == "codex" else json.loads(run.out)


@pytest.mark.parametrize("client", sorted(DOCUMENTED))
def test_matches_the_documented_shape(capsys: pytest.CaptureFixture[str], client: str) -> None:
    document = render(capsys, client)
    assert shape(per_server(client, document)) == shape(DOCUMENTED[client])


def test_urls_and_token_references(capsys: pytest.CaptureFixture[str]) -> None:
    claude = render(capsys, "claude-code")["mcpServers"]
    assert list(claude) == ["postgres", "fetch"]
    assert claude["fetch"] == {
        "type": "http", "url": f"{BASE}/fetch/mcp", "headers": {"Authorization": "Bearer ${MCP_PROXY_TOKEN}"},
    }  # fmt: skip
    vscode = render(capsys, "vscode")
    input_id = vscode["inputs"][0]["id"]
    assert vscode["servers"]["postgres"]["headers"]["Authorization"] == f"Bearer ${{input:{input_id}}}"
    assert vscode["inputs"][0]["password"] is True
    assert render(capsys, "gemini")["mcpServers"]["fetch"] == {
        "type": "http", "url": f"{BASE}/fetch/mcp", "headers": {"Authorization": "Bearer ${MCP_PROXY_TOKEN}"},
    }  # fmt: skip
    assert render(capsys, "cursor")["mcpServers"]["fetch"]["headers"] == {
        "Authorization": "Bearer ${env:MCP_PROXY_TOKEN}"
    }
    codex = render(capsys, "codex")["mcp_servers"]
    assert codex["postgres"] == {"url": f"{BASE}/postgres/mcp", "bearer_token_env_var": "MCP_PROXY_TOKEN"}
    webui = render(capsys, "open-webui")
    # Both ways per route: the native MCP tool server and the OpenAPI bridge's (openapi.json under it).
    assert [(c["type"], c["url"], c["path"], c["info"]["id"], c["auth_type"], c["key"]) for c in webui] == [
        ("mcp", f"{BASE}/postgres/mcp", "", "postgres", "bearer", "${MCP_PROXY_TOKEN}"),
        (
            "openapi",
            f"{BASE}/openapi/postgres",
            "openapi.json",
            "postgres-openapi",
            "bearer",
            "${MCP_PROXY_TOKEN}",
        ),
        ("mcp", f"{BASE}/fetch/mcp", "", "fetch", "bearer", "${MCP_PROXY_TOKEN}"),
        ("openapi", f"{BASE}/openapi/fetch", "openapi.json", "fetch-openapi", "bearer", "${MCP_PROXY_TOKEN}"),
    ]
    assert shape(webui[1]) == shape(DOCUMENTED["open-webui"][0])


def test_legacy_sse_where_the_client_has_it(capsys: pytest.CaptureFixture[str]) -> None:
    claude = render(capsys, "claude-code", "--transport", "sse")["mcpServers"]["postgres"]
    assert (claude["type"], claude["url"]) == ("sse", f"{BASE}/postgres/sse")  # the seed's own client config
    assert render(capsys, "vscode", "--transport", "sse")["servers"]["fetch"]["type"] == "sse"
    gemini = render(capsys, "gemini", "--transport", "sse")["mcpServers"]["fetch"]
    # Without "type": "sse" Gemini CLI POSTs to /sse as streamable HTTP (405, "Disconnected").
    assert (gemini["type"], gemini["url"]) == ("sse", f"{BASE}/fetch/sse") and "httpUrl" not in gemini
    for client in ("codex", "open-webui"):
        run = cli(
            capsys, "clients", "--client", client, "--base-url", BASE, "--server", "x", "--transport", "sse"
        )
        assert run.code == 1
        assert "streamable HTTP only" in run.err


def test_claude_mcp_add_lines(capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "clients", "--client", "claude-code", "--commands", "--base-url", BASE,
              "--token-env", "MCP_PROXY_TOKEN", "--server", "postgres", "fetch")  # fmt: skip
    lines = run.out.splitlines()
    assert len(lines) == 2
    # `claude mcp add [options] <name> <url> [--header …]`: --header takes several values, so before
    # NAME and URL it swallows them ("missing required argument 'name'"); it comes last.
    argv = shell_words(lines[1], MCP_PROXY_TOKEN="the-secret")
    assert argv == [
        "claude", "mcp", "add", "--transport", "http", "fetch", f"{BASE}/fetch/mcp",
        "--header", "Authorization: Bearer ${MCP_PROXY_TOKEN}",  # the shell leaves it for Claude Code
    ]  # fmt: skip
    # The hint is about these lines, not about a .mcp.json file, and says who fills in the token.
    assert ".mcp.json" not in run.err
    assert "~/.claude.json" in run.err and "export MCP_PROXY_TOKEN" in run.err


def shell_words(line: str, **env: str) -> list[str]:
    """The arguments a real shell passes for ``line`` (its first word replaced by a printer)."""
    printer = line.replace("claude ", "printf '%s\\n' claude ", 1)
    done = subprocess.run(["/bin/sh", "-c", printer], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    return done.stdout.splitlines()


def test_hints_match_what_was_printed(capsys: pytest.CaptureFixture[str]) -> None:
    plain = cli(capsys, "clients", "--client", "vscode", "--base-url", BASE, "--server", "fetch")
    assert "inputs" not in json.loads(plain.out)
    assert "prompt" not in plain.err  # no token, no prompt
    prompted = cli(capsys, "clients", "--client", "vscode", "--base-url", BASE, "--server", "fetch",
                   "--token-env", "MCP_PROXY_TOKEN")  # fmt: skip
    assert json.loads(prompted.out)["inputs"][0]["password"] is True
    assert "prompts for the token once" in prompted.err
    claude = cli(capsys, "clients", "--client", "claude-code", "--base-url", BASE, "--server", "fetch")
    assert "save as .mcp.json" in claude.err


def test_aggregated_and_group_routes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mcpProxy": {"baseURL": "http://gw.lan:9090"},
        "mcpServers": {"a": {"command": "x"}, "b": {"command": "x"}},
        "groups": {"db": {"servers": ["b"], "authTokens": ["${DB_TOKEN}"]}},
    }))  # fmt: skip
    run = cli(capsys, "clients", "--client", "claude-code", "-c", str(config), "--route", "all",
              "--route", "groups/db", "--token-env", "DB_TOKEN")  # fmt: skip
    assert run.code == 0, run.err
    assert {name: entry["url"] for name, entry in json.loads(run.out)["mcpServers"].items()} == {
        "mcp-central": "http://gw.lan:9090/mcp",  # not /mcp/mcp (`--server mcp` did that)
        "db": "http://gw.lan:9090/groups/db/mcp",
    }
    sse = cli(
        capsys, "clients", "--client", "gemini", "-c", str(config), "--route", "all", "--transport", "sse"
    )
    assert json.loads(sse.out)["mcpServers"]["mcp-central"]["url"] == "http://gw.lan:9090/sse"
    both = cli(capsys, "clients", "--client", "cursor", "-c", str(config), "--server", "a", "--route", "all")
    assert list(json.loads(both.out)["mcpServers"]) == ["a", "mcp-central"]
    # The group's own tokens are noticed, as a server's are.
    group_only = cli(capsys, "clients", "--client", "codex", "-c", str(config), "--route", "groups/db")
    assert tomllib.loads(group_only.out)["mcp_servers"]["db"]["bearer_token_env_var"] == "MCP_PROXY_TOKEN"
    webui = json.loads(cli(capsys, "clients", "--client", "open-webui", "-c", str(config), "--route", "all",
                           "--route", "groups/db").out)  # fmt: skip
    assert [c["url"] for c in webui] == [
        "http://gw.lan:9090/mcp", "http://gw.lan:9090/openapi",
        "http://gw.lan:9090/groups/db/mcp", "http://gw.lan:9090/openapi/groups/db",
    ]  # fmt: skip
    bad = cli(capsys, "clients", "--client", "cursor", "-c", str(config), "--route", "groups/nope",
              "--route", "db")  # fmt: skip
    assert bad.code == 1
    assert f"{config}: groups.nope: no such group (groups: groups/db)" in bad.err
    assert "--route: db: expected all or groups/NAME" in bad.err
    clash = cli(capsys, "clients", "--client", "cursor", "--base-url", BASE, "--server", "db",
                "--route", "groups/db")  # fmt: skip
    assert clash.code == 1 and "share the entry name db" in clash.err


def test_config_whose_token_variable_is_unset_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the variable's name is written, so its value need not be set where `clients` runs."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mcpProxy": {"baseURL": "http://gw.lan:9090", "options": {"authTokens": ["${MCP_PROXY_TOKEN}"]}},
        "mcpServers": {"a": {"command": "x", "env": {"KEY": "${UPSTREAM_KEY}"}}},
    }))  # fmt: skip
    run = cli(capsys, "clients", "--client", "gemini", "-c", str(config))
    assert run.code == 0, run.err
    assert json.loads(run.out)["mcpServers"]["a"]["headers"] == {"Authorization": "Bearer ${MCP_PROXY_TOKEN}"}
    assert "$MCP_PROXY_TOKEN, $UPSTREAM_KEY not set here" in run.err
    # A base URL made of an unset variable cannot be guessed: the loader says which key and variable.
    config.write_text(
        json.dumps({"mcpProxy": {"baseURL": "${PUBLIC_URL}"}, "mcpServers": {"a": {"command": "x"}}})
    )
    unknown_base = cli(capsys, "clients", "--client", "gemini", "-c", str(config))
    assert unknown_base.code == 1
    assert "mcpProxy.baseURL" in unknown_base.err and "${PUBLIC_URL}" in unknown_base.err


def test_routes_and_token_come_from_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_PROXY_TOKEN", "tok")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mcpProxy": {"baseURL": "http://gw.lan:9090/prefix",
                     "options": {"authTokens": ["${MCP_PROXY_TOKEN}"]}},
        "mcpServers": {"a": {"command": "x"}, "off": {"command": "x", "options": {"disabled": True}},
                       "open": {"command": "x", "options": {"authTokens": []}}},
    }))  # fmt: skip
    run = cli(capsys, "clients", "--client", "cursor", "-c", str(config))
    assert run.code == 0, run.err
    servers = json.loads(run.out)["mcpServers"]
    assert list(servers) == ["a", "open"]  # disabled servers have no route
    assert servers["a"]["url"] == "http://gw.lan:9090/prefix/a/mcp"
    assert "MCP_PROXY_TOKEN" in run.err  # told where the token comes from
    assert servers["a"]["headers"] == {"Authorization": "Bearer ${env:MCP_PROXY_TOKEN}"}

    unknown = cli(capsys, "clients", "--client", "cursor", "-c", str(config), "--server", "nope")
    assert unknown.code == 1
    assert f"{config}: mcpServers.nope: no such enabled server (enabled: a, open)" in unknown.err
    nothing = cli(capsys, "clients", "--client", "cursor")
    assert nothing.code == 1
    assert "--server NAME" in nothing.err


def test_generated_urls_answer_on_a_running_proxy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Take the URLs out of a generated config and connect to each with the official SDK."""
    monkeypatch.setenv("MCP_PROXY_TOKEN", "tok")
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mcpProxy": {"baseURL": f"http://127.0.0.1:{port}", "addr": f"127.0.0.1:{port}",
                     "options": {"authTokens": ["${MCP_PROXY_TOKEN}"]}},
        "mcpServers": {"fixture": {"command": sys.executable,
                                   "args": [str(FIXTURE_SERVER), "--transport", "stdio"]}},
    }))  # fmt: skip
    with serving(config, port, {"MCP_PROXY_TOKEN": "tok"}):
        for transport, sdk in (("http", "streamable-http"), ("sse", "sse")):
            run = cli(
                capsys, "clients", "--client", "claude-code", "-c", str(config), "--transport", transport
            )
            entry = json.loads(run.out)["mcpServers"]["fixture"]
            # Expand ${MCP_PROXY_TOKEN} from the environment, as Claude Code does.
            token = os.path.expandvars(entry["headers"]["Authorization"]).removeprefix("Bearer ")
            assert token == "tok"
            result = asyncio.run(check_route("fixture", entry["url"], sdk, token, 20))
            assert result.ok, result.error


def test_open_webui_entries_answer_both_ways_on_a_running_proxy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Open WebUI reads an OpenAPI server's document at URL/path and calls URL/{operation path}."""
    monkeypatch.setenv("MCP_PROXY_TOKEN", "tok")
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mcpProxy": {"baseURL": f"http://127.0.0.1:{port}", "addr": f"127.0.0.1:{port}",
                     "options": {"authTokens": ["${MCP_PROXY_TOKEN}"]}},
        "mcpServers": {"fixture": {"command": sys.executable,
                                   "args": [str(FIXTURE_SERVER), "--transport", "stdio"]}},
    }))  # fmt: skip
    with serving(config, port, {"MCP_PROXY_TOKEN": "tok"}):
        run = cli(capsys, "clients", "--client", "open-webui", "-c", str(config))
        assert run.code == 0, run.err
        native, openapi = json.loads(run.out)
        token = os.path.expandvars(native["key"])
        assert asyncio.run(check_route("fixture", native["url"], "streamable-http", token, 20)).ok
        headers = {"Authorization": f"Bearer {os.path.expandvars(openapi['key'])}"}
        document = httpx.get(f"{openapi['url']}/{openapi['path']}", headers=headers, timeout=20).json()
        operation = "/add"
        assert "post" in document["paths"][operation]
        answer = httpx.post(
            f"{openapi['url']}{operation}", json={"a": 2, "b": 40}, headers=headers, timeout=20
        )
        assert answer.json() == {"result": 42}
