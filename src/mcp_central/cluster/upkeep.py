"""Keep the stored records of sessions in use on this replica from expiring.

A record expires ``ttl`` after its last write; a session used only on this replica would never be
written again, so once per ``REFRESH_SECONDS`` the records of sessions active here since the last
pass get their expiry pushed back — one pipelined Redis round trip, off every request's path.

Must not: end sessions (the idle reaper of ``downstream.app`` does) or write anything but expiries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from mcp_central.cluster.store import RedisShare
from mcp_central.downstream import replicated
from mcp_central.downstream.session import Route

REFRESH_SECONDS = 30.0


async def refresh_forever(share: RedisShare, routes: Callable[[], Iterable[Route]]) -> None:
    last = time.monotonic()
    while True:
        await asyncio.sleep(REFRESH_SECONDS)
        now = time.monotonic()
        ttls: dict[str, float] = {}
        for route in routes():
            ttl = replicated.record_ttl(route)
            for session_id, session in route.sessions.items():
                if session.last_active >= last or session.busy:
                    ttls[session_id] = ttl
        last = now
        await share.refresh(ttls, ttls.__getitem__)
