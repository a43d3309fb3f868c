"""OpenTelemetry spans for calls (imported only when ``ops.tracing`` turns tracing on).

Each client request gets a span from the moment it goes upstream to its answer, named
``METHOD [tool, prompt or URI]``, with the attributes of its log line (``ops.call_log``) as
``mcp_central.route``, ``mcp_central.server``, ``mcp_central.session``, ``mcp_central.method``,
``mcp_central.tool``…, ``mcp_central.outcome`` and ``mcp_central.duration_ms``, plus
``mcp.method.name``. A request that carries a W3C ``traceparent`` in ``params._meta`` (a traced
client) becomes the span's parent. The span's own ``traceparent`` (and ``tracestate``) replace it
in the forwarded request's ``params._meta``; HTTP upstreams also get them as headers
(``upstream.http``). Requests refused before any upstream get a span after the fact, from their
record. Exporters follow ``OTEL_TRACES_EXPORTER`` (``otlp`` by default, ``console``), over
``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`` (``http/protobuf`` by default, or ``grpc``); the
exporters read their own ``OTEL_EXPORTER_OTLP_*`` settings, the resource ``OTEL_SERVICE_NAME``
and ``OTEL_RESOURCE_ATTRIBUTES`` (service name ``mcp-central`` unless set).

This module makes spans; it must not change what a call does besides the trace context.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mcp_central import __version__
from mcp_central.core.calls import CallContext, CallRecord, target_of
from mcp_central.ops.call_log import call_fields
from mcp_central.types import Message
from mcp_central.upstream import observed

log = logging.getLogger("mcp_central.ops")
PROPAGATOR = TraceContextTextMapPropagator()


def _attributes(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {f"mcp_central.{key}": value for key, value in fields.items() if value is not None}


class CallSpans:
    """The ``upstream.observed.CallTracer`` (and, for refusals, a ``CallObserver``)."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def start(self, context: CallContext, server: str, message: Message) -> Span:
        method = message.get("method", "")
        params = message.get("params")
        if params is None:
            params = message["params"] = {}
        meta = params.get("_meta") if isinstance(params, dict) else None
        if isinstance(params, dict) and meta is None:
            meta = params["_meta"] = {}
        parent: Context | None = None
        if isinstance(meta, dict) and isinstance(meta.get("traceparent"), str):
            parent = PROPAGATOR.extract(meta)
        target = target_of(method, params)
        fields = {
            "route": context.route,
            "server": server,
            "session": context.session or None,
            "transport": context.transport,
            "method": method,
            "identity": context.identity,
        }
        span = self.tracer.start_span(
            f"{method} {target}" if target else method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"mcp.method.name": method, **_attributes(fields)},
        )
        if isinstance(meta, dict):
            PROPAGATOR.inject(meta, context=set_span_in_context(span))
        return span

    def finish(self, span: object, record: CallRecord | None) -> None:
        assert isinstance(span, Span)
        if record is None:
            span.set_status(Status(StatusCode.ERROR, "the client went away unanswered"))
        else:
            span.set_attributes(_attributes(call_fields(record)))
            if record.outcome != "ok":
                span.set_status(Status(StatusCode.ERROR, record.error or record.outcome))
        span.end()

    def call_finished(self, record: CallRecord) -> None:
        """Records without a server were refused before any upstream: they get a span too."""
        if record.server:
            return
        start = int(record.started * 1e9)
        span = self.tracer.start_span(
            record.method,
            kind=SpanKind.SERVER,
            start_time=start,
            attributes={"mcp.method.name": record.method},
        )
        span.set_attributes(_attributes(call_fields(record)))
        span.set_status(Status(StatusCode.ERROR, record.error or record.outcome))
        span.end(end_time=start + int(record.duration * 1e9))


class Tracing:
    """Tracing turned on: ``spans`` is installed as ``upstream.observed.tracer``."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.spans = CallSpans(provider.get_tracer("mcp_central", __version__))
        observed.tracer = self.spans

    def shutdown(self) -> None:
        """Stop tracing and export what is left."""
        if observed.tracer is self.spans:
            observed.tracer = None
        self.provider.shutdown()


def install(environ: Mapping[str, str], exporters: list[SpanExporter] | None = None) -> Tracing:
    named = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": "mcp-central"}
    provider = TracerProvider(resource=Resource.create(named))
    for exporter in _exporters(environ) if exporters is None else exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    log.info("tracing on: OpenTelemetry spans for every call")
    return Tracing(provider)


def _exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    out: list[SpanExporter] = []
    for name in (part.strip().lower() for part in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")):
        if name == "otlp":
            out.append(_otlp(environ))
        elif name == "console":
            out.append(ConsoleSpanExporter())
        elif name and name != "none":
            log.warning("OTEL_TRACES_EXPORTER: unknown exporter %r ignored (known: otlp, console)", name)
    return out


def _otlp(environ: Mapping[str, str]) -> SpanExporter:
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol.strip().lower() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

        return Grpc()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    return Http()
