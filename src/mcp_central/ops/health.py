"""``GET /``, ``/healthz``, ``/readyz`` and ``/status``: is the process serving, is it ready, how is
each upstream. Read-only views of the upstream manager; they never start or stop anything.
"""

from __future__ import annotations

import time
from typing import Any

from mcp_central import __version__
from mcp_central.config import redact
from mcp_central.downstream.http import respond, respond_json
from mcp_central.types import Send
from mcp_central.upstream.manager import UpstreamManager

STARTED = time.time()


async def root(manager: UpstreamManager, send: Send) -> None:
    ready = sum(link.lifecycle.serving for link in manager.links.values())
    body = f"mcp-central {__version__}: serving, {ready}/{len(manager.links)} upstreams ready\n"
    if down := manager.down():
        body += "down: " + ", ".join(f"{name} ({state})" for name, state in down) + "\n"
    await respond(send, 200, body.encode())


async def healthz(send: Send) -> None:
    await respond_json(send, 200, {"status": "ok"})


async def readyz(manager: UpstreamManager, send: Send) -> None:
    ready, reasons = manager.ready()
    await respond_json(send, 200 if ready else 503, {"ready": ready, "reasons": reasons})


async def status(
    manager: UpstreamManager,
    send: Send,
    groups: list[dict[str, Any]] | None = None,
    reload: dict[str, Any] | None = None,
    refusals: dict[str, dict[str, int]] | None = None,
    identities: dict[str, dict[str, Any]] | None = None,
) -> None:
    proxy = manager.config.proxy
    await respond_json(
        send,
        200,
        {
            "name": proxy.name,
            "version": __version__,
            "uptimeSeconds": round(time.time() - STARTED, 3),
            "config": redact.url(source) if (source := manager.config.source) else None,
            "upstreams": manager.status(),
            "groups": groups or [],
            "lastReload": reload,
            "refused": refusals or {},
            "identities": identities or {},
        },
    )
