"""What the stdio front end decides, sans-IO: events in (a message from the stdio client, one from
the gateway, the session lost or reopened), commands out (``ToClient``, ``ToGateway``, ``Open``,
``Note``).

Messages pass as they are, ids included: the front end is one client of one gateway session, so
nothing needs remapping. It keeps only what a reconnect needs:

- the client's ``initialize``, replayed under an id of its own (``OWN_ID_PREFIX``) to open a new
  session when the old one is lost (gateway restarted, network dropped, session expired), followed
  by ``notifications/initialized``, the client's last ``logging/setLevel`` and its resource
  subscriptions; then the client is told ``list_changed`` for what the server declared it may
  change, since the new session's lists may differ. The client keeps its own session throughout.
- the client's requests in flight: when the session is lost they are answered with an error
  (``SESSION_LOST``; they may or may not have run, so they are not resent), and the gateway's
  requests the client has not answered yet are cancelled (``notifications/cancelled``); a late
  answer to one is dropped.
- what the client sends while no session is open: requests wait for the next session; once the
  driver says reconnecting takes too long (``stop_waiting``) they, and new ones, get an error at
  once until a session opens again. Notifications sent meanwhile belonged to the lost session and
  are dropped.

This module does no IO, reads no clock and never looks inside params beyond the few fields above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mcp_central.core.jsonrpc import error_response
from mcp_central.types import Message

OWN_ID_PREFIX = "mcp-central-stdio/"
SESSION_LOST = -32000
"""The JSON-RPC error code for requests the lost session can no longer answer."""
METHOD_NOT_FOUND = -32601
LIST_CHANGED = {
    "tools": "notifications/tools/list_changed",
    "prompts": "notifications/prompts/list_changed",
    "resources": "notifications/resources/list_changed",
}


@dataclass(frozen=True)
class ToClient:
    message: Message


@dataclass(frozen=True)
class ToGateway:
    message: Message


@dataclass(frozen=True)
class Open:
    """Open the first gateway session with the client's own ``initialize``; report ``opened``."""

    initialize: Message


@dataclass(frozen=True)
class Note:
    """Something the operator should read in the log (stderr)."""

    level: Literal["info", "warning"]
    text: str


Command = ToClient | ToGateway | Open | Note
State = Literal["new", "opening", "ready", "down"]


@dataclass
class BridgeCore:
    state: State = "new"
    initialize: Message | None = None
    server_capabilities: dict[str, Any] = field(default_factory=dict)
    protocol_version: str | None = None
    in_flight: dict[Any, str] = field(default_factory=dict)
    """The client's requests the gateway has not answered, by id: their method."""
    asked: set[Any] = field(default_factory=set)
    """The gateway's requests the client has not answered, by id."""
    held: list[Message] = field(default_factory=list)
    failing_fast: bool = False
    log_level: Any = None
    subscriptions: dict[str, None] = field(default_factory=dict)
    _own_ids: int = 0

    # ------------------------------------------------------------------ from the client

    def from_client(self, message: Message) -> list[Command]:
        method = message.get("method")
        if isinstance(method, str) and "id" in message:
            return self._client_request(message, method)
        if isinstance(method, str):
            return self._client_notification(message, method)
        if message.get("id") in self.asked and self.state == "ready":
            self.asked.discard(message.get("id"))
            return [ToGateway(message)]
        return [Note("info", f"dropped the client's answer to {message.get('id')!r}: its session is gone")]

    def _client_request(self, message: Message, method: str) -> list[Command]:
        request_id = message["id"]
        if method == "initialize":
            if self.state != "new":
                return [ToClient(error_response(request_id, -32600, "the session is already initialized"))]
            self.state, self.initialize = "opening", message
            return [Open(message)]
        if self.state == "new":
            text = f"send initialize first: this bridge relays the initialize handshake, not {method!r}"
            return [ToClient(error_response(request_id, METHOD_NOT_FOUND, text))]
        self._remember(message, method)
        if self.state == "ready":
            self.in_flight[request_id] = method
            return [ToGateway(message)]
        if self.failing_fast:
            return [ToClient(self._unreachable(request_id))]
        self.held.append(message)
        return []

    def _client_notification(self, message: Message, method: str) -> list[Command]:
        if method == "notifications/cancelled":
            request_id = (message.get("params") or {}).get("requestId")
            before = len(self.held)
            self.held = [held for held in self.held if held.get("id") != request_id]
            if len(self.held) < before:
                return []  # never sent: nothing to cancel upstream
            self.in_flight.pop(request_id, None)
        if self.state == "ready":
            return [ToGateway(message)]
        if self.state == "opening":
            self.held.append(message)
        return []  # "down": it belonged to the lost session

    def _remember(self, message: Message, method: str) -> None:
        """What a new session must be told again: the log level and the subscriptions."""
        params = message.get("params") or {}
        if method == "logging/setLevel":
            self.log_level = params.get("level")
        elif method == "resources/subscribe" and isinstance(params.get("uri"), str):
            self.subscriptions[params["uri"]] = None
        elif method == "resources/unsubscribe":
            self.subscriptions.pop(str(params.get("uri")), None)

    # ------------------------------------------------------------------ from the gateway

    def from_gateway(self, message: Message) -> list[Command]:
        method = message.get("method")
        request_id = message.get("id")
        if method is None:
            if isinstance(request_id, str) and request_id.startswith(OWN_ID_PREFIX):
                if "error" in message:
                    text = f"the new session refused a replayed request: {message['error']}"
                    return [Note("warning", text)]
                return []
            self.in_flight.pop(request_id, None)
        elif "id" in message:
            self.asked.add(request_id)
        return [ToClient(message)]

    # ------------------------------------------------------------------ the session

    def opened(self, response: Message) -> list[Command]:
        """The gateway's answer to the ``initialize`` of ``Open`` (first session)."""
        if "result" not in response:
            self.state, self.initialize = "new", None
            return [ToClient(response)]
        result = response["result"]
        self.server_capabilities = dict(result.get("capabilities") or {})
        self.protocol_version = result.get("protocolVersion")
        self.state = "ready"
        return [ToClient(response), *self._flush()]

    def lost(self, reason: str) -> list[Command]:
        """The session is gone: answer what it will never answer, cancel what it asked."""
        commands: list[Command] = [Note("warning", f"lost the gateway session: {reason}; reconnecting")]
        text = f"the connection to the gateway was lost ({reason}); the request may or may not have run"
        for request_id in self.in_flight:
            commands.append(ToClient(error_response(request_id, SESSION_LOST, text)))
        for request_id in sorted(self.asked, key=str):
            params = {"requestId": request_id, "reason": "the gateway session was lost"}
            cancelled = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
            commands.append(ToClient(cancelled))
        self.in_flight.clear()
        self.asked.clear()
        self.state = "down"
        return commands

    def reopen_request(self) -> Message:
        """The client's ``initialize`` again, under an id of our own, for a new session."""
        assert self.initialize is not None
        return {**self.initialize, "id": self._own_id()}

    def reopened(self, response: Message) -> list[Command]:
        """A new session answered ``reopen_request`` with a result: bring it to where the old was."""
        result = response.get("result") or {}
        commands: list[Command] = [Note("info", "reconnected: a new gateway session is open")]
        if result.get("protocolVersion") != self.protocol_version:
            text = f"the new session speaks {result.get('protocolVersion')!r}, not {self.protocol_version!r}"
            commands.append(Note("warning", text))
        commands.append(ToGateway({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        if self.log_level is not None:
            commands.append(self._own_request("logging/setLevel", {"level": self.log_level}))
        for uri in self.subscriptions:
            commands.append(self._own_request("resources/subscribe", {"uri": uri}))
        self.state, self.failing_fast = "ready", False
        commands.extend(self._flush())
        for capability, notification in LIST_CHANGED.items():
            if (self.server_capabilities.get(capability) or {}).get("listChanged"):
                commands.append(ToClient({"jsonrpc": "2.0", "method": notification}))
        return commands

    def stop_waiting(self, reason: str) -> list[Command]:
        """Reconnecting takes too long: answer the held requests, and new ones at once, with an error."""
        self.failing_fast = True
        commands: list[Command] = [
            ToClient(self._unreachable(held["id"], reason)) for held in self.held if "id" in held
        ]
        self.held.clear()
        return commands

    def _flush(self) -> list[Command]:
        held, self.held = self.held, []
        commands: list[Command] = []
        for message in held:
            if "id" in message and "method" in message:
                self.in_flight[message["id"]] = message["method"]
            commands.append(ToGateway(message))
        return commands

    def _own_request(self, method: str, params: dict[str, Any]) -> ToGateway:
        return ToGateway({"jsonrpc": "2.0", "id": self._own_id(), "method": method, "params": params})

    def _own_id(self) -> str:
        self._own_ids += 1
        return f"{OWN_ID_PREFIX}{self._own_ids}"

    def _unreachable(self, request_id: Any, reason: str = "") -> Message:
        text = "not connected to the gateway (reconnecting" + (f": {reason})" if reason else ")")
        return error_response(request_id, SESSION_LOST, text)
