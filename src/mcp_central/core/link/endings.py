"""How a request in flight on a link ends without its answer: a deadline passes, the write fails,
its session detaches, or the transport is lost. Every case answers whoever waits (the client, or
the link's own waiter) and tells the upstream to stop when it may still be working.

``Endings`` is a part of ``LinkCore`` (``core.link.core``), kept in its own module like ``FanOut``
(which it builds on: a detached session's subscriptions and log level are given back through its
bookkeeping). Sans-IO: commands out only; the books are ``core.requests``' and the core's.
"""

from __future__ import annotations

from typing import Any

from mcp_central.core import jsonrpc
from mcp_central.core.link.attribution import Attribution
from mcp_central.core.link.events import CancelTimer, Command, MissedDeadline, Owner, SendUpstream
from mcp_central.core.link.fan_out import FanOut
from mcp_central.core.link.stateless import answer_error, is_round_id
from mcp_central.core.requests import Pending, RequestTable
from mcp_central.core.server_requests import ServerRequests
from mcp_central.core.tasks import TaskOwners
from mcp_central.errors import METHOD_NOT_FOUND, UpstreamTimeout, UpstreamUnavailable, to_jsonrpc_error
from mcp_central.types import Message


def deadline_key(upstream_id: int) -> tuple[str, int]:
    """The timer key of a request's deadline (``ArmTimer``, ``CancelTimer``, ``TimerFired``)."""
    return ("deadline", upstream_id)


def cancelled_notice(upstream_id: int, reason: str) -> Message:
    """The ``notifications/cancelled`` that tells the upstream to stop working on ``upstream_id``."""
    return {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": upstream_id, "reason": reason},
    }


class Endings(FanOut):
    """Requests that end early (a base of ``LinkCore``, over ``FanOut``)."""

    name: str
    timeout: float
    table: RequestTable[Owner]
    server_requests: ServerRequests[Owner]
    tasks: TaskOwners[Owner]
    attribution: Attribution

    def _forget(self, upstream_id: Any) -> Pending[Owner] | None:
        """Stop tracking a request in flight (ended early): its entry, or ``None`` if it had none."""
        pending = self.table.pop(upstream_id)
        if pending is not None and self.stateless is not None:
            self.stateless.sent.pop(upstream_id, None)
        return pending

    def unsent(self, upstream_id: int, error: dict[str, Any]) -> list[Command]:
        """A request could not be written upstream: its client gets ``error`` now."""
        pending = self._forget(upstream_id)
        if pending is None:
            return []
        return [CancelTimer(deadline_key(upstream_id)), answer_error(pending, error)]

    def _timer(self, key: tuple[str, Any]) -> list[Command]:
        kind, value = key
        if kind == "held-task":
            return self.attribution.expire_task(value)
        pending = self._forget(value)
        if pending is None:
            return []
        detail = f"no answer to '{pending.method}' within {self.timeout:g}s"
        error = to_jsonrpc_error(UpstreamTimeout(self.name, detail))
        commands: list[Command] = [CancelTimer(key), answer_error(pending, error)]
        commands.append(SendUpstream(cancelled_notice(value, "timed out in mcp-central")))
        # An upstream waiting on a client (a sampling request nobody answered) is not at fault.
        if not pending.own and not self.server_requests.asks(pending.owner):
            commands.append(MissedDeadline(detail))
        return commands

    def _detached(self, owner: Owner) -> list[Command]:
        """The session ended: cancel what it still has in flight and refuse requests sent to it."""
        self.sessions.discard(owner)
        commands: list[Command] = []
        for upstream_id in self.table.owned_by(owner):
            self._forget(upstream_id)
            commands += [
                CancelTimer(deadline_key(upstream_id)),
                SendUpstream(cancelled_notice(upstream_id, "client session ended")),
            ]
        for uri in self.subscriptions.drop(owner):
            commands += self.bookkeeping("resources/unsubscribe", {"uri": uri})
        self.tasks.drop(owner)
        if (level := self.log_levels.drop(owner)) is not None:
            commands += self.bookkeeping("logging/setLevel", {"level": level})
        if self.stateless is not None:
            self.stateless.forget(owner)
        for server_request_id in self.server_requests.drop(owner):
            if is_round_id(server_request_id):
                continue  # asked on behalf of a stateless upstream, which waits for nothing
            error = jsonrpc.error_response(server_request_id, METHOD_NOT_FOUND, "the client session ended")
            commands.append(SendUpstream(error))
        return commands

    def fail_in_flight(self, reason: str) -> list[Command]:
        """Answer every request in flight with an error now (lost connection, stop, shutdown)."""
        error = to_jsonrpc_error(UpstreamUnavailable(self.name, reason))
        commands: list[Command] = []
        for upstream_id, pending in self.table.drain():
            commands += [CancelTimer(deadline_key(upstream_id)), answer_error(pending, error)]
        self.server_requests.clear()
        if self.stateless is not None:
            self.stateless.clear()
        return commands + self.attribution.clear()
