"""The decisions of one upstream link, as a pure state machine: events in, commands out.

One ``LinkCore`` per link (one upstream MCP session). It remaps request ids and progress tokens
(``core.requests``), keeps deadlines as timer commands, fans subscriptions and log levels out
over the sessions sharing the link (``core.fanout``), owns tasks per client (``core.tasks``),
filters what a server's config and the caller's identity hide (``core.filters``), holds tools
whose definitions changed since they were pinned (``core.pins``, with ``pinTools``), renames and
rewrites tools as the server's ``toolOverrides`` say (``core.tool_overrides``), speaks to
stateless upstreams (``core.link.stateless``) and — above all — decides who may see what the upstream sends.

Attribution by evidence, never by guess (``core.link.attribution``): an answer, progress or a
cancellation goes where its id or token says; a message on an HTTP reply stream goes to that
request's client; anything else the upstream starts (sampling, elicitation, roots, log messages)
goes to a client only when exactly one client has requests in flight. Otherwise a request is
refused with an error naming the ambiguity and a log message stays in the gateway's log; both are
counted, and the remedy (``sessionMode: "isolated"``) is logged once.

How a request ends without its answer (deadline, detach, lost transport) is ``core.link.endings``.
It never does I/O and never reads a clock: ``upstream.link`` feeds it and carries out its commands.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from mcp_central.config.model import ServerConfig
from mcp_central.core import jsonrpc
from mcp_central.core.fanout import LogLevels, Subscriptions
from mcp_central.core.filters import ServerFilters, identity_narrow, identity_refusal
from mcp_central.core.link.attribution import Attribution
from mcp_central.core.link.endings import Endings, deadline_key
from mcp_central.core.link.events import (
    ArmTimer,
    CancelTimer,
    ClientMessage,
    Command,
    Deliver,
    Detached,
    Event,
    Log,
    Owner,
    OwnRequest,
    SendUpstream,
    TimerFired,
    ToolsChanged,
    TransportLost,
    UpstreamMessage,
)
from mcp_central.core.link.fan_out import FANNED_OUT, QUIET
from mcp_central.core.link.stateless import ANSWERED_HERE, StatelessSide, answer_error, is_round_id
from mcp_central.core.pins import ServerPins
from mcp_central.core.requests import Pending, RequestTable
from mcp_central.core.server_requests import ServerRequests
from mcp_central.core.tasks import BY_TASK_ID, TaskOwners, creates_task, task_id_of
from mcp_central.core.tool_overrides import ToolOverrides
from mcp_central.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
)
from mcp_central.types import Message

REQUEST_CANCELLED = -32800
CREATES_TASK = "creates-task"
"""``Pending.context`` of a task-augmented request, whose answer names the task its owner gets."""


class LinkCore(Endings):
    def __init__(self, server: ServerConfig, declared: dict[str, Any], client_info: dict[str, Any]) -> None:
        self.name = server.name
        self.timeout = server.timeout
        self.declared = declared
        """What the link told its upstream the client side can do (server→client requests beyond it
        are refused)."""
        self.client_info = client_info
        self.table: RequestTable[Owner] = RequestTable()
        self.sessions: set[Owner] = set()
        self.server_requests: ServerRequests[Owner] = ServerRequests()
        self.subscriptions: Subscriptions[Owner] = Subscriptions()
        self.log_levels: LogLevels[Owner] = LogLevels()
        self.tasks: TaskOwners[Owner] = TaskOwners()
        self.filters = ServerFilters(server.tool_filter, server.prompt_filter, server.resource_filter)
        self.pins: ServerPins | None = None
        """With ``pinTools``: the server's pins, shared by its links (set by whoever makes the link).
        Applied to the upstream's own definitions, before anything renames or rewrites them."""
        self.overrides = ToolOverrides(server.tool_overrides)
        """Renames and rewrites of tools (after the filters; swapped in place on reload)."""
        self.attribution = Attribution(self.name, self.table)
        self.stateless: StatelessSide | None = None
        """Set while the upstream speaks only the stateless 2026-07-28 revision."""
        self.dropped: Counter[str] = Counter()
        """Upstream messages dropped, by reason (``malformed``, ``unknown-id``)."""

    def go_stateless(self, stateless: bool) -> None:
        """The handshake found (or did not find) a stateless upstream."""
        if not stateless:
            self.stateless = None
            return
        self.stateless = StatelessSide(
            self.client_info, self.declared, self.log_levels.level_of, self.server_requests, self._send
        )

    # ------------------------------------------------------------------ the one entry point

    def handle(self, event: Event) -> list[Command]:
        if type(event) is ClientMessage:
            return self._client(event.owner, event.message, event.own)
        if type(event) is UpstreamMessage:
            return self._upstream(event.message, event.related)
        if type(event) is TimerFired:
            return self._timer(event.key)
        if type(event) is OwnRequest:
            return self._send(event.owner, event.message, own=True, deadline=event.deadline)
        if type(event) is Detached:
            return self._detached(event.owner)
        if type(event) is TransportLost:
            return self.fail_in_flight(event.reason)
        raise TypeError(f"not a link event: {event!r}")

    # ------------------------------------------------------------------ client → upstream

    def attach(self, owner: Owner) -> None:
        self.sessions.add(owner)

    def _client(self, owner: Owner, message: Any, own: bool = False) -> list[Command]:
        if "method" not in message:
            return self._client_answer(owner, message)
        if "id" not in message:
            return self._client_notification(owner, message)
        method, request_id = message["method"], message["id"]
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method in FANNED_OUT and (answered := self._fan_out(owner, message, params)):
            return answered
        if self.stateless is not None and method in ANSWERED_HERE:
            return [Deliver(owner, jsonrpc.result_response(request_id, {}), request_id)]
        if method in BY_TASK_ID and not self.tasks.allows(owner, params.get("taskId")):
            error = jsonrpc.error_response(
                request_id, INVALID_PARAMS, f"Unknown task: {params.get('taskId')}"
            )
            return [Deliver(owner, error, request_id)]
        refused = None
        if method == "tools/call":
            # The caller's identity judges the name it sees; pins and toolFilter the upstream's own.
            refused = identity_refusal(owner, self.name, params)
            called = params.get("name")
            if refused is None and self.overrides:
                upstream_params, refused = self.overrides.upstream_call(params)
                if upstream_params is not None and upstream_params is not params:
                    message, params = {**message, "params": upstream_params}, upstream_params
                    if self.filters.refusal(method, params) is not None:
                        refused = f"Unknown tool: {called}"  # by the name it was called, not the original
            if refused is None and self.pins is not None:
                refused = self.pins.refusal(params, called if isinstance(called, str) else None)
        if refused is None:
            refused = self.filters.refusal(method, params)
        if refused is not None:
            return [Deliver(owner, jsonrpc.error_response(request_id, INVALID_PARAMS, refused), request_id)]
        return self._send(owner, message, own=own)

    def _send(
        self, owner: Owner, message: Message, *, own: bool = False, deadline: float | None = None
    ) -> list[Command]:
        """Record a request (id and token remapped), send it, and arm its deadline."""
        stateless = self.stateless
        remembered = None
        if stateless is not None:
            if own:
                message = stateless.envelope_for(None, message)
            else:
                remembered, message = stateless.outgoing(owner, message)
        pending = self.table.outgoing(owner, message, own=own)
        upstream_id: int = message["id"]
        if remembered is not None and stateless is not None:
            stateless.sent[upstream_id] = remembered
        if pending.method == "resources/subscribe":
            pending.context = (message.get("params") or {}).get("uri")
        elif creates_task(message):
            pending.context = CREATES_TASK
        seconds = self.timeout if deadline is None else deadline
        return [ArmTimer(deadline_key(upstream_id), seconds), SendUpstream(message)]

    def _client_notification(self, owner: Owner, message: Message) -> list[Command]:
        method = message["method"]
        if method == "notifications/initialized":
            return []  # the link sent its own when it initialized
        if method != "notifications/cancelled":
            return [SendUpstream(message)]
        params = message.get("params")
        request_id = params.get("requestId") if isinstance(params, dict) else None
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            return []
        upstream_id = self.table.upstream_id_of(owner, request_id)
        pending = self._forget(upstream_id)
        if pending is None or upstream_id is None:
            return []  # already answered or never ours: nothing to cancel
        # The client ignores any answer now, but whoever waits on its behalf must be released.
        error = {"code": REQUEST_CANCELLED, "message": "request cancelled by the client"}
        forwarded = {**message, "params": {**params, "requestId": upstream_id}}  # type: ignore[dict-item]
        return [CancelTimer(deadline_key(upstream_id)), answer_error(pending, error), SendUpstream(forwarded)]

    def _client_answer(self, owner: Owner, message: Message) -> list[Command]:
        """A client's answer to a server→client request (sampling, elicitation, roots)."""
        answer = self.server_requests.upstream(owner, message)
        if answer is None:
            return []
        if is_round_id(answer.get("id")):
            return self.stateless.answered(answer) if self.stateless is not None else []
        return [SendUpstream(answer)]

    # ------------------------------------------------------------------ upstream → client

    def _upstream(self, message: Any, related: int | None) -> list[Command]:
        if not isinstance(message, dict):
            return self._drop("malformed", f"not a JSON-RPC object: {type(message).__name__}")
        method = message.get("method")
        if method is None:
            return self._answer(message)
        params = message.get("params")
        if not isinstance(method, str) or (params is not None and not isinstance(params, dict)):
            return self._drop("malformed", f"bad method or params in {str(method)[:80]!r}")
        if "id" in message:
            return self._server_request(message, related)
        return self._notification(message, params or {}, related)

    def _answer(self, message: Message) -> list[Command]:
        upstream_id = message.get("id")
        pending = self.table.incoming_response(message)
        if pending is None:
            self.dropped["unknown-id"] += 1
            return [
                Log(logging.DEBUG, f"upstream '{self.name}': answer to unknown id {upstream_id!r} dropped")
            ]
        assert isinstance(upstream_id, int)
        commands: list[Command] = [CancelTimer(deadline_key(upstream_id))]
        if self.stateless is not None and not pending.own:
            rounds = self.stateless.incoming(upstream_id, pending, message)
            if rounds is not None:
                return commands + rounds
        result = message.get("result")
        if isinstance(result, dict):
            self.filters.apply(pending.method, result)
            if pending.method == "tools/list":
                if self.pins is not None:  # on the upstream's own definitions, before overrides
                    commands += self._pin_review(result)
                if not getattr(pending.owner, "upstream_names", False):
                    self.overrides.rewrite_list(result)
                identity_narrow(pending.owner, self.name, result)
        if pending.method == "resources/subscribe" and "error" in message:
            self.subscriptions.unsubscribe(pending.owner, str(pending.context))  # it did not take
        elif pending.context == CREATES_TASK and (task_id := task_id_of(result)):
            self.tasks.claim(pending.owner, task_id)
            commands += self.attribution.release_task(task_id, pending.owner)
        elif pending.method == "tasks/list" and isinstance(result, dict):
            self.tasks.filter_list(pending.owner, result)
        commands.append(Deliver(pending.owner, message, pending.downstream_id))
        return commands

    def _notification(self, message: Message, params: dict[str, Any], related: int | None) -> list[Command]:
        method = message["method"]
        if method == "notifications/progress":
            pending = self.table.progress_owner(params.get("progressToken"))
            if pending is None:
                return []
            params["progressToken"] = pending.progress_token
            return [Deliver(pending.owner, message, pending.downstream_id)]
        if method == "notifications/resources/updated":
            uri = str(params.get("uri"))
            return [Deliver(owner, message, None) for owner in self.subscriptions.subscribers(uri)]
        if method == "notifications/message":
            return self.attribution.log_message(message, params.get("level"), related, self.log_levels)
        if method == "notifications/tasks/status":
            return self._task_status(message, params, related)
        if method == "notifications/cancelled":
            withdrawn = self.server_requests.withdrawn(params.get("requestId"))
            if withdrawn is None:
                return []
            owner, proxy_id = withdrawn
            return [Deliver(owner, {**message, "params": {**params, "requestId": proxy_id}}, None)]
        if method == "notifications/subscriptions/acknowledged":
            return []  # the link's own listen stream: nobody downstream asked
        commands: list[Command] = [Deliver(owner, message, None) for owner in list(self.sessions)]
        if method == "notifications/tools/list_changed":
            commands.append(ToolsChanged())
        return commands

    def _pin_review(self, result: dict[str, Any]) -> list[Command]:
        """Hold the listed tools whose definitions are not pinned (``pinTools``); when that changes
        what clients may see, every session is told its list changed."""
        assert self.pins is not None
        warnings, changed = self.pins.narrow(result)
        commands: list[Command] = [Log(logging.WARNING, text) for text in warnings]
        return commands + (self.tools_changed() if changed else [])

    def tools_changed(self) -> list[Command]:
        """Tell every session its tool list changed, and count the tools again."""
        notice = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
        return [*(Deliver(owner, dict(notice), None) for owner in list(self.sessions)), ToolsChanged()]

    def _task_status(self, message: Message, params: dict[str, Any], related: int | None) -> list[Command]:
        task_id = task_id_of(params)
        if task_id is None:
            return self._drop("malformed", "a task status without a taskId")
        owner = self.tasks.owner_of(task_id)
        if owner is not None:
            return [Deliver(owner, message, None)]
        creating = self.attribution.task_creator(related, lambda pending: pending.context == CREATES_TASK)
        if creating is None:
            return self.attribution.hold(task_id, message, self.timeout)
        self.tasks.claim(creating.owner, task_id)
        return [Deliver(creating.owner, message, creating.downstream_id)]

    def _server_request(self, message: Message, related: int | None) -> list[Command]:
        method, request_id = message["method"], message["id"]
        if method == "ping":
            return [SendUpstream(jsonrpc.result_response(request_id, {}))]
        found = self.attribution.requester(method, related)
        if isinstance(found, str):
            return [
                SendUpstream(jsonrpc.error_response(request_id, INTERNAL_ERROR, found)),
                *self.attribution.said(),
            ]
        owner, related_id = found
        problem = self.attribution.refusal(method, owner, self.declared)
        if problem is not None:
            return [
                SendUpstream(jsonrpc.error_response(request_id, METHOD_NOT_FOUND, f"mcp-central: {problem}"))
            ]
        return [Deliver(owner, self.server_requests.downstream(message, owner), related_id)]

    def _drop(self, reason: str, detail: str) -> list[Command]:
        self.dropped[reason] += 1
        return [Log(logging.WARNING, f"upstream '{self.name}': {reason} message dropped: {detail}")]

    def status(self) -> dict[str, Any]:
        """What ``/status`` shows of the core: what could not be attributed, what was dropped."""
        return {"unattributed": dict(self.attribution.counts), "dropped": dict(self.dropped)}


__all__ = ["CREATES_TASK", "QUIET", "REQUEST_CANCELLED", "LinkCore", "Pending"]
