"""A shared upstream keeps its clients apart: under concurrent load, every server→client request
and log message reaches exactly the client whose call caused it, or nobody.

Eight SDK clients at once, each making six concurrent calls whose sampling prompts, elicitation
questions and log messages carry that client's own secret; each client's callbacks check that they
only ever see their own. Upstreams: the SDK fixture over stdio (shared: no message says which call
it belongs to), over streamable HTTP (shared: the reply stream says it) and over stdio isolated (a
process per client), on their own routes and through the aggregated ``/mcp``.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from conftest import TRANSPORTS, fixture_stdio, make_config, mcp_client, serve, start_fixture, stop_process
from mcp_central.config.model import ServerConfig
from test_supervision import status_of

pytestmark = pytest.mark.anyio

CLIENTS, CALLS = 8, 6
TOOLS = ("ask_llm", "ask_user", "whisper")


class Witness:
    """One client: its secret, and everything the gateway handed its callbacks."""

    def __init__(self, number: int) -> None:
        self.tag = f"client-{number}-{secrets.token_hex(4)}"
        self.foreign: list[str] = []
        """What reached this client but carried another client's tag: a leak."""
        self.asked: list[str] = []
        self.logged: list[str] = []

    def check(self, text: str) -> None:
        if not text.startswith(self.tag + ":"):
            self.foreign.append(text)

    async def sample(
        self, context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        content = params.messages[0].content
        text = content.text if isinstance(content, types.TextContent) else str(content)
        self.check(text)
        self.asked.append(text)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=f"seen {text}"), model="test"
        )

    async def elicit(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.check(params.message)
        self.asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": params.message})

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        text = str(params.data)
        self.check(text)
        self.logged.append(text)


async def call(client: Any, witness: Witness, tool: str, prefix: str, k: int) -> str:
    """One call; ``"ok"`` when it came back with this client's own answer, else ``"refused"``."""
    secret = f"{witness.tag}:{k}"
    arguments = {
        "ask_llm": {"prompt": secret},
        "ask_user": {"question": secret},
        "whisper": {"secret": secret},
    }
    try:
        result = await client.call_tool(f"{prefix}{tool}", arguments[tool])
    except MCPError as exc:
        assert "isolated" in str(exc), exc  # the ambiguity is named, with its remedy
        return f"refused: {exc}"
    text = result.content[0].text
    if result.is_error:
        assert "isolated" in text, text
        return f"refused: {text}"
    expected = {"ask_llm": f"seen {secret}", "ask_user": f"accept:{secret}", "whisper": secret}[tool]
    assert text == expected, (text, expected)
    return "ok"


async def crowd(
    url: str, transport: str, prefix: str, clients: int = CLIENTS
) -> tuple[list[Witness], list[str]]:
    """``clients`` clients at once, ``CALLS`` concurrent calls each; every witness and outcome."""
    witnesses = [Witness(n) for n in range(clients)]
    outcomes: list[str] = []

    async def one(witness: Witness) -> None:
        async with mcp_client(
            url,
            transport,
            sampling_callback=witness.sample,
            elicitation_callback=witness.elicit,
            logging_callback=witness.on_log,
        ) as client:
            await client.set_logging_level("info")

            async def one_call(k: int) -> None:
                outcomes.append(await call(client, witness, TOOLS[k % len(TOOLS)], prefix, k))

            async with anyio.create_task_group() as calls:
                for k in range(CALLS):
                    calls.start_soon(one_call, k)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            for witness in witnesses:
                group.start_soon(one, witness)
    return witnesses, outcomes


@pytest.fixture(scope="module")
def http_fixture() -> Iterator[int]:
    proc, port = start_fixture("streamable-http", "fxh")
    try:
        yield port
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
async def gateway(http_fixture: int) -> AsyncIterator[str]:
    http = ServerConfig(
        name="fxh", transport="streamable-http", url=f"http://127.0.0.1:{http_fixture}/mcp", timeout=30
    )
    config = make_config(fixture_stdio("fx"), http, fixture_stdio("solo", session_mode="isolated"))
    async with serve(config) as (url, _app):
        yield url


def delivered_logs(witness: Witness) -> int:
    return sum(1 for k in range(CALLS) if TOOLS[k % len(TOOLS)] == "whisper")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("route", "prefix"), [("/fxh", ""), ("/solo", ""), ("", "fxh__"), ("", "solo__")])
async def test_every_request_and_log_reaches_its_own_client(
    gateway: str, transport: str, route: str, prefix: str
) -> None:
    """Where the gateway can tell (an HTTP reply stream, a process per client) it always delivers."""
    url = f"{gateway}{route}/{'mcp' if transport == 'streamable-http' else 'sse'}"
    witnesses, outcomes = await crowd(url, transport, prefix)
    assert [w.foreign for w in witnesses] == [[]] * CLIENTS
    assert outcomes == ["ok"] * (CLIENTS * CALLS)
    for witness in witnesses:
        assert sorted(witness.logged) == sorted(
            f"{witness.tag}:{k}" for k in range(CALLS) if TOOLS[k % len(TOOLS)] == "whisper"
        )


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("route", "prefix"), [("/fx", ""), ("", "fx__")])
async def test_a_shared_stdio_upstream_never_misdelivers(
    gateway: str, transport: str, route: str, prefix: str
) -> None:
    """Over stdio nothing says which call asked: the gateway refuses rather than guess."""
    url = f"{gateway}{route}/{'mcp' if transport == 'streamable-http' else 'sse'}"
    witnesses, outcomes = await crowd(url, transport, prefix)
    assert [w.foreign for w in witnesses] == [[]] * CLIENTS
    assert len(outcomes) == CLIENTS * CALLS
    assert all(outcome == "ok" or outcome.startswith("refused: ") for outcome in outcomes)
    # A lone client is still served: all it is asked is its own.
    alone, outcomes = await crowd(url, transport, prefix, clients=1)
    assert alone[0].foreign == []
    assert outcomes == ["ok"] * CALLS


async def test_a_client_that_never_answers_a_sampling_request_does_not_degrade_the_upstream() -> None:
    """The call times out for that client, but the upstream did nothing wrong: it waited for it."""
    never = anyio.Event()

    async def sit_on_it(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        await never.wait()
        raise AssertionError("unreachable")

    config = make_config(dataclasses.replace(fixture_stdio("slowpoke"), timeout=1))
    async with serve(config) as (base, _app):
        async with mcp_client(
            f"{base}/slowpoke/mcp", "streamable-http", sampling_callback=sit_on_it
        ) as client:
            with pytest.raises(MCPError, match="within 1s"):
                await client.call_tool("ask_llm", {"prompt": "hello?"})
            assert (await status_of(base, "slowpoke"))["state"] == "ready"
            assert (await client.call_tool("echo", {"text": "fine"})).content[0].text == "fine"  # type: ignore[union-attr]
        never.set()
