"""The link core's fan-out: one upstream subscription per URI and one upstream log level for all
the sessions sharing a link, and setting them again after a restart.

``FanOut`` is a part of ``LinkCore`` (``core.link.core``), kept in its own module: it decides when
the upstream must be asked (the first subscriber of a URI, a more verbose level) and answers the
client itself when it need not be; the books are ``core.fanout``'s. Sans-IO: commands out only.
"""

from __future__ import annotations

from typing import Any

from mcp_central.core import jsonrpc
from mcp_central.core.fanout import LogLevels, Subscriptions
from mcp_central.core.link.events import Command, Deliver, Owner
from mcp_central.core.link.stateless import StatelessSide
from mcp_central.types import Message

FANNED_OUT = frozenset({"resources/subscribe", "resources/unsubscribe", "logging/setLevel"})


class Quiet:
    """The owner of the link's own bookkeeping requests whose answers nobody needs."""

    client_capabilities: dict[str, Any] = {}

    def deliver(self, message: Any, related_request_id: Any) -> None:
        pass


QUIET = Quiet()


class FanOut:
    """Subscriptions and log levels of a link's sessions (a base of ``LinkCore``)."""

    subscriptions: Subscriptions[Owner]
    log_levels: LogLevels[Owner]
    stateless: StatelessSide | None
    sessions: set[Owner]

    def _send(
        self, owner: Owner, message: Message, *, own: bool = False, deadline: float | None = None
    ) -> list[Command]:
        raise NotImplementedError  # LinkCore's

    def _fan_out(self, owner: Owner, message: Message, params: dict[str, Any]) -> list[Command]:
        """Subscribe/unsubscribe/setLevel bookkeeping; the answer if the upstream need not be asked."""
        method = message["method"]
        if method == "resources/subscribe":
            must_ask = self.subscriptions.subscribe(owner, str(params.get("uri")))
        elif method == "resources/unsubscribe":
            must_ask = self.subscriptions.unsubscribe(owner, str(params.get("uri")))
        else:
            new_level = self.log_levels.set(owner, str(params.get("level")))
            must_ask = new_level is not None
            if must_ask:
                message["params"] = {**params, "level": new_level}
        commands: list[Command] = []
        if self.stateless is not None and method != "logging/setLevel" and must_ask:
            commands = self.stateless.listen(self.subscriptions.uris())
        if must_ask and self.stateless is None:
            return []
        return [*commands, Deliver(owner, jsonrpc.result_response(message["id"], {}), message["id"])]

    def bookkeeping(self, method: str, params: dict[str, Any]) -> list[Command]:
        """A request of the link's own whose answer nobody needs (unsubscribe, a new log level)."""
        if self.stateless is not None:  # levels travel with each request; subscriptions with listen
            return (
                self.stateless.listen(self.subscriptions.uris())
                if method in FANNED_OUT - {"logging/setLevel"}
                else []
            )
        request = {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}
        return self._send(QUIET, request, own=True)

    def follow_logs(self, owner: Owner, level: str) -> list[Command]:
        """Let ``owner`` hear log messages at ``level`` and up (attached; the upstream's level follows)."""
        self.sessions.add(owner)
        new_level = self.log_levels.set(owner, level)
        return self.bookkeeping("logging/setLevel", {"level": new_level}) if new_level is not None else []

    def restored(self) -> list[Command]:
        """After a restart the new upstream session knows nothing: subscribe and set the level again."""
        if self.stateless is not None:
            return self.stateless.listen(self.subscriptions.uris())
        commands: list[Command] = []
        for uri in self.subscriptions.uris():
            commands += self.bookkeeping("resources/subscribe", {"uri": uri})
        if (level := self.log_levels.upstream_level()) is not None:
            commands += self.bookkeeping("logging/setLevel", {"level": level})
        return commands
