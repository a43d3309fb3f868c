"""Who may see what an upstream sends on its own initiative: evidence, never a guess. Sans-IO.

On a link shared by several clients, a server→client request (sampling, elicitation, roots) or a
log message belongs to whichever client's call caused it — but only some wires say which:

- a streamable-HTTP upstream sends it on the reply stream of that call (``related``): that client;
- stdio and legacy SSE say nothing: it is delivered only when exactly one client has requests in
  flight, for then nobody else can have caused it.

When more than one client could have, a request is refused with an error naming the ambiguity and
a log message stays in the gateway's log; both are counted, and the remedy (``sessionMode:
"isolated"``) is logged once per link. A task status whose task nobody has claimed yet is tied to
its client the same way, or held (bounded in count and time) until the task's creating result
names its owner.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from mcp_central.core.fanout import LogLevels
from mcp_central.core.link.events import ArmTimer, CancelTimer, Command, Deliver, Log
from mcp_central.core.requests import Pending, RequestTable
from mcp_central.core.server_requests import refusal
from mcp_central.types import Message, RequestId

MAX_HELD_TASKS = 64
"""Tasks whose statuses may wait for their creating result at once; more are dropped (counted)."""
MAX_HELD_PER_TASK = 16


class Attribution:
    def __init__(self, name: str, table: RequestTable[Any]) -> None:
        self.name = name
        self.table: RequestTable[Any] = table
        self.counts: Counter[str] = Counter()
        """What could not be attributed, by kind: ``request``, ``log``, ``task-status``."""
        self._told = False
        self._held: dict[str, list[Message]] = {}
        self._said: list[Command] = []

    # ------------------------------------------------------------------ evidence

    def _related(self, related: int | None) -> Pending[Any] | None:
        pending = self.table.get(related)
        return pending if pending is not None and not pending.own else None

    def _only_client(self) -> Any | None:
        clients = self.table.clients_in_flight()
        return clients[0] if len(clients) == 1 else None

    def requester(self, method: str, related: int | None) -> tuple[Any, RequestId | None] | str:
        """The client a server→client request is for, and its related request; else why not."""
        if related is not None:
            pending = self._related(related)
            if pending is not None:
                return pending.owner, pending.downstream_id
            return f"no client request is in flight that could answer '{method}'"
        clients = self.table.clients_in_flight()
        if len(clients) == 1:
            return clients[0], self.table.latest_of(clients[0])
        if not clients:
            return f"no client request is in flight that could answer '{method}'"
        self.counts["request"] += 1
        self._said += self._remedy()
        return (
            f"mcp-central: '{method}' could be for any of {len(clients)} clients with calls in flight on "
            f"the shared upstream '{self.name}', and its transport does not say which; refused rather "
            f"than guessed (sessionMode 'isolated' gives each client its own upstream)"
        )

    def said(self) -> list[Command]:
        """Log lines owed since the last call (the remedy, the first time)."""
        said, self._said = self._said, []
        return said

    @staticmethod
    def refusal(method: str, owner: Any, declared: dict[str, Any]) -> str | None:
        return refusal(method, owner, owner.client_capabilities, declared)

    def log_message(
        self, message: Message, level: Any, related: int | None, levels: LogLevels[Any]
    ) -> list[Command]:
        """A ``notifications/message``: to the client whose call it came from, or the gateway's log."""
        owner: Any = None
        related_id: RequestId | None = None
        if related is not None:
            pending = self._related(related)
            if pending is not None:
                owner, related_id = pending.owner, pending.downstream_id
        else:
            owner = self._only_client()
            if owner is not None:
                related_id = self.table.latest_of(owner)
        if owner is not None:
            return [Deliver(owner, message, related_id)] if levels.wants(owner, level) else []
        self.counts["log"] += 1
        data = str((message.get("params") or {}).get("data"))[:500]
        kept = Log(logging.DEBUG, f"upstream '{self.name}': log message kept here (no one client's): {data}")
        return [kept, *self._remedy()]

    def task_creator(
        self, related: int | None, creating: Callable[[Pending[Any]], bool]
    ) -> Pending[Any] | None:
        """The request a task status can be tied to: its reply stream's, or the one creating request."""
        if related is not None:
            return self._related(related)
        candidates = [pending for pending in self.table if not pending.own and creating(pending)]
        return candidates[0] if len(candidates) == 1 else None

    # ------------------------------------------------------------------ held task statuses

    def hold(self, task_id: str, message: Message, seconds: float) -> list[Command]:
        """Keep a status until the task's owner is known (its creating result), for ``seconds`` at most."""
        held = self._held.get(task_id)
        commands: list[Command] = []
        if held is None:
            if len(self._held) >= MAX_HELD_TASKS:
                self.counts["task-status"] += 1
                return [
                    Log(
                        logging.DEBUG, f"upstream '{self.name}': status of unclaimed task {task_id!r} dropped"
                    )
                ]
            held = self._held[task_id] = []
            commands.append(ArmTimer(("held-task", task_id), seconds))
        if len(held) < MAX_HELD_PER_TASK:
            held.append(message)
        else:
            self.counts["task-status"] += 1
        return commands

    def release_task(self, task_id: str, owner: Any) -> list[Command]:
        held = self._held.pop(task_id, None)
        if held is None:
            return []
        return [CancelTimer(("held-task", task_id)), *(Deliver(owner, message, None) for message in held)]

    def expire_task(self, task_id: Any) -> list[Command]:
        held = self._held.pop(task_id, None)
        if not held:
            return []
        self.counts["task-status"] += len(held)
        return [
            Log(logging.DEBUG, f"upstream '{self.name}': status of task {task_id!r} never claimed, dropped")
        ]

    def clear(self) -> list[Command]:
        commands: list[Command] = [CancelTimer(("held-task", task_id)) for task_id in self._held]
        self._held.clear()
        return commands

    def _remedy(self) -> list[Command]:
        if self._told:
            return []
        self._told = True
        return [
            Log(
                logging.WARNING,
                f"upstream '{self.name}' is shared by several clients and sent requests or log messages "
                "that say nothing of whose call they belong to: they are refused or kept in this log "
                f'(counted under \'unattributed\' in /status). Set "sessionMode": "isolated" on '
                f"mcpServers.{self.name} to give each client its own upstream session.",
            )
        ]
