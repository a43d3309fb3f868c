"""Streamable HTTP (2025-03-26 … 2025-11-25) for one route: ``POST``/``GET``/``DELETE /{name}/mcp``.

Wire rules enforced here: wrong ``Accept`` → 406, unsupported ``MCP-Protocol-Version`` → 400,
missing session on a non-initialize request → 400, unknown or ended session → 404, DELETE ends a
session. A request's answer goes back as one JSON body when nothing else comes first; if the
upstream sends progress, logs or a server→client request before answering, the reply becomes an
SSE stream carrying those and then the answer. SSE streams are resumable: events carry ids, and a
client that lost a stream gets what it missed with ``GET`` + ``Last-Event-ID`` (``resumable``).
Auth and Origin checks happen before this module.
"""

from __future__ import annotations

import logging

from mcp_central.core import jsonrpc, protocol
from mcp_central.core.stateless import is_stateless
from mcp_central.downstream import replicated, resumable
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.channel import ChannelClosed
from mcp_central.downstream.http import (
    JSON,
    BodyTooLarge,
    accepts,
    header,
    read_body,
    respond,
    respond_json,
)
from mcp_central.downstream.session import Route, initialize_problem
from mcp_central.downstream.stateless import post as stateless_post
from mcp_central.downstream.streamable_session import SharedStreamableSession, StreamableSession
from mcp_central.errors import (
    INVALID_REQUEST,
    LimitExceeded,
    StoreUnavailable,
    UpstreamError,
    error_response,
    to_jsonrpc_error,
)
from mcp_central.types import Message, Receive, Scope, Send

log = logging.getLogger("mcp_central.downstream")
store_log = logging.getLogger("mcp_central.cluster")

SESSION_HEADER = b"mcp-session-id"


async def handle(route: Route, caller: Caller, scope: Scope, receive: Receive, send: Send) -> None:
    method = scope["method"]
    if method == "POST":
        await _post(route, caller, scope, receive, send)
    elif method == "GET":
        await _get(route, caller, scope, receive, send)
    elif method == "DELETE":
        await _delete(route, caller, scope, send)
    else:
        await respond(send, 405, b"Method Not Allowed", headers=[(b"allow", b"GET, POST, DELETE")])


def _version_problem(scope: Scope) -> str | None:
    version = header(scope, b"mcp-protocol-version")
    if version is not None and version not in protocol.SUPPORTED_VERSIONS:
        supported = ", ".join(protocol.SUPPORTED_VERSIONS)
        return f"Unsupported MCP-Protocol-Version: {version} (supported: {supported})"
    return None


async def _rpc_error(send: Send, status: int, code: int, message: str, request_id: object = None) -> None:
    await respond_json(send, status, jsonrpc.error_response(request_id, code, message))


async def _find_session(route: Route, caller: Caller, scope: Scope, send: Send) -> StreamableSession | None:
    """The session a non-initialize request names, or ``None`` after answering 400/404. A session
    named with another token than the one that opened it is unknown to that caller: 404 too."""
    problem = _version_problem(scope)
    if problem is not None:
        await _rpc_error(send, 400, INVALID_REQUEST, f"Bad Request: {problem}")
        return None
    session_id = header(scope, SESSION_HEADER)
    if session_id is None:
        await _rpc_error(send, 400, INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required")
        return None
    session = route.sessions.get(session_id)
    if session is None and route.share is not None:
        try:
            session = await replicated.adopt(route, route.share, caller, session_id, SharedStreamableSession)
        except (StoreUnavailable, LimitExceeded, UpstreamError) as exc:
            await _unavailable(route, caller, send, exc)
            return None
        if session is not None:
            session.negotiated(session.protocol_version or protocol.LATEST_VERSION)
    if not isinstance(session, StreamableSession) or not session.caller.same_caller(caller):
        await _rpc_error(send, 404, INVALID_REQUEST, "Session not found: initialize a new session")
        return None
    return session


async def _unavailable(route: Route, caller: Caller, send: Send, exc: Exception) -> None:
    """503 for a session this replica cannot take on now (the store or the upstream is down, a
    limit): the client retries later, its session intact."""
    if isinstance(exc, StoreUnavailable):
        store_log.warning("route '%s': %s", route.name, exc)
    route.record_refusal(caller, "http", str(exc), "streamable-http")
    await respond_json(send, 503, error_response(None, to_jsonrpc_error(exc)), [(b"retry-after", b"2")])


async def _post(route: Route, caller: Caller, scope: Scope, receive: Receive, send: Send) -> None:
    accept = header(scope, b"accept")
    if not (accepts(accept, "application/json") and accepts(accept, "text/event-stream")):
        await _rpc_error(
            send,
            406,
            INVALID_REQUEST,
            "Not Acceptable: Accept must list application/json and text/event-stream",
        )
        return
    content_type = header(scope, b"content-type") or ""
    if not content_type.lower().startswith("application/json"):
        await _rpc_error(
            send, 415, INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json"
        )
        return
    limit = route.max_body_bytes
    try:
        message = jsonrpc.decode(await read_body(receive, limit))
    except BodyTooLarge:
        await _rpc_error(send, 413, INVALID_REQUEST, f"Request body larger than {limit} bytes (maxBodyBytes)")
        return
    except jsonrpc.DecodeError as exc:
        await respond_json(send, 400, {"jsonrpc": "2.0", "id": None, "error": exc.error})
        return
    if isinstance(message, list):
        await _rpc_error(
            send, 400, INVALID_REQUEST, "JSON-RPC batches are not supported; send one message per POST"
        )
        return

    if caller.access is not None and (over := route.throttled(caller, message, "streamable-http")):
        answer, wait = over
        await respond_json(send, 429, answer, [(b"retry-after", str(wait).encode())])
        return
    if is_stateless(message, header(scope, b"mcp-protocol-version")):
        await stateless_post.handle(route, caller, scope, receive, send, message)
        return
    if message.get("method") == "initialize":
        await _initialize(route, caller, message, send)
        return

    session = await _find_session(route, caller, scope, send)
    if session is None:
        return
    if not jsonrpc.is_request(message):
        await session.submit(message)
        await respond(send, 202)
        return
    if isinstance(session, SharedStreamableSession) and await _forwarded_task(
        session, caller, message, scope, receive, send
    ):
        return
    await _answer_request(session, message, receive, send)


async def _forwarded_task(
    session: SharedStreamableSession,
    caller: Caller,
    message: Message,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> bool:
    """A request about a task that lives on another replica's upstream: that replica answers it
    (through this one). ``False`` when the task is here, or its replica is gone."""
    home = replicated.task_home(session.share, session.task_homes, message)
    if home is None:
        return False
    return await session.share.forward(
        home, session.route.label, caller, scope, jsonrpc.dumps(message), receive, send
    )


async def _initialize(route: Route, caller: Caller, message: Message, send: Send) -> None:
    if "id" not in message:
        await _rpc_error(send, 400, INVALID_REQUEST, "initialize must be a request (it has no id)")
        return
    if (problem := initialize_problem(message)) is not None:
        await _rpc_error(send, 400, INVALID_REQUEST, f"Bad Request: {problem}", message["id"])
        return
    if (refusal := route.refuse_new_session(caller)) is not None:
        route.record_refusal(caller, "initialize", str(refusal), "streamable-http")
        answer = error_response(message["id"], to_jsonrpc_error(refusal))
        await respond_json(send, 503, answer, [(b"retry-after", b"5")])
        return
    share = route.share
    kind = StreamableSession if share is None else SharedStreamableSession
    session = kind(route, route.new_session_id(), caller)
    answer = await session.initialize(message)
    if "error" in answer:
        session.close()
        await respond_json(send, 200, answer)
        return
    session.negotiated(answer["result"]["protocolVersion"])
    if share is not None:
        try:  # stored before the client learns the id: its next request may reach another replica
            await share.created(session.id, replicated.describe(session), replicated.record_ttl(route))
        except StoreUnavailable as exc:
            session.close()
            await _unavailable(route, caller, send, exc)
            return
    await respond_json(send, 200, answer, [(SESSION_HEADER, session.id.encode())])


async def _answer_request(session: StreamableSession, message: Message, receive: Receive, send: Send) -> None:
    request_id = message["id"]
    if request_id in session.request_streams:
        await _rpc_error(
            send, 400, INVALID_REQUEST, f"Request id {request_id!r} is already in flight", request_id
        )
        return
    channel = session.channel()
    session.request_streams[request_id] = channel
    detached = False
    try:
        await session.submit(message)
        try:
            first = await channel.get()
        except ChannelClosed:
            await _rpc_error(
                send, 404, INVALID_REQUEST, "Session ended while the request was in flight", request_id
            )
            return
        if "method" not in first and first.get("id") == request_id:
            await respond(send, 200, jsonrpc.dumps(first), JSON)
            return
        # Something related comes before the answer: switch this reply to a (resumable) SSE stream.
        stream = session.resumable.open(channel, request_id)
        detached = not await resumable.serve(session.resumable, stream, send, receive, first=first)
    finally:
        if not detached:
            session.end_stream(request_id, channel)


async def _get(route: Route, caller: Caller, scope: Scope, receive: Receive, send: Send) -> None:
    if not accepts(header(scope, b"accept"), "text/event-stream"):
        await _rpc_error(send, 406, INVALID_REQUEST, "Not Acceptable: Accept must list text/event-stream")
        return
    session = await _find_session(route, caller, scope, send)
    if session is None:
        return
    session.used = True
    last_event_id = header(scope, b"last-event-id")
    if last_event_id is not None:
        await _resume(session, last_event_id, scope, receive, send)
        return
    if session.standalone is not None:
        await _rpc_error(send, 409, INVALID_REQUEST, "Conflict: this session already has a GET stream open")
        return
    stream = session.resumable.open(session.channel(), None, prefix="g")
    await _serve_standalone(session, stream, receive, send)


async def _serve_standalone(
    session: StreamableSession,
    stream: resumable.ResumableStream,
    receive: Receive,
    send: Send,
    replay: list[tuple[str, bytes]] | None = None,
) -> None:
    """The session's GET stream: server requests and notifications not tied to a request."""
    session.standalone = stream.channel
    try:
        headers = [(SESSION_HEADER, session.id.encode())]
        await resumable.serve(session.resumable, stream, send, receive, replay=replay or (), headers=headers)
    except OSError:
        pass
    finally:
        if session.standalone is stream.channel:
            session.standalone = None
        # Messages that arrive while no GET stream is open go elsewhere (see ``deliver``); what was
        # sent on this one stays replayable from the event log.
        session.resumable.streams.pop(stream.name, None)
        if not stream.handing_over:  # else the resuming request carries on with this channel
            stream.channel.discard()


async def _resume(
    session: StreamableSession, last_event_id: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """``GET`` with ``Last-Event-ID``: replay what the client missed on that stream, then continue it."""
    name = last_event_id.rpartition("-")[0]
    if (
        session.resumable.kind(name) is None
    ):  # another replica's stream (the balancer moved us, or it stopped)
        replica = name.partition(".")[0]
        if isinstance(session, SharedStreamableSession) and await session.share.forward(
            replica, session.route.label, session.caller, scope, b"", receive, send
        ):
            return  # that replica is alive: it replays what the client missed and goes on
        if name.partition(".")[2].startswith("g") and session.standalone is None:
            # What that stream had not delivered is lost with it; the session's GET stream goes on here.
            fresh = session.resumable.open(session.channel(), None, prefix="g")
            await _serve_standalone(session, fresh, receive, send)
            return
        await _rpc_error(
            send,
            404,
            INVALID_REQUEST,
            "that stream was on a replica that no longer serves it: retry the request",
        )
        return
    found = session.resumable.log.after(last_event_id)
    if found is None:
        await _rpc_error(
            send, 400, INVALID_REQUEST, f"Last-Event-ID {last_event_id!r} is unknown or too old to replay"
        )
        return
    name, missed = found
    stream = session.resumable.streams.get(name)
    if session.resumable.kind(name) == "g":
        if session.standalone is not None and stream is None:
            await _rpc_error(
                send, 409, INVALID_REQUEST, "Conflict: this session already has a GET stream open"
            )
            return
        if stream is not None:
            await stream.take_over()
        else:
            stream = resumable.ResumableStream(name, session.channel(), None)
            session.resumable.streams[name] = stream
        await _serve_standalone(session, stream, receive, send, missed)
        return
    if stream is None:  # that reply has ended: the client only missed its last events
        await resumable.replay_only(send, missed)
        return
    await stream.take_over()
    done = await resumable.serve(session.resumable, stream, send, receive, replay=missed)
    if done and stream.request_id is not None:
        session.end_stream(stream.request_id, stream.channel)


async def _delete(route: Route, caller: Caller, scope: Scope, send: Send) -> None:
    session = await _find_session(route, caller, scope, send)
    if session is None:
        return
    session.close()
    if route.share is not None:
        route.share.ended(route.label, session.id)
    await respond(send, 200)
