"""The link's sans-IO core (``core.link``), driven without sockets: events in, commands out.

Unit tests pin each decision; a hypothesis state machine then replays random interleavings of many
sessions' calls, progress, cancellations, deadlines, server→client requests and log messages (with
and without an HTTP reply stream to relate them), tasks, detaches and lost transports, and checks
one invariant: every message reaches exactly the session it belongs to, or a refusal — and no
table is left holding anything once the traffic is over.
"""

from __future__ import annotations

import logging
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mcp_central.config.model import ServerConfig
from mcp_central.core.link.core import QUIET, LinkCore
from mcp_central.core.link.endings import deadline_key
from mcp_central.core.link.events import (
    ArmTimer,
    CancelTimer,
    ClientMessage,
    Command,
    Deliver,
    Detached,
    Log,
    MissedDeadline,
    SendUpstream,
    TimerFired,
    TransportLost,
    UpstreamMessage,
)

DECLARED = {"sampling": {}, "elicitation": {"form": {}}}


class Client:
    """A downstream session as the core sees it."""

    def __init__(self, name: str, capabilities: dict[str, Any] | None = None) -> None:
        self.name = name
        self.client_capabilities = DECLARED if capabilities is None else capabilities

    def deliver(self, message: Any, related: Any) -> None:  # the driver's job; never called here
        raise AssertionError("the core must not deliver by itself")

    def __repr__(self) -> str:
        return self.name


def make_core(timeout: float = 5.0) -> LinkCore:
    server = ServerConfig(name="up", transport="stdio", command="x", timeout=timeout)
    return LinkCore(server, DECLARED, {"name": "mcp-central", "version": "0"})


def call(core: LinkCore, client: Client, request_id: Any, **params: Any) -> int:
    """A client's ``tools/call``; the upstream id it went out under."""
    message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "t", **params}}
    commands = core.handle(ClientMessage(client, message))
    sent = [c for c in commands if isinstance(c, SendUpstream)]
    assert len(sent) == 1 and any(isinstance(c, ArmTimer) for c in commands)
    upstream_id: int = sent[0].message["id"]
    return upstream_id


def delivered(commands: list[Command]) -> list[tuple[Any, dict[str, Any], Any]]:
    return [(c.owner, c.message, c.related) for c in commands if isinstance(c, Deliver)]


def sent(commands: list[Command]) -> list[dict[str, Any]]:
    return [c.message for c in commands if isinstance(c, SendUpstream)]


def sampling(request_id: Any, text: str = "hi") -> dict[str, Any]:
    params = {"messages": [{"role": "user", "content": {"type": "text", "text": text}}], "maxTokens": 5}
    return {"jsonrpc": "2.0", "id": request_id, "method": "sampling/createMessage", "params": params}


def log_message(text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": text}}


# --------------------------------------------------------------------------- decisions, one by one


def test_ids_and_tokens_are_remapped_and_answers_go_back() -> None:
    core, alice, bob = make_core(), Client("alice"), Client("bob")
    a = call(core, alice, 1, _meta={"progressToken": "p"})
    b = call(core, bob, 1)
    assert a != b
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": a, "progress": 1},
    }
    [(owner, message, related)] = delivered(core.handle(UpstreamMessage(progress)))
    assert (owner, message["params"]["progressToken"], related) == (alice, "p", 1)
    commands = core.handle(UpstreamMessage({"jsonrpc": "2.0", "id": b, "result": {"content": []}}))
    assert CancelTimer(deadline_key(b)) in commands
    assert delivered(commands) == [(bob, {"jsonrpc": "2.0", "id": 1, "result": {"content": []}}, 1)]


def test_a_server_request_on_a_reply_stream_goes_to_that_calls_client() -> None:
    core, alice, bob = make_core(), Client("alice"), Client("bob")
    a = call(core, alice, "a1")
    call(core, bob, "b1")
    [(owner, message, related)] = delivered(core.handle(UpstreamMessage(sampling(7), related=a)))
    assert (owner, related) == (alice, "a1")
    answer = {"jsonrpc": "2.0", "id": message["id"], "result": {"role": "assistant"}}
    assert core.handle(ClientMessage(bob, answer)) == []  # bob cannot answer alice's request
    assert sent(core.handle(ClientMessage(alice, answer))) == [{**answer, "id": 7}]


def test_without_evidence_one_client_in_flight_is_served_and_two_are_refused(caplog: Any) -> None:
    core, alice, bob = make_core(), Client("alice"), Client("bob")
    call(core, alice, 1)
    [(owner, _message, related)] = delivered(core.handle(UpstreamMessage(sampling(1))))
    assert (owner, related) == (alice, 1)
    call(core, bob, 1)
    commands = core.handle(UpstreamMessage(sampling(2)))
    assert not delivered(commands)
    [refusal] = sent(commands)
    assert refusal["id"] == 2 and "isolated" in refusal["error"]["message"]
    assert [c.level for c in commands if isinstance(c, Log)] == [logging.WARNING]  # the remedy, once
    again = core.handle(UpstreamMessage(sampling(3)))
    assert not [c for c in again if isinstance(c, Log)]
    assert core.status()["unattributed"] == {"request": 2}


def test_log_messages_reach_only_the_client_whose_call_caused_them() -> None:
    core, alice, bob = make_core(), Client("alice"), Client("bob")
    core.attach(alice)
    core.attach(bob)
    a = call(core, alice, 1)
    assert delivered(core.handle(UpstreamMessage(log_message("x")))) == [(alice, log_message("x"), 1)]
    b = call(core, bob, 1)
    assert delivered(core.handle(UpstreamMessage(log_message("y"), related=b))) == [
        (bob, log_message("y"), 1)
    ]
    kept = core.handle(UpstreamMessage(log_message("z")))
    assert not delivered(kept) and any("z" in c.text for c in kept if isinstance(c, Log))
    assert core.status()["unattributed"] == {"log": 1}
    assert a != b


def test_list_changes_still_reach_every_session() -> None:
    core, alice, bob = make_core(), Client("alice"), Client("bob")
    core.attach(alice)
    core.attach(bob)
    changed = {"jsonrpc": "2.0", "method": "notifications/prompts/list_changed"}
    assert {owner for owner, _m, _r in delivered(core.handle(UpstreamMessage(changed)))} == {alice, bob}


def test_a_task_status_before_its_result_is_held_until_the_result_names_the_owner() -> None:
    core, alice, bob = make_core(), Client("alice"), Client("bob")
    a = call(core, alice, 1, task={"ttl": 1000})
    call(core, bob, 1, task={"ttl": 1000})
    status = {
        "jsonrpc": "2.0",
        "method": "notifications/tasks/status",
        "params": {"taskId": "T", "status": "working"},
    }
    held = core.handle(UpstreamMessage(status))
    assert not delivered(held) and any(isinstance(c, ArmTimer) for c in held)
    result = {"jsonrpc": "2.0", "id": a, "result": {"task": {"taskId": "T", "status": "working"}}}
    released = delivered(core.handle(UpstreamMessage(result)))
    assert [owner for owner, _m, _r in released] == [alice, alice]  # the held status, then the result
    get = {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"taskId": "T"}}
    [(owner, refusal, _r)] = delivered(core.handle(ClientMessage(bob, get)))
    assert owner is bob and refusal["error"]["message"] == "Unknown task: T"


def test_an_unclaimed_task_status_is_dropped_when_its_time_is_up() -> None:
    core, alice, bob = make_core(), Client("alice"), Client("bob")
    call(core, alice, 1, task={})
    call(core, bob, 1, task={})
    status = {"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": {"taskId": "T"}}
    core.handle(UpstreamMessage(status))
    assert not delivered(core.handle(TimerFired(("held-task", "T"))))
    assert core.status()["unattributed"] == {"task-status": 1}


def test_malformed_upstream_messages_are_counted_and_dropped() -> None:
    core, alice = make_core(), Client("alice")
    core.attach(alice)
    for bad in (
        {"jsonrpc": "2.0", "method": "notifications/message", "params": ["not", "an", "object"]},
        {"jsonrpc": "2.0", "method": 42},
        ["a", "list"],
        "text",
        {"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": {"taskId": 5}},
        {"jsonrpc": "2.0", "id": [1], "result": {}},
    ):
        assert not delivered(core.handle(UpstreamMessage(bad)))
    assert core.status()["dropped"] == {"malformed": 5, "unknown-id": 1}


def test_a_deadline_answers_the_client_and_cancels_upstream() -> None:
    core, alice = make_core(timeout=2), Client("alice")
    a = call(core, alice, 9)
    commands = core.handle(TimerFired(deadline_key(a)))
    [(owner, answer, _r)] = delivered(commands)
    assert owner is alice and answer["id"] == 9 and "within 2s" in answer["error"]["message"]
    assert sent(commands)[0]["params"]["requestId"] == a
    assert any(isinstance(c, MissedDeadline) for c in commands)


def test_a_client_that_never_answers_a_sampling_request_does_not_degrade_the_upstream() -> None:
    core, alice = make_core(), Client("alice")
    a = call(core, alice, 1)
    core.handle(UpstreamMessage(sampling(5), related=a))  # alice never answers
    commands = core.handle(TimerFired(deadline_key(a)))
    assert delivered(commands) and not any(isinstance(c, MissedDeadline) for c in commands)


def test_a_detached_session_leaves_nothing_behind() -> None:
    core, alice = make_core(), Client("alice")
    core.attach(alice)
    a = call(core, alice, 1)
    core.handle(UpstreamMessage(sampling(5), related=a))
    subscribe = {"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe", "params": {"uri": "u"}}
    core.handle(ClientMessage(alice, subscribe))
    commands = core.handle(Detached(alice))
    upstream = sent(commands)
    # Its calls cancelled, its subscription dropped, the sampling request it will never answer refused.
    assert {m.get("method") for m in upstream} == {"notifications/cancelled", "resources/unsubscribe", None}
    assert [pending.owner for pending in core.table] == [QUIET]  # only the link's own unsubscribe
    assert len(core.server_requests) == 0 and not core.sessions and not core.subscriptions.uris()


def test_stateless_calls_are_forgotten_when_cancelled_or_detached() -> None:
    core, alice = make_core(), Client("alice")
    core.go_stateless(True)
    assert core.stateless is not None
    a = call(core, alice, 1)
    call(core, alice, 2)
    assert set(core.stateless.sent) == {a, a + 1}
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    core.handle(ClientMessage(alice, cancel))
    assert set(core.stateless.sent) == {a + 1}
    core.handle(Detached(alice))
    assert core.stateless.sent == {}


def test_a_cancellation_naming_a_list_or_object_is_ignored() -> None:
    core, alice = make_core(), Client("alice")
    call(core, alice, 1)
    for odd in ([1], {"x": 1}, None, True):
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": odd}}
        assert core.handle(ClientMessage(alice, cancel)) == []
    assert len(core.table) == 1


def test_the_links_own_requests_never_count_as_a_clients() -> None:
    core, alice = make_core(), Client("alice")
    from mcp_central.core.link.events import OwnRequest

    own = core.handle(OwnRequest(QUIET, {"jsonrpc": "2.0", "id": 0, "method": "tools/list"}, 5))
    own_id = sent(own)[0]["id"]
    commands = core.handle(UpstreamMessage(sampling(3)))  # nobody's call is in flight
    assert not delivered(commands) and "no client request" in sent(commands)[0]["error"]["message"]
    commands = core.handle(UpstreamMessage(sampling(4), related=own_id))
    assert not delivered(commands)
    call(core, alice, 1)
    assert [owner for owner, _m, _r in delivered(core.handle(UpstreamMessage(sampling(5))))] == [alice]


# --------------------------------------------------------------------------- random interleavings


class Interleavings(RuleBasedStateMachine):
    """Several sessions on one shared link; the model knows whose call every upstream id is."""

    def __init__(self) -> None:
        super().__init__()
        self.core = make_core()
        self.clients = [Client(f"c{n}") for n in range(4)]
        for client in self.clients:
            self.core.attach(client)
        self.calls: dict[int, tuple[Client, int]] = {}
        """Upstream id → (whose call, its downstream id): the ground truth."""
        self.asked: dict[str, tuple[Client, int]] = {}
        """Proxy id of a server→client request → (who was asked, the upstream's id)."""
        self.next_id = 0
        self.next_server_id = 0
        self.task_of: dict[int, str] = {}
        """Upstream id of a task-creating call → the task it creates."""
        self.task_owner: dict[str, Client] = {}
        """Every task the upstream has mentioned → the client whose call created it (the truth)."""
        self.subscribed: dict[str, set[Client]] = {}

    def apply(self, commands: list[Command]) -> None:
        for command in commands:
            if not isinstance(command, Deliver):
                continue
            message, owner = command.message, command.owner
            if owner is QUIET:
                continue
            if "method" not in message or message.get("method") == "notifications/progress":
                continue  # answers and progress: checked where they are made
            if "id" in message:  # a server→client request: recorded by whom it was asked
                self.asked[message["id"]] = (owner, self.next_server_id)

    def in_flight_clients(self) -> set[Client]:
        return {client for client, _ in self.calls.values()}

    @rule(who=st.integers(0, 3), with_progress=st.booleans())
    def a_client_calls(self, who: int, with_progress: bool) -> None:
        self.next_id += 1
        client = self.clients[who]
        extra = {"_meta": {"progressToken": f"tok-{self.next_id}"}} if with_progress else {}
        upstream_id = call(self.core, client, self.next_id, **extra)
        self.calls[upstream_id] = (client, self.next_id)

    @rule(who=st.integers(0, 3))
    def a_client_creates_a_task(self, who: int) -> None:
        self.next_id += 1
        client = self.clients[who]
        upstream_id = call(self.core, client, self.next_id, task={"ttl": 60000})
        self.calls[upstream_id] = (client, self.next_id)
        self.task_of[upstream_id] = f"task-{upstream_id}"
        self.task_owner[f"task-{upstream_id}"] = client

    @rule(who=st.integers(0, 3), uri=st.sampled_from(["r://a", "r://b"]), on=st.booleans())
    def a_client_subscribes_or_not(self, who: int, uri: str, on: bool) -> None:
        self.next_id += 1
        client = self.clients[who]
        method = "resources/subscribe" if on else "resources/unsubscribe"
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": {"uri": uri}}
        commands = self.core.handle(ClientMessage(client, request))
        for message in sent(commands):  # the first subscriber (or the last to leave) asks upstream
            self.calls[message["id"]] = (client, self.next_id)
        holders = self.subscribed.setdefault(uri, set())
        (holders.add if on else holders.discard)(client)

    @rule(uri=st.sampled_from(["r://a", "r://b"]))
    def a_resource_changes(self, uri: str) -> None:
        updated = {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}}
        receivers = [owner for owner, _m, _r in delivered(self.core.handle(UpstreamMessage(updated)))]
        assert sorted(receivers, key=repr) == sorted(self.subscribed.get(uri, set()), key=repr)

    @precondition(lambda self: self.task_owner)
    @rule(pick=st.integers(0, 10**6), on_its_stream=st.booleans())
    def the_upstream_reports_a_tasks_status(self, pick: int, on_its_stream: bool) -> None:
        task_id = sorted(self.task_owner)[pick % len(self.task_owner)]
        creating = next(
            (uid for uid, tid in self.task_of.items() if tid == task_id and uid in self.calls), None
        )
        status = {"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": {"taskId": task_id}}
        related = creating if on_its_stream else None
        commands = self.core.handle(UpstreamMessage(status, related=related))
        for owner, _message, _related in delivered(commands):
            assert owner is self.task_owner[task_id], (task_id, owner)

    @precondition(lambda self: self.calls)
    @rule(pick=st.integers(0, 10**6))
    def the_upstream_answers(self, pick: int) -> None:
        upstream_id = sorted(self.calls)[pick % len(self.calls)]
        client, downstream_id = self.calls.pop(upstream_id)
        task_id = self.task_of.pop(upstream_id, None)
        result: dict[str, Any] = {"content": []} if task_id is None else {"task": {"taskId": task_id}}
        answer = {"jsonrpc": "2.0", "id": upstream_id, "result": result}
        got = delivered(self.core.handle(UpstreamMessage(answer)))
        assert got[-1] == (client, answer, downstream_id)
        assert all(owner is client for owner, _m, _r in got)  # statuses held for its task come first

    @precondition(lambda self: self.calls)
    @rule(pick=st.integers(0, 10**6))
    def the_upstream_reports_progress(self, pick: int) -> None:
        upstream_id = sorted(self.calls)[pick % len(self.calls)]
        client, downstream_id = self.calls[upstream_id]
        progress = {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": upstream_id},
        }
        for owner, message, related in delivered(self.core.handle(UpstreamMessage(progress))):
            assert (owner, related) == (client, downstream_id)
            assert message["params"]["progressToken"] == f"tok-{downstream_id}"

    @rule(pick=st.integers(0, 10**6), related=st.booleans(), kind=st.sampled_from(["request", "log"]))
    def the_upstream_starts_something(self, pick: int, related: bool, kind: str) -> None:
        """A sampling request or a log message, on a call's reply stream or with no sign at all."""
        upstream_ids = sorted(self.calls)
        relation = upstream_ids[pick % len(upstream_ids)] if related and upstream_ids else None
        cause = {self.calls[relation][0]} if relation is not None else self.in_flight_clients()
        self.next_server_id += 1
        message = sampling(self.next_server_id) if kind == "request" else log_message("l")
        commands = self.core.handle(UpstreamMessage(message, related=relation))
        receivers = {owner for owner, _m, _r in delivered(commands)}
        if receivers:
            assert len(cause) == 1 and receivers == cause, (receivers, cause)
        elif kind == "request":
            assert [m["id"] for m in sent(commands)] == [self.next_server_id]  # refused, never dropped
        self.apply(commands)

    @precondition(lambda self: self.asked)
    @rule(pick=st.integers(0, 10**6), honest=st.booleans())
    def a_client_answers_the_upstream(self, pick: int, honest: bool) -> None:
        proxy_id = sorted(self.asked)[pick % len(self.asked)]
        asked, original = self.asked[proxy_id]
        answerer = asked if honest else next(c for c in self.clients if c is not asked)
        reply = {"jsonrpc": "2.0", "id": proxy_id, "result": {"role": "assistant"}}
        out = sent(self.core.handle(ClientMessage(answerer, reply)))
        if honest:
            assert [m["id"] for m in out] == [original]
            del self.asked[proxy_id]
        else:
            assert out == []

    @precondition(lambda self: self.calls)
    @rule(pick=st.integers(0, 10**6), by=st.sampled_from(["client", "deadline"]))
    def a_call_ends_early(self, pick: int, by: str) -> None:
        upstream_id = sorted(self.calls)[pick % len(self.calls)]
        client, downstream_id = self.calls.pop(upstream_id)
        if by == "client":
            cancel = {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": downstream_id},
            }
            commands = self.core.handle(ClientMessage(client, cancel))
        else:
            commands = self.core.handle(TimerFired(deadline_key(upstream_id)))
        assert [(owner, related) for owner, _m, related in delivered(commands)] == [(client, downstream_id)]
        assert [m["params"]["requestId"] for m in sent(commands)] == [upstream_id]
        if (task_id := self.task_of.pop(upstream_id, None)) is not None:
            del self.task_owner[task_id]  # never created: its statuses can never be claimed

    @rule(who=st.integers(0, 3))
    def a_session_ends(self, who: int) -> None:
        client = self.clients[who]
        commands = self.core.handle(Detached(client))
        assert not delivered(commands)
        for uid in [uid for uid, entry in self.calls.items() if entry[0] is client]:
            del self.calls[uid]
            if (task_id := self.task_of.pop(uid, None)) is not None:
                del self.task_owner[task_id]
        self.task_owner = {tid: owner for tid, owner in self.task_owner.items() if owner is not client}
        self.asked = {pid: entry for pid, entry in self.asked.items() if entry[0] is not client}
        for holders in self.subscribed.values():
            holders.discard(client)
        self.core.attach(client)  # and a session of the same client comes back

    @rule()
    def the_upstream_is_lost(self) -> None:
        commands = self.core.handle(TransportLost("gone"))
        got = {(owner, related) for owner, _m, related in delivered(commands) if owner is not QUIET}
        assert got == {(client, downstream_id) for client, downstream_id in self.calls.values()}
        for task_id in self.task_of.values():
            del self.task_owner[task_id]
        self.task_of.clear()
        self.calls.clear()
        self.asked.clear()

    @rule()
    def the_upstream_answers_the_links_own_requests(self) -> None:
        """Its unsubscribes and log levels (after sessions end): answered to nobody's client."""
        for upstream_id in [uid for uid, pending in self.core.table._pending.items() if pending.own]:
            answer = {"jsonrpc": "2.0", "id": upstream_id, "result": {}}
            assert [owner for owner, _m, _r in delivered(self.core.handle(UpstreamMessage(answer)))] == [
                QUIET
            ]

    @invariant()
    def the_books_match_the_truth(self) -> None:
        assert sum(1 for pending in self.core.table if not pending.own) == len(self.calls)
        assert len(self.core.server_requests) == len(self.asked)


TestInterleavings = Interleavings.TestCase
TestInterleavings.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_a_groups_own_list_call_is_nobodys_call() -> None:
    """A group's merged ``tools/list`` runs beside a lone client's call: still one client in flight."""
    core, alice, waiter = make_core(), Client("alice"), Client("group-waiter")
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    assert sent(core.handle(ClientMessage(waiter, listing, own=True)))
    call(core, alice, 1)
    assert [owner for owner, _m, _r in delivered(core.handle(UpstreamMessage(sampling(5))))] == [alice]
