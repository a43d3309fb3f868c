"""Traces, when the environment asks for them: OpenTelemetry is imported only then.

Tracing is on when the optional extra is installed (``pip install 'mcp-central[otel]'``) and the
standard variables ask for it: ``OTEL_TRACES_EXPORTER`` (anything but ``none``) or an OTLP
endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), unless
``OTEL_SDK_DISABLED=true``. Otherwise nothing is imported and calls cost one ``if`` each
(``upstream.observed.tracer`` stays ``None``). What a span holds is in ``ops.otel``.

This module decides whether to trace; it must not import OpenTelemetry itself.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp_central.ops.otel import Tracing

log = logging.getLogger("mcp_central.ops")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted(environ: Mapping[str, str]) -> bool:
    """Do the ``OTEL_*`` variables ask for traces?"""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER")
    if exporter is not None:
        return exporter.strip().lower() not in ("", "none")
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def install(environ: Mapping[str, str] | None = None) -> Tracing | None:
    """Turn tracing on if the environment asks for it (``None``: it stays off)."""
    if not wanted(os.environ if environ is None else environ):
        return None
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        log.warning(
            "OTEL_* variables ask for traces but OpenTelemetry is not installed "
            "(pip install 'mcp-central[otel]'): no traces"
        )
        return None
    from mcp_central.ops import otel

    return otel.install(os.environ if environ is None else environ)
