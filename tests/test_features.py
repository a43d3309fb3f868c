"""Every MCP feature survives the trip through a shared link, with several clients on one upstream.

Each test runs over both downstream transports. The upstream is the SDK fixture server over stdio;
all clients of a route share its one upstream session, so these tests also prove that answers,
progress, server→client requests, log messages and resource updates reach the right client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from conftest import fixture_stdio, make_config, mcp_client, route_url, serve

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    async with serve(make_config(fixture_stdio("fx"))) as (url, _app):
        yield url


class Inbox:
    """What one client received besides answers, with a way to wait for it."""

    def __init__(self) -> None:
        self.logs: list[str] = []
        self.updated: list[str] = []
        self.tools_changed = 0
        self._changed = anyio.Event()

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(str(params.level))
        self._poke()

    async def on_message(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.updated.append(str(message.params.uri))
        elif isinstance(message, types.ToolListChangedNotification):
            self.tools_changed += 1
        self._poke()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, condition: Callable[[], bool], seconds: float = 10) -> None:
        with anyio.fail_after(seconds):
            while not condition():
                await self._changed.wait()


def client(gateway: str, downstream: str, inbox: Inbox | None = None, **kwargs: Any) -> Any:
    if inbox is not None:
        kwargs.update(logging_callback=inbox.on_log, message_handler=inbox.on_message)
    return mcp_client(route_url(gateway, "fx", downstream), downstream, **kwargs)


def llm(answer: str, calls: list[str]) -> Callable[..., Awaitable[types.CreateMessageResult]]:
    async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        calls.append(answer)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=answer), model="test-model"
        )

    return sample


async def test_32_sessions_never_get_each_others_answers(gateway: str, downstream: str) -> None:
    async def one(n: int) -> list[str]:
        async with client(gateway, downstream) as session:
            results = await asyncio.gather(
                *(session.call_tool("echo", {"text": f"session-{n}-call-{i}"}) for i in range(8))
            )
            return [result.content[0].text for result in results]

    answers = await asyncio.gather(*(one(n) for n in range(32)))
    for n, texts in enumerate(answers):
        assert texts == [f"session-{n}-call-{i}" for i in range(8)]


async def test_progress_goes_only_to_the_caller(gateway: str, downstream: str) -> None:
    seen: dict[str, list[float]] = {"a": [], "b": []}

    def recorder(name: str) -> Callable[..., Awaitable[None]]:
        async def record(progress: float, total: float | None, message: str | None) -> None:
            seen[name].append(progress)

        return record

    async with client(gateway, downstream) as a, client(gateway, downstream) as b:
        await asyncio.gather(
            a.call_tool("progress", {"steps": 3}, progress_callback=recorder("a")),
            b.call_tool("progress", {"steps": 5}, progress_callback=recorder("b")),
        )
    assert seen == {"a": [1, 2, 3], "b": [1, 2, 3, 4, 5]}


async def test_sampling_reaches_the_client_whose_call_is_in_flight(gateway: str, downstream: str) -> None:
    calls: list[str] = []
    async with (
        client(gateway, downstream, sampling_callback=llm("from A", calls)) as a,
        client(gateway, downstream, sampling_callback=llm("from B", calls)) as b,
    ):
        result_a = await a.call_tool("ask_llm", {"prompt": "hi"})
        result_b = await b.call_tool("ask_llm", {"prompt": "hi"})
    assert result_a.content[0].text == "from A"
    assert result_b.content[0].text == "from B"
    assert calls == ["from A", "from B"]


async def test_elicitation_round_trip(gateway: str, downstream: str) -> None:
    async def answer(context: Any, params: Any) -> types.ElicitResult:
        assert params.message == "Who are you?"
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async with client(gateway, downstream, elicitation_callback=answer) as session:
        result = await session.call_tool("ask_user", {"question": "Who are you?"})
    assert result.content[0].text == "accept:Ada"


async def test_a_client_without_sampling_gets_a_clear_error_not_a_hang(gateway: str, downstream: str) -> None:
    async with client(gateway, downstream) as session:
        with anyio.fail_after(20), pytest.raises(MCPError, match="did not declare the 'sampling' capability"):
            await session.call_tool("ask_llm", {"prompt": "hi"})


async def test_log_levels_are_kept_per_session(gateway: str, downstream: str) -> None:
    quiet, chatty = Inbox(), Inbox()
    async with client(gateway, downstream, quiet) as a, client(gateway, downstream, chatty) as b:
        await a.set_logging_level("error")
        await b.set_logging_level("debug")
        await a.call_tool("log_each_level", {})
        await b.call_tool("log_each_level", {})
        await quiet.wait_for(lambda: "error" in quiet.logs)
        await chatty.wait_for(lambda: len(chatty.logs) >= 4)
    # Each hears its own call's messages at its own level, and nothing of the other's call.
    assert quiet.logs == ["error"]
    assert chatty.logs == ["debug", "info", "warning", "error"]


async def test_resource_updates_reach_subscribers_only(gateway: str, downstream: str) -> None:
    watcher, bystander = Inbox(), Inbox()
    async with client(gateway, downstream, watcher) as a, client(gateway, downstream, bystander) as b:
        await a.subscribe_resource("fixture://hello")
        await b.subscribe_resource("fixture://other")
        await b.call_tool("touch", {"uri": "fixture://hello"})
        await watcher.wait_for(lambda: watcher.updated == ["fixture://hello"])
        await b.call_tool("touch", {"uri": "fixture://other"})
        await bystander.wait_for(lambda: bystander.updated == ["fixture://other"])
        await a.unsubscribe_resource("fixture://hello")
        await b.call_tool("touch", {"uri": "fixture://hello"})
        await b.call_tool("touch", {"uri": "fixture://other"})
        await bystander.wait_for(lambda: len(bystander.updated) == 2)
    assert watcher.updated == ["fixture://hello"]  # nothing after unsubscribing, nothing for other URIs
    assert bystander.updated == ["fixture://other", "fixture://other"]


async def test_list_changed_reaches_every_session_and_lists_are_live(gateway: str, downstream: str) -> None:
    first, second = Inbox(), Inbox()
    name = f"grown_{downstream.replace('-', '_')}"
    async with client(gateway, downstream, first) as a, client(gateway, downstream, second) as b:
        await a.call_tool("grow", {"name": name})
        await first.wait_for(lambda: first.tools_changed >= 1)
        await second.wait_for(lambda: second.tools_changed >= 1)
        names = {tool.name for tool in (await b.list_tools()).tools}
        assert name in names
        assert (await b.call_tool(name, {})).content[0].text == f"I am {name}"


async def test_completion_and_ping(gateway: str, downstream: str) -> None:
    async with client(gateway, downstream) as session:
        await session.send_ping()
        result = await session.complete(
            types.PromptReference(type="ref/prompt", name="greet"), {"name": "name", "value": "A"}
        )
    assert result.completion.values == ["Ada", "Alan"]


async def test_cancelling_a_call_cleans_up_the_upstream_request(gateway: str, downstream: str) -> None:
    async with client(gateway, downstream) as session:
        with anyio.move_on_after(0.5):
            await session.call_tool("slow", {"seconds": 30})
        async with httpx.AsyncClient() as http:
            with anyio.fail_after(10):
                while True:
                    status = (await http.get(f"{gateway}/status")).json()["upstreams"][0]
                    if status["inFlight"] == 0:
                        break
                    await anyio.sleep(0.05)
        # the session keeps working after a cancellation
        assert (await session.call_tool("echo", {"text": "after"})).content[0].text == "after"


async def test_unknown_tool_errors_pass_through(gateway: str, downstream: str) -> None:
    async with client(gateway, downstream) as session:
        result = await session.call_tool("no_such_tool", {})
    assert result.is_error and "no_such_tool" in result.content[0].text
