"""Subscriptions and log levels of many clients on one upstream session. Part of ``UpstreamLink``.

The upstream sees one subscription per URI and the most verbose level any client asked for
(``core.fanout`` keeps the books); after a restart both are set again. For a stateless upstream
there is nothing to set: levels ride on each request and subscriptions on the listen stream.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mcp_central.core import jsonrpc
from mcp_central.errors import UpstreamError
from mcp_central.types import Message
from mcp_central.upstream.owners import Downstream
from mcp_central.upstream.parts import LinkParts

log = logging.getLogger("mcp_central.upstream")


class FanOut(LinkParts):
    def follow_logs(self, owner: Downstream, level: str) -> None:
        """Let ``owner`` hear log messages at ``level`` and up (attached; the upstream's level follows)."""
        self._sessions.add(owner)
        new_level = self._log_levels.set(owner, level)
        if new_level is not None:
            self._spawn(self._call_quietly("logging/setLevel", {"level": new_level}))

    async def subscribe(self, owner: Downstream, uris: list[str]) -> list[str]:
        """Subscribe ``owner`` to resource updates for ``uris``; the ones the upstream accepted."""
        await self.ensure_ready()
        if self.stateless is not None:
            for uri in uris:
                self._subscriptions.subscribe(owner, uri)
            self.stateless.listen()
            return list(uris)
        accepted = []
        for uri in uris:
            if self._subscriptions.subscribe(owner, uri):
                try:
                    async with asyncio.timeout(self.server.timeout):
                        reply = await self._call("resources/subscribe", {"uri": uri})
                except (TimeoutError, UpstreamError):
                    reply = {"error": {}}
                if "error" in reply:
                    self._subscriptions.unsubscribe(owner, uri)
                    continue
            accepted.append(uri)
        return accepted

    def _answer_locally(self, session: Downstream, message: Message) -> bool:
        """Fan-out bookkeeping for subscribe/unsubscribe/setLevel; True if answered without the upstream."""
        method = message["method"]
        params = message.get("params") or {}
        if method == "resources/subscribe":
            must_ask = self._subscriptions.subscribe(session, str(params.get("uri")))
        elif method == "resources/unsubscribe":
            must_ask = self._subscriptions.unsubscribe(session, str(params.get("uri")))
        else:
            new_level = self._log_levels.set(session, str(params.get("level")))
            must_ask = new_level is not None
            if must_ask:
                message["params"] = {**params, "level": new_level}
        if not must_ask:
            session.deliver(jsonrpc.result_response(message["id"], {}), message["id"])
        return not must_ask

    async def _call_quietly(self, method: str, params: dict[str, Any]) -> None:
        """A bookkeeping request of the link's own whose answer nobody needs."""
        if self.stateless is not None and self.stateless.answers_locally(method):
            return  # levels travel with each request; subscriptions with the listen stream
        try:
            async with asyncio.timeout(self.server.timeout):
                await self._call(method, params)
        except (TimeoutError, UpstreamError):
            log.debug("upstream '%s': %s %s got no answer", self.name, method, params)

    def _restore_fan_out(self) -> None:
        """After a restart the new upstream session knows nothing: subscribe and set the level again."""
        for uri in self._subscriptions.uris():
            self._spawn(self._call_quietly("resources/subscribe", {"uri": uri}))
        if (level := self._log_levels.upstream_level()) is not None:
            self._spawn(self._call_quietly("logging/setLevel", {"level": level}))

    def log_level_of(self, owner: Downstream) -> str | None:
        return self._log_levels.level_of(owner)

    def subscribed_uris(self) -> list[str]:
        return self._subscriptions.uris()
