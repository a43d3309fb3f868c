"""The one SSE writer and the per-session queue bound, on their own (no sockets needed).

``EventStream.relay`` is the only loop that waits on a channel and writes keep-alives (legacy SSE,
streamable-HTTP streams, stateless replies, ``subscriptions/listen``); ``QueueBudget`` is the one
bound all of a session's channels share.
"""

from __future__ import annotations

import anyio
import pytest

from mcp_central.downstream import event_stream
from mcp_central.downstream.channel import Channel, ChannelClosed, QueueBudget
from mcp_central.downstream.event_stream import KEEPALIVE, EventStream
from mcp_central.types import ASGIMessage

pytestmark = pytest.mark.anyio


class Wire:
    """An ASGI ``send`` that keeps what was sent, and wakes a waiter after each body frame."""

    def __init__(self) -> None:
        self.sent: list[ASGIMessage] = []
        self.changed = anyio.Event()

    async def __call__(self, message: ASGIMessage) -> None:
        self.sent.append(message)
        self.changed.set()

    async def until(self, count: int) -> None:
        with anyio.fail_after(10):
            while len(self.sent) < count:
                self.changed = anyio.Event()
                await self.changed.wait()

    @property
    def bodies(self) -> list[bytes]:
        return [m.get("body", b"") for m in self.sent if m["type"] == "http.response.body"]


async def test_an_idle_stream_gets_keepalives_then_its_events_and_ends_when_the_channel_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_stream, "KEEPALIVE_SECONDS", 0.01)
    wire, channel = Wire(), Channel(QueueBudget(10))
    async with anyio.create_task_group() as tasks:
        stream = EventStream(wire)
        await stream.open()
        tasks.start_soon(stream.pump, channel)
        await wire.until(3)  # the start, then two keep-alives: nothing came for a while
        channel.put({"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": "hi"}})
        channel.close()
    assert wire.sent[0]["type"] == "http.response.start"
    assert wire.bodies[:2] == [KEEPALIVE, KEEPALIVE]
    events = [body for body in wire.bodies if body not in (KEEPALIVE,)]
    assert events[0].startswith(b"event: message\ndata: {") and b'"hi"' in events[0]
    assert events[-1] == b"" and wire.sent[-1].get("more_body") is None  # the response ended


async def test_relay_stops_at_the_callers_message_and_leaves_it_unwritten() -> None:
    wire, channel = Wire(), Channel(QueueBudget(10))
    for n in range(3):
        channel.put({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"n": n}})
    channel.put({"jsonrpc": "2.0", "id": 1, "result": {}})
    stopped = await EventStream(wire).relay(channel, stop=lambda message: "method" not in message)
    assert stopped == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert len(wire.bodies) == 3


async def test_a_sessions_streams_share_one_bound_and_overflow_once() -> None:
    overflowed: list[int] = []
    budget = QueueBudget(5, lambda: overflowed.append(budget.queued))
    first, second = Channel(budget), Channel(budget)
    for n in range(3):
        first.put({"n": n})
    for n in range(2):
        second.put({"n": n})
    assert budget.queued == 5 and not overflowed
    second.put({"n": "one too many"})  # each holds fewer than 5, together they hold 5
    assert overflowed == [3]  # told once; the channel that overflowed dropped its share
    first.put({"n": "ignored"})
    assert overflowed == [3]
    with pytest.raises(ChannelClosed):
        await second.get()


async def test_a_discarded_stream_gives_its_share_back_and_reading_frees_it_too() -> None:
    budget = QueueBudget(4)
    done, live = Channel(budget), Channel(budget)
    for n in range(3):
        done.put({"n": n})
    live.put({"n": 0})
    assert budget.queued == 4
    done.discard()  # an answered reply whose late messages nobody will read
    assert budget.queued == 1
    assert await live.get() == {"n": 0}
    assert budget.queued == 0
    for n in range(4):
        live.put({"n": n})
    assert budget.queued == 4
