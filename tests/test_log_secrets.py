"""No token, ``Authorization`` value, header, ``env`` value or URL credential in any log line, at
any level: a real ``mcp-central serve`` at ``--log-level debug`` with JSON logs, tokens
everywhere, a stdio upstream with ``env`` secrets and an HTTP upstream with a secret header and a
secret in its URL; calls that succeed, fail and time out, wrong tokens, ``/status``, a refused and
an accepted reload. Every line must parse as JSON and no secret may occur anywhere in the output
(nor in the audit file)."""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest
from mcp.shared.exceptions import MCPError

from conftest import mcp_client
from log_helpers import call_lines, fixture_entry, http_fixture, json_lines, serving

pytestmark = pytest.mark.anyio


def secret(label: str) -> str:
    return f"{label}-{secrets.token_hex(12)}"


SECRETS = {
    name: secret(name.lower())
    for name in ("GLOBAL_TOKEN", "ADMIN_TOKEN", "KEYED_TOKEN", "STDIO_SECRET", "HEADER_SECRET", "URL_SECRET")
}
LITERAL_ENV = secret("literal-env")
WRONG_TOKEN = secret("wrong")
NEW_TOKEN = secret("new")


def config(upstream_port: int, global_token: str = "${GLOBAL_TOKEN}") -> dict[str, Any]:
    return {
        "mcpProxy": {
            "options": {
                "authTokens": [global_token],
                "adminTokens": ["${ADMIN_TOKEN}"],
                "logEnabled": True,
                "audit": {"file": "audit.jsonl", "arguments": "hash"},
            }
        },
        "mcpServers": {
            "local": fixture_entry(
                "local", env={"API_SECRET": "${STDIO_SECRET}", "LITERAL": LITERAL_ENV}, timeout="1s"
            ),
            "keyed": fixture_entry("keyed", options={"authTokens": ["${KEYED_TOKEN}"]}),
            "remote": {
                "url": f"http://127.0.0.1:{upstream_port}/mcp?apikey=${{URL_SECRET}}",
                "transportType": "streamable-http",
                "headers": {"X-Api-Key": "${HEADER_SECRET}"},
            },
        },
    }


async def exercise(url: str, served_config: Path, upstream_port: int, served: Any) -> None:
    token = SECRETS["GLOBAL_TOKEN"]
    async with mcp_client(f"{url}/local/mcp", "streamable-http", token) as client:
        shown = await client.call_tool("env", {"name": "API_SECRET"})
        # The secret did reach the upstream (and its answer passed through the gateway).
        assert shown.content[0].text == SECRETS["STDIO_SECRET"]  # type: ignore[union-attr]
        assert (await client.call_tool("env", {"name": "LITERAL"})).content[0].text == LITERAL_ENV  # type: ignore[union-attr]
        assert (await client.call_tool("no_such_tool", {})).is_error
        with pytest.raises(MCPError):
            await client.call_tool("slow", {"seconds": 3})  # past its 1 s timeout
    async with mcp_client(f"{url}/sse", "sse", token) as client:
        header = await client.call_tool("remote__header", {"name": "x-api-key"})
        assert header.content[0].text == SECRETS["HEADER_SECRET"]  # type: ignore[union-attr]
        authorization = await client.call_tool("remote__header", {"name": "authorization"})
        assert authorization.content[0].text == ""  # type: ignore[union-attr]
    async with mcp_client(f"{url}/keyed/mcp", "streamable-http", SECRETS["KEYED_TOKEN"]) as client:
        await client.call_tool("echo", {"text": "keyed"})
    async with httpx.AsyncClient(timeout=30) as http:
        for path in ("/mcp", "/keyed/mcp", "/local/mcp", "/status"):
            for bad in (WRONG_TOKEN, SECRETS["KEYED_TOKEN"] if path != "/keyed/mcp" else WRONG_TOKEN):
                response = await http.post(
                    f"{url}{path}", headers={"Authorization": f"Bearer {bad}"}, json={}
                )
                assert response.status_code in (401, 403, 405), (path, response.status_code)
        status = await http.get(
            f"{url}/status", headers={"Authorization": f"Bearer {SECRETS['ADMIN_TOKEN']}"}
        )
        assert status.status_code == 200
    await anyio.to_thread.run_sync(reload, served, served_config, upstream_port, url)
    async with mcp_client(f"{url}/local/mcp", "streamable-http", NEW_TOKEN) as client:
        await client.call_tool("echo", {"text": "after reload"})


def reload(served: Any, served_config: Path, upstream_port: int, url: str) -> None:
    """A refused reload (an unknown key), then an accepted one that changes the global token."""
    wrong = config(upstream_port)
    wrong["nonsense"] = 1
    served_config.write_bytes(orjson.dumps(wrong))
    os.kill(served.proc.pid, signal.SIGHUP)
    served.wait_for(lambda text: "refused, still serving" in text, "refused reload")
    fresh = config(upstream_port, NEW_TOKEN)
    fresh["mcpProxy"]["addr"] = f"127.0.0.1:{url.rsplit(':', 1)[1]}"
    served_config.write_bytes(orjson.dumps(fresh))
    os.kill(served.proc.pid, signal.SIGHUP)
    served.wait_for(lambda text: "config reloaded (SIGHUP)" in text, "accepted reload")


async def test_no_secret_in_any_log_line_at_debug(tmp_path: Path) -> None:
    environment = {name: value for name, value in SECRETS.items()}
    with (
        http_fixture() as upstream,
        serving(
            config(upstream),
            tmp_path,
            "--log-level",
            "debug",
            "--log-format",
            "json",
            "--no-watch",
            env=environment,
        ) as served,
    ):
        await exercise(served.url, tmp_path / "config.json", upstream, served)
        text = served.stop()
    lines = json_lines(text)
    audit = (tmp_path / "audit.jsonl").read_text()
    everything = [*SECRETS.values(), LITERAL_ENV, WRONG_TOKEN, NEW_TOKEN]
    for value in everything:
        assert value not in text, f"a secret ({value.split('-')[0]}) is in the log"
        assert value not in audit, f"a secret ({value.split('-')[0]}) is in the audit file"
    # The run did log at debug, httpx's request lines included (their URLs masked), and calls.
    assert [line for line in lines if line["level"] == "debug"]
    httpx_lines = [line["event"] for line in lines if line["logger"] == "httpx"]
    assert httpx_lines and all("apikey=***" in event for event in httpx_lines if "apikey" in event)
    outcomes = {(line.get("server"), line.get("tool"), line["outcome"]) for line in call_lines(lines)}
    assert {("local", "env", "ok"), ("local", "slow", "timeout"), ("remote", "header", "ok")} <= outcomes
    assert len(audit.splitlines()) >= 7
