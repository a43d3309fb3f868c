"""Legacy HTTP+SSE (2024-11-05) for one route: ``GET /{name}/sse`` and ``POST /{name}/message``.

The GET opens the session's only stream and first sends an ``endpoint`` event naming the POST
URI (``…/message?sessionId=…``); every answer and notification then travels on that stream as a
``message`` event. POSTs are acknowledged with 202 at once. Auth and Origin checks happen before
this module; it must not know about upstream transports.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from mcp_central.core import jsonrpc
from mcp_central.downstream import replicated
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.event_stream import EventStream, sse_frame, watch_disconnect
from mcp_central.downstream.http import BodyTooLarge, header, read_body, respond, respond_json
from mcp_central.downstream.session import Route, Session, initialize_problem
from mcp_central.downstream.sharing import SessionShare
from mcp_central.errors import INVALID_REQUEST, StoreUnavailable
from mcp_central.types import Message, Receive, RequestId, Scope, Send

log = logging.getLogger("mcp_central.downstream")
NOT_FOUND = b"Session not found: open a new SSE stream"


class SSESession(Session):
    transport_name = "sse"

    def __init__(self, route: Route, session_id: str, caller: Caller) -> None:
        super().__init__(route, session_id, caller)
        self.stream = self.channel()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> bool:
        return True  # its stream is open for as long as the session lives

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        self.stream.put(message)

    def discard_queues(self) -> None:
        self.stream.discard()

    def close(self) -> None:
        super().close()
        self.stream.close()

    def initialize_soon(self, message: Message) -> None:
        async def run() -> None:
            self.deliver(await self.initialize(message), message["id"])

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def handle_stream(
    route: Route, caller: Caller, base_path: str, scope: Scope, receive: Receive, send: Send
) -> None:
    if scope["method"] != "GET":
        await respond(send, 405, b"Method Not Allowed", headers=[(b"allow", b"GET")])
        return
    if (refusal := route.refuse_new_session(caller)) is not None:
        route.record_refusal(caller, "http", str(refusal), "sse")
        await respond(send, 503, str(refusal).encode(), headers=[(b"retry-after", b"5")])
        return
    session = SSESession(route, route.new_session_id(), caller)
    share = route.share
    if share is not None:
        # Stored with this replica as the stream's holder: POSTs reaching another replica come here.
        record = replicated.describe(session, holder=share.replica)
        try:
            await share.created(session.id, record, replicated.record_ttl(route))
        except StoreUnavailable as exc:
            session.close()
            log.warning("route '%s': %s", route.name, exc)
            await respond(send, 503, str(exc).encode(), headers=[(b"retry-after", b"2")])
            return
    endpoint = f"{base_path}{route.path}/message?sessionId={session.id}".encode()
    watcher = asyncio.get_running_loop().create_task(watch_disconnect(receive, session.stream))
    try:
        events = EventStream(send)
        await events.open()
        await events.frame(sse_frame(endpoint, b"endpoint"))
        await events.pump(session.stream)
    except OSError:
        pass
    finally:
        watcher.cancel()
        session.close()
        if share is not None:
            share.ended(route.label, session.id)


async def handle_post(route: Route, caller: Caller, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await respond(send, 405, b"Method Not Allowed", headers=[(b"allow", b"POST")])
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    session_id = (query.get("sessionId") or query.get("session_id") or [None])[0]
    if session_id is None:
        await respond(send, 400, b"Bad Request: sessionId query parameter is required")
        return
    session = route.sessions.get(session_id)
    if session is None and route.share is not None:
        await _relay_post(route, route.share, caller, session_id, scope, receive, send)
        return
    if not isinstance(session, SSESession) or not session.caller.same_caller(caller):
        # Another token naming this session id learns nothing: the same answer as an unknown id.
        await respond(send, 404, NOT_FOUND)
        return
    message = await _read_message(route, scope, receive, send)
    if message is not None:
        await accept(session, caller, message, send)


async def _relay_post(
    route: Route,
    share: SessionShare,
    caller: Caller,
    session_id: str,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """A POST for a session whose stream another replica holds: pass the message there, where it is
    handled as if it had arrived there (its answers travel on that stream)."""
    try:
        record = await share.lookup(route.label, session_id)
    except StoreUnavailable as exc:
        log.warning("route '%s': %s", route.name, exc)
        await respond(send, 503, str(exc).encode(), headers=[(b"retry-after", b"2")])
        return
    if (
        record is None
        or record.transport != "sse"
        or record.holder is None
        or not replicated.owned_by(record, caller)
    ):
        await respond(send, 404, NOT_FOUND)
        return
    message = await _read_message(route, scope, receive, send)
    if message is None:
        return
    if not await share.relay(record.holder, route.label, session_id, message):
        await respond(send, 404, b"Session not found: its stream's replica is gone; open a new SSE stream")
        return
    await respond(send, 202, b"Accepted")


async def _read_message(route: Route, scope: Scope, receive: Receive, send: Send) -> Message | None:
    """The POST's one JSON-RPC message, or ``None`` after answering what is wrong with it."""
    content_type = header(scope, b"content-type") or ""
    if content_type and not content_type.lower().startswith("application/json"):
        await respond(send, 415, b"Unsupported Media Type: Content-Type must be application/json")
        return None
    limit = route.max_body_bytes
    try:
        message = jsonrpc.decode(await read_body(receive, limit))
    except BodyTooLarge:
        await respond(send, 413, f"Request body larger than {limit} bytes (maxBodyBytes)".encode())
        return None
    except jsonrpc.DecodeError as exc:
        await respond_json(send, 400, {"jsonrpc": "2.0", "id": None, "error": exc.error})
        return None
    if isinstance(message, list):
        error = jsonrpc.error_response(None, INVALID_REQUEST, "JSON-RPC batches are not supported")
        await respond_json(send, 400, error)
        return None
    is_initialize = message.get("method") == "initialize" and "id" in message
    if is_initialize and (problem := initialize_problem(message)) is not None:
        await respond_json(send, 400, jsonrpc.error_response(message["id"], INVALID_REQUEST, problem))
        return None
    return message


async def accept(session: SSESession, caller: Caller, message: Message, send: Send | None = None) -> None:
    """Handle one POSTed message of ``session`` (here, or relayed from another replica: ``send``
    ``None``); the 202 is the POST's only answer, everything else goes on the stream."""
    route = session.route
    if caller.access is not None and (over := route.throttled(caller, message, "sse")):
        # Answered where every answer of this transport goes: on the session's stream (a 429 here
        # would not reach the client's waiting request).
        session.deliver(over[0], message.get("id"))
    elif message.get("method") == "initialize" and "id" in message:
        session.initialize_soon(message)
    else:
        await session.submit(message)
    if send is not None:
        await respond(send, 202, b"Accepted")
