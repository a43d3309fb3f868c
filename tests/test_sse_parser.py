"""The sans-IO SSE parser: events split anywhere, every line-ending style, comments, ids."""

from __future__ import annotations

import pytest

from mcp_central.core.sse_parser import Event, SSEParser

STREAM = (
    b'event: endpoint\r\ndata: /m?s=1\r\n\r\n: comment\n\ndata: {"a":\ndata: 1}\nid: 7\n\nid: 8\ndata:\n\n'
)
EXPECTED = [
    Event("endpoint", "/m?s=1"),
    Event("message", '{"a":\n1}', "7"),
    Event("message", "", "8"),  # a priming event: an id and empty data
]


def test_whole_stream() -> None:
    assert SSEParser().feed(STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_any_chunking_gives_the_same_events(size: int) -> None:
    parser = SSEParser()
    events = []
    for start in range(0, len(STREAM), size):
        events += parser.feed(STREAM[start : start + size])
    assert events == EXPECTED


def test_bare_carriage_returns_and_retry() -> None:
    parser = SSEParser()
    assert parser.feed(b"retry: 3000\rdata: x\r") == []
    assert parser.feed(b"\r") == [Event("message", "x", None, 3000)]


def test_a_long_line_fed_in_small_chunks_arrives_whole() -> None:
    parser = SSEParser()
    stream = b"id: 7\r\ndata: " + b"x" * 100_000 + b"\r\n\r\n"
    events = []
    for start in range(0, len(stream), 1000):
        events += parser.feed(stream[start : start + 1000])
        assert parser.pending_bytes <= 100_010  # what waits is the unfinished event, nothing more
    assert [(event.id, len(event.data)) for event in events] == [("7", 100_000)]
    assert parser.pending_bytes == 0
