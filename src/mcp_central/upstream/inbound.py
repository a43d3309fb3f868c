"""What a link does with what its upstream sends: answers back to who asked, notifications to who
may care, server→client requests to the client whose call is in flight. Part of ``UpstreamLink``.

Routing decisions only; sending, timers and lifecycle stay in ``upstream.link``.
"""

from __future__ import annotations

import logging

from mcp_central.core import jsonrpc
from mcp_central.core.server_requests import refusal
from mcp_central.core.supervision import LinkState
from mcp_central.core.tasks import task_id_of
from mcp_central.errors import METHOD_NOT_FOUND
from mcp_central.types import Message
from mcp_central.upstream.owners import Waiter
from mcp_central.upstream.parts import LinkParts

log = logging.getLogger("mcp_central.upstream")

CREATES_TASK = "creates-task"
"""``Pending.context`` of a task-augmented request, whose answer names the task its owner gets."""


class InboundRouting(LinkParts):
    def _on_message(self, message: Message) -> None:
        if self.lifecycle.state is LinkState.DEGRADED:
            self.lifecycle.heard_from()
            log.info("upstream '%s' answers again", self.name)
        if "method" in message:
            if "id" in message:
                self._on_server_request(message)
            else:
                self._on_notification(message)
            return
        upstream_id = message.get("id")
        pending = self._table.incoming_response(message)
        if pending is None:
            log.debug("upstream '%s': response to unknown id %r dropped", self.name, upstream_id)
            return
        if pending.timer is not None:
            pending.timer.cancel()
        if self.stateless is not None and self.stateless.incoming(upstream_id, pending, message):
            return
        if "result" in message:
            self._filters.apply(pending.method, message["result"])
        if pending.method == "resources/subscribe" and "error" in message:
            self._subscriptions.unsubscribe(pending.owner, str(pending.context))  # it did not take
        elif pending.context == CREATES_TASK and (task_id := task_id_of(message.get("result"))):
            self._task_owners.claim(pending.owner, task_id)
        elif pending.method == "tasks/list" and isinstance(message.get("result"), dict):
            self._task_owners.filter_list(pending.owner, message["result"])
        pending.owner.deliver(message, pending.downstream_id)

    def _on_notification(self, message: Message) -> None:
        method = message["method"]
        if method == "notifications/progress":
            params = message.get("params") or {}
            pending = self._table.progress_owner(params.get("progressToken"))
            if pending is not None:
                params["progressToken"] = pending.progress_token
                pending.owner.deliver(message, pending.downstream_id)
            return
        if method == "notifications/resources/updated":
            uri = str((message.get("params") or {}).get("uri"))
            for session in self._subscriptions.subscribers(uri):
                session.deliver(message, None)
            return
        if method == "notifications/tasks/status":
            self._on_task_status(message)
            return
        if method == "notifications/subscriptions/acknowledged":
            return  # the link's own listen stream: nobody downstream asked
        if method == "notifications/message":
            level = (message.get("params") or {}).get("level")
            for session in list(self._sessions):
                if self._log_levels.wants(session, level):
                    session.deliver(message, None)
            return
        if method == "notifications/tools/list_changed":
            self._refresh_tool_count_soon()  # coalesced: a burst of these costs one or two walks
        for session in list(self._sessions):
            session.deliver(message, None)

    def _on_task_status(self, message: Message) -> None:
        """A task's status goes to its owner only; a status that beats the ``CreateTaskResult`` to us
        belongs to the newest task-creating request in flight."""
        task_id = task_id_of(message.get("params"))
        owner = self._task_owners.owner_of(task_id)
        if owner is not None:
            owner.deliver(message, None)
            return
        creating = self._table.latest_where(lambda pending: pending.context == CREATES_TASK)
        if creating is None or task_id is None:
            log.debug("upstream '%s': status of unknown task %r dropped", self.name, task_id)
            return
        self._task_owners.claim(creating.owner, task_id)
        creating.owner.deliver(message, creating.downstream_id)

    def _on_server_request(self, message: Message) -> None:
        if message["method"] == "ping":
            self._send_soon(jsonrpc.result_response(message["id"], {}))
            return
        owner = self._table.latest_owner()
        if isinstance(owner, Waiter):
            owner = None
        capabilities = owner.client_capabilities if owner else {}
        problem = refusal(message["method"], owner, capabilities, self._client_capabilities)
        if problem is not None or owner is None:
            error = jsonrpc.error_response(message["id"], METHOD_NOT_FOUND, f"mcp-central: {problem}")
            self._send_soon(error)
            return
        owner.deliver(self._server_requests.downstream(message, owner), self._table.latest_of(owner))
