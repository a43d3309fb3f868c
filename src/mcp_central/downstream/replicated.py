"""Sessions several replicas serve: taking over a stored session, and the ids and state that must
cross replicas (``sessionStore`` in Redis; the store itself is behind ``sharing.SessionShare``).

- A request naming a session this replica does not hold is served after ``adopt``: the stored
  record (``core.session_record``) is checked against the caller like a local session, and a local
  session is built from it — connected to this replica's links as at ``initialize``, then its log
  level and subscriptions restored by repeating their requests (answers swallowed).
- A server→client request leaves with its id tagged by this replica (``core.replica_ids``); the
  client's answer, on whichever replica it lands, is routed back by that tag.
- A request that sets state every replica must repeat (``logging/setLevel``, subscriptions) is
  recorded in the store and announced to the other replicas.

Used only by sessions of routes with a share: a route without one never reaches this module.
Must not: import the cluster or a transport.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar, cast

from mcp_central.core.replica_ids import RESTORE_PREFIX, is_restore, tag, untag
from mcp_central.core.session_record import SessionRecord, state_key, task_key
from mcp_central.core.tasks import BY_TASK_ID, task_id_of
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.session import Route, Session
from mcp_central.downstream.sharing import SessionShare
from mcp_central.errors import UpstreamUnavailable
from mcp_central.types import Message

SessionT = TypeVar("SessionT", bound=Session)

MIN_RECORD_SECONDS = 300.0
"""A stored session outlives its idle timeout by this much at least: replicas refresh it while it is
used (``cluster``), so only a session nobody uses anywhere expires."""

_adoptions: dict[tuple[int, str], asyncio.Future[Session | None]] = {}
"""Take-overs under way, so two requests of one session arriving together build one session."""


def record_ttl(route: Route) -> float:
    return route.idle_timeout + MIN_RECORD_SECONDS


def describe(session: Session, holder: str | None = None) -> SessionRecord:
    caller = session.caller
    digest = caller.digest.hex() if caller.identity is None and caller.digest is not None else None
    return SessionRecord(
        route=session.route.label,
        transport=session.transport_name,
        protocol_version=session.protocol_version,
        client_info=session.client_info,
        client_capabilities=session.client_capabilities,
        identity=caller.identity,
        digest=digest,
        holder=holder,
    )


def owned_by(record: SessionRecord, caller: Caller) -> bool:
    """Whether ``caller`` is who opened the stored session (``Caller.same_caller``, as in memory)."""
    digest = bytes.fromhex(record.digest) if record.digest else None
    if record.identity is None and digest is None and caller.digest is not None:
        # Opened without a token: only a caller without one (``same_caller`` compares digests).
        return False
    owner = Caller(digest, identity=record.identity)
    return owner.same_caller(caller)


async def adopt(
    route: Route, share: SessionShare, caller: Caller, session_id: str, factory: type[SessionT]
) -> SessionT | None:
    """The stored session ``session_id`` as a session of this replica, or ``None`` when the store
    does not have it for this caller (the client gets 404 and initializes anew). Raises
    ``StoreUnavailable`` (503), ``LimitExceeded`` or ``UpstreamUnavailable``."""
    key = (id(route), session_id)
    pending = _adoptions.get(key)
    if pending is not None:
        return cast("SessionT | None", await asyncio.shield(pending))
    future: asyncio.Future[Session | None] = asyncio.get_running_loop().create_future()
    _adoptions[key] = future
    try:
        session = await _adopt(route, share, caller, session_id, factory)
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: a lone take-over leaves no "never retrieved" warning
        raise
    else:
        future.set_result(session)
        return session
    finally:
        del _adoptions[key]


async def _adopt(
    route: Route, share: SessionShare, caller: Caller, session_id: str, factory: type[SessionT]
) -> SessionT | None:
    record = await share.lookup(route.label, session_id)
    if record is None or record.transport != factory.transport_name or not owned_by(record, caller):
        return None
    if (refusal := route.refuse_new_session(caller)) is not None:
        raise refusal
    session = factory(route, session_id, caller)
    params = {
        "protocolVersion": record.protocol_version,
        "capabilities": record.client_capabilities,
        "clientInfo": record.client_info,
    }
    answer = await session.initialize(
        {"jsonrpc": "2.0", "id": f"{RESTORE_PREFIX}init", "method": "initialize", "params": params}
    )
    if "error" in answer:
        session.close()
        raise UpstreamUnavailable(route.name, str(answer["error"].get("message")))
    session.used = True
    homes = getattr(session, "task_homes", None)
    if isinstance(homes, dict):
        homes.update(record.task_homes())
    for request in record.restore_requests():
        await session.submit(request)
    return session


def note_task(session: Session, share: SessionShare, homes: dict[str, str], message: Message) -> None:
    """An answer creating a task (``CreateTaskResult``) leaves here: the task lives on this
    replica's upstream, so the session's requests about it, wherever they land, are served here."""
    task_id = task_id_of(message.get("result"))
    if task_id is None or task_id in homes:
        return
    homes[task_id] = share.replica
    share.changed(
        session.route.label,
        session.id,
        task_key(task_id),
        {"replica": share.replica},
        record_ttl(session.route),
    )


def task_home(share: SessionShare, homes: dict[str, str], message: Message) -> str | None:
    """The other replica holding the task a ``tasks/get|result|cancel`` names (``None``: here, or
    not a task request)."""
    if message.get("method") not in BY_TASK_ID:
        return None
    params = message.get("params")
    task_id = params.get("taskId") if isinstance(params, dict) else None
    home = homes.get(task_id) if isinstance(task_id, str) else None
    return home if home is not None and home != share.replica else None


def outgoing(replica: str, message: Message) -> Message | None:
    """A message on its way to the client: server→client request ids tagged with this replica;
    answers to restoring requests dropped (``None``)."""
    if "method" in message:
        if "id" in message:
            return {**message, "id": tag(replica, message["id"])}
        if message["method"] == "notifications/cancelled":
            params = message.get("params")
            if isinstance(params, dict) and "requestId" in params:
                return {**message, "params": {**params, "requestId": tag(replica, params["requestId"])}}
        return message
    if is_restore(message.get("id")):
        return None
    return message


def incoming(session: Session, share: SessionShare, message: Message) -> Message | None:
    """A client message: an answer to another replica's server→client request is passed there
    (``None``: nothing left to do here); one of ours comes back with its original id."""
    if "method" in message or "id" not in message:
        return message
    found = untag(message["id"])
    if found is None:
        return message
    replica, original = found
    answer = {**message, "id": original}
    if replica == share.replica:
        return answer
    share.answer_elsewhere(replica, session.route.label, session.id, answer)
    return None


def note_state(session: Session, share: SessionShare, message: Message) -> None:
    """After a client request that sets state: store it and tell the other replicas."""
    found = state_key(message)
    if found is None:
        return
    key, sets = found
    params = message.get("params")
    kept = (params if isinstance(params, dict) else {}) if sets else None
    share.changed(session.route.label, session.id, key, kept, record_ttl(session.route))
