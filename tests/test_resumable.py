"""Resumable streams (2025-03-26 … 2025-11-25): a client that loses a reply stream gets back what it
missed with ``GET`` + ``Last-Event-ID`` — on that stream only — and the request is not cancelled.

Raw HTTP on purpose: dropping a connection mid-stream at a chosen event is what a client's network
does, and no SDK client lets a test choose that moment. The upstream is the SDK fixture server,
whose ``gated`` tool reports progress and then waits until ``open_gate`` is called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import orjson
import pytest

from conftest import fixture_stdio, make_config, serve
from raw_http import Session, call, events_until, messages

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[str]:
    async with serve(make_config(fixture_stdio("fx"))) as (url, _app):
        yield f"{url}/fx/mcp"


async def test_a_dropped_reply_stream_resumes_with_what_was_missed(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        session = await Session(client, gateway).open()
        with anyio.fail_after(20):
            async with session.stream_call(7, "gated", gate="resume-1") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                seen = await events_until(response, lambda events: len(events) >= 1)
            # The connection is gone after the first (priming) event; the call goes on upstream.
            priming = seen[0]
            assert priming.id and priming.data == "" and priming.retry is not None
            assert (await call(session, 8, "open_gate", gate="resume-1"))["result"]["content"][0][
                "text"
            ] == "opened"

            async with session.resume(priming.id) as resumed:
                assert resumed.status_code == 200
                replayed = await events_until(
                    resumed, lambda events: any("result" in m for m in messages(events))
                )

    got = messages(replayed)
    assert [m.get("method") for m in got] == ["notifications/progress", None]
    assert got[0]["params"]["progressToken"] == "p7"  # the client's own token, not the upstream's
    answer = got[-1]
    assert answer["id"] == 7 and answer["result"]["content"][0]["text"] == "passed resume-1"
    ids = [event.id for event in replayed if event.data]
    assert all(ids) and len(set(ids)) == len(ids) and priming.id not in ids


async def test_a_finished_stream_replays_only_its_own_missed_events(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        session = await Session(client, gateway).open()
        with anyio.fail_after(20):
            async with session.stream_call(1, "progress", steps=3) as response:
                full = await events_until(response, lambda events: False)
            assert [m.get("method") for m in messages(full)][-1] is None
            # Another stream of the same session must not leak into the replay.
            async with session.stream_call(2, "progress", steps=2) as other:
                await events_until(other, lambda events: False)
            first_progress = next(event for event in full if event.data)
            async with session.resume(str(first_progress.id)) as resumed:
                replayed = await events_until(resumed, lambda events: False)
    got = messages(replayed)
    assert [m.get("params", {}).get("progress") for m in got[:-1]] == [2, 3]
    assert got[-1]["id"] == 1
    assert [event.id for event in replayed] == [event.id for event in full if event.data][1:]


async def test_an_unknown_last_event_id_is_a_clear_400(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        session = await Session(client, gateway).open()
        async with session.resume("s99-12345") as resumed:
            body = orjson.loads(await resumed.aread())
    assert resumed.status_code == 400
    assert "Last-Event-ID" in body["error"]["message"]


async def test_older_revisions_get_event_ids_but_no_empty_priming_event(gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        session = await Session(client, gateway, version="2025-03-26").open()
        with anyio.fail_after(20):
            async with session.stream_call(3, "progress", steps=2) as response:
                events = await events_until(response, lambda events: False)
    assert events and all(event.data for event in events)  # a 2025-03-26 client may choke on empty data
    assert all(event.id for event in events)
