"""Coalesced refreshes (``core.coalesce``), without any I/O: one run in flight, at most one pending,
and never a request left without a run that starts after it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_central.core.coalesce import Coalesced


def test_a_burst_during_a_run_costs_exactly_one_more_run() -> None:
    refresh = Coalesced()
    assert refresh.wanted()  # the first request starts a run
    assert not any(refresh.wanted() for _ in range(2000))  # the burst arrives during it
    assert refresh.finished()  # one more run, for the whole burst
    assert not refresh.finished()  # and nothing after it
    assert refresh.wanted()  # idle again: the next request starts a run at once


def test_a_cancelled_run_leaves_nothing_in_flight() -> None:
    refresh = Coalesced()
    assert refresh.wanted() and not refresh.wanted()
    refresh.abandoned()
    assert refresh.wanted()


@given(st.lists(st.sampled_from(["ask", "finish"]), max_size=200))
def test_every_request_is_answered_by_a_run_that_starts_after_it(events: list[str]) -> None:
    refresh = Coalesced()
    running = False
    runs = 0
    asked_since_last_start = False
    for event in events + ["finish"] * 3:  # then let whatever is in flight or pending finish
        if event == "ask":
            asked_since_last_start = True
            if refresh.wanted():
                assert not running  # never two runs at once
                running, runs, asked_since_last_start = True, runs + 1, False
        elif running:
            if refresh.finished():
                assert asked_since_last_start  # a run again only if asked for during this one
                runs, asked_since_last_start = runs + 1, False
            else:
                running = False
    assert not running and not asked_since_last_start  # no request left behind
    assert runs <= events.count("ask")
