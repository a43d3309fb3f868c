"""Traces (the ``otel`` extra): a span per call with the log line's attributes, its W3C
``traceparent`` carried to HTTP upstreams as a header and to every upstream in
``params._meta.traceparent``, a traced client's own ``traceparent`` as the parent; and without the
``OTEL_*`` variables no OpenTelemetry import at all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import echo_stdio, make_config, mcp_client, serve
from log_helpers import fixture_entry, http_fixture, serving
from mcp_central.config.model import ServerConfig
from mcp_central.ops import otel
from raw_http import Session

pytestmark = pytest.mark.anyio

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = otel.Tracing(provider)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


async def test_each_call_has_a_span_whose_traceparent_reaches_the_upstream(
    spans: InMemorySpanExporter,
) -> None:
    with http_fixture() as port:
        remote = ServerConfig(
            name="remote", transport="streamable-http", url=f"http://127.0.0.1:{port}/mcp", timeout=30
        )
        async with serve(make_config(echo_stdio("echo"), remote)) as (url, _app):
            seen: dict[int, str] = {}

            async def header_client(n: int) -> None:
                async with mcp_client(f"{url}/mcp", "streamable-http") as client:
                    result = await client.call_tool("remote__header", {"name": "traceparent"})
                    seen[n] = result.content[0].text  # type: ignore[union-attr]

            async with anyio.create_task_group() as tasks:
                for n in range(4):
                    tasks.start_soon(header_client, n)

            async with httpx.AsyncClient(timeout=30) as http:
                session = await Session(http, f"{url}/echo/mcp").open()
                plain, _ = await session.rpc(7, "tools/call", {"name": "echo", "arguments": {"text": "hi"}})
                traced_meta = {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"}
                traced, _ = await session.rpc(
                    8, "tools/call", {"name": "echo", "arguments": {"text": "hi"}, "_meta": traced_meta}
                )

    finished = spans.get_finished_spans()
    by_trace = {trace_id(span): span for span in finished}
    # HTTP upstream: each of the four concurrent calls saw its own span's trace id in the header.
    headers = list(seen.values())
    assert len({value.split("-")[1] for value in headers}) == 4
    for value in headers:
        version, trace, parent, flags = value.split("-")
        assert version == "00" and int(flags, 16) & 1  # sampled
        span = by_trace[trace]
        assert span.context is not None and f"{span.context.span_id:016x}" == parent
        attributes = dict(span.attributes or {})
        assert span.name == "tools/call header"
        assert attributes["mcp_central.route"] == "all" and attributes["mcp_central.server"] == "remote"
        assert attributes["mcp_central.tool"] == "header" and attributes["mcp_central.outcome"] == "ok"
        assert (
            attributes["mcp_central.method"] == "tools/call" and attributes["mcp.method.name"] == "tools/call"
        )
        assert len(str(attributes["mcp_central.session"])) == 8
        assert isinstance(attributes["mcp_central.duration_ms"], float)
    # stdio upstream: the forwarded request carried the span's traceparent in params._meta.
    received = plain["result"]["_meta"]["received"]["params"]["_meta"]["traceparent"]
    span = by_trace[received.split("-")[1]]
    assert dict(span.attributes or {})["mcp_central.server"] == "echo"
    # A traced client's traceparent is the span's parent; the upstream gets the span's own.
    forwarded = traced["result"]["_meta"]["received"]["params"]["_meta"]["traceparent"]
    child = by_trace[CLIENT_TRACE]
    assert child.parent is not None and f"{child.parent.span_id:016x}" == CLIENT_SPAN
    assert child.context is not None and forwarded.split("-")[2] == f"{child.context.span_id:016x}"


def test_without_the_variables_nothing_of_opentelemetry_is_imported() -> None:
    script = """
import sys
from mcp_central.cli import main, serve
from mcp_central.config.loader import default_config
from mcp_central.downstream.app import Gateway
from mcp_central.ops import tracing
from mcp_central.upstream import observed

Gateway(default_config())
assert tracing.install() is None and observed.tracer is None
loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
assert not loaded, loaded
print("clean")
"""
    for extra in (
        {},
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"},
    ):
        env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        done = subprocess.run(
            [sys.executable, "-c", script], env={**env, **extra}, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and done.stdout.strip() == "clean", (extra, done.stderr)


async def test_serve_exports_spans_as_the_variables_ask(tmp_path: Path) -> None:
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "gateway-under-test"}
    with serving({"mcpServers": {"fx": fixture_entry("fx")}}, tmp_path, env=env) as served:
        async with mcp_client(f"{served.url}/fx/mcp", "streamable-http") as client:
            await client.call_tool("echo", {"text": "traced"})
        text = served.stop()  # the batch is exported at shutdown
    assert "tracing on" in text
    assert '"name": "tools/call echo"' in text and '"service.name": "gateway-under-test"' in text
    assert '"mcp_central.server": "fx"' in text
