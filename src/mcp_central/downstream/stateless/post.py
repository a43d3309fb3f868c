"""The wire of stateless 2026-07-28 requests on ``/{name}/mcp``: one POST, one exchange, no session.

A stateless request is checked (``core.stateless``), stripped of its envelope and forwarded over the
route's shared upstream link by an ``Exchange`` — a one-request stand-in for a session. Its answer
comes back as one JSON body, or as an SSE stream when progress or opted-in log messages come first.
Closing that stream cancels the request upstream.

Server→client requests become Multi Round-Trip results: the upstream's ``sampling/createMessage``
(or elicitation, roots) is answered to the client as ``resultType: "input_required"`` with an
unguessable ``requestState``; the upstream request stays parked until the client retries with
``inputResponses``, which go upstream as the answers, and the retry then carries on to the result.

``subscriptions/listen`` streams are written by ``downstream.stateless.listen``; the exchange and
its targets (``downstream.stateless.exchange``) know no HTTP. This module must not know upstream
transports; isolated routes (a link per session) cannot serve stateless requests and say so.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import orjson

from mcp_central.core import jsonrpc, stateless
from mcp_central.downstream.auth import Caller
from mcp_central.downstream.channel import ChannelClosed
from mcp_central.downstream.event_stream import EventStream
from mcp_central.downstream.group import GroupRoute
from mcp_central.downstream.http import JSON, header, respond, respond_json
from mcp_central.downstream.session import Route
from mcp_central.downstream.stateless import listen
from mcp_central.downstream.stateless.exchange import Exchange, GroupTarget, LinkTarget, Target
from mcp_central.errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    UpstreamError,
    error_response,
    to_jsonrpc_error,
)
from mcp_central.types import Message, Receive, RequestId, Scope, Send

PARK_GRACE_SECONDS = 30.0
"""How long past the server's ``timeout`` a request waiting for the client's input is kept."""


async def handle(
    route: Route, caller: Caller, scope: Scope, receive: Receive, send: Send, message: Message
) -> None:
    """Serve one stateless POST (the caller has decoded it and seen that it is one)."""
    request_id = message.get("id")
    try:
        envelope = stateless.check_request(message, lambda name: header(scope, name.encode()))
        if "id" not in message:
            await respond(send, 202)  # no client→server notification is defined over HTTP: accept, drop
            return
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            raise stateless.Rejection(INVALID_REQUEST, "a request id must be a string or an integer")
        target = _target(route, caller)
        if target is None:
            # Not a 2026-07-28 error on purpose: dual-era clients then fall back to initialize and get a
            # session, which is what isolated (stateful) servers need.
            raise stateless.Rejection(INVALID_REQUEST, route.stateless_refusal)
        if message["method"] in stateless.REMOVED:
            raise stateless.Rejection(
                METHOD_NOT_FOUND, f"'{message['method']}' does not exist in protocol 2026-07-28"
            )
    except stateless.Rejection as rejection:
        await respond_json(send, rejection.status, error_response(request_id, rejection.error()))
        return
    if message["method"] == "server/discover":
        await _discover(target, message, send)
    elif message["method"] == "subscriptions/listen":
        if isinstance(target, LinkTarget):
            await listen.serve(route, target.link, caller, message, receive, send)
        else:
            await listen.serve_group(target.route, caller, message, receive, send)
    else:
        await _exchange(route, target, message, envelope, caller, scope, receive, send)


def _target(route: Route, caller: Caller) -> Target | None:
    if isinstance(route, GroupRoute):
        return GroupTarget(route, caller)
    return LinkTarget(route.link) if route.link is not None else None


async def _discover(target: Target, message: Message, send: Send) -> None:
    try:
        result = await target.discover()
    except UpstreamError as exc:
        await respond_json(send, 200, error_response(message["id"], to_jsonrpc_error(exc)))
        return
    await respond_json(send, 200, jsonrpc.result_response(message["id"], result))


async def _exchange(
    route: Route,
    target: Target,
    message: Message,
    envelope: stateless.Envelope,
    caller: Caller,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    params = message.get("params") or {}
    state = params.get("requestState")
    share = route.share
    if share is not None and isinstance(state, str) and state not in route.parked:
        home = state.partition(".")[0]
        # Parked on another replica (the balancer sent the retry here): that one answers it.
        if home != share.replica and await share.forward(
            home, route.label, caller, scope, jsonrpc.dumps(message), receive, send
        ):
            return
    if state is not None:
        parked = route.parked.pop(state, None) if isinstance(state, str) else None
        exchange = parked if isinstance(parked, Exchange) else None
        if exchange is None or not exchange.matches(message, caller):
            if parked is not None:
                route.parked[state] = parked  # not this caller's: leave it for its owner
            error = {
                "code": INVALID_PARAMS,
                "message": "requestState is unknown, expired or not for this request",
            }
            await respond_json(send, 400, error_response(message["id"], error))
            return
        exchange.parked = False
        if exchange.expiry is not None:
            exchange.expiry.cancel()
        await _answer_inputs(exchange, params.get("inputResponses"))
    else:
        exchange = Exchange(target, message, envelope, caller, route.max_queued_messages)
        level = envelope.log_level if exchange.log_rank is not None else None
        await target.forward(exchange, stateless.upstream_request(message), level)
    await _reply(route, exchange, message["id"], receive, send)


async def _answer_inputs(exchange: Exchange, responses: Any) -> None:
    """Send the client's ``inputResponses`` upstream as answers to the requests they belong to."""
    if not isinstance(responses, dict):
        return  # nothing answered: the same inputs are asked for again
    for key, value in responses.items():
        request = exchange.inputs.pop(key, None)
        if request is not None:
            answer = {"jsonrpc": "2.0", "id": request["id"], "result": value}
            await exchange.target.answer_input(exchange, answer)


async def _reply(
    route: Route,
    exchange: Exchange,
    reply_id: RequestId,
    receive: Receive,
    send: Send,
) -> None:
    """Write what the exchange brings as this POST's reply, until its answer or an input request:
    one JSON body when that comes first, else an SSE stream of what came before, then it."""
    watcher = asyncio.get_running_loop().create_task(_cancel_on_disconnect(receive, exchange))
    try:
        if exchange.inputs:  # the retry answered only some: ask again for the rest
            await _finish(send, None, _park(route, exchange, reply_id))
            return
        try:
            item: Message | None = await exchange.channel.get()
        except ChannelClosed:
            return  # cancelled: the client is gone
        events = None
        if item is not None and not _ends_reply(item):
            events = EventStream(send)
            await events.open()
            await events.event(item)
            item = await events.relay(exchange.channel, stop=_ends_reply)
        if item is None:
            return  # cancelled: the client is gone
        if "method" in item:  # one round trip each: the next request waits in the channel
            exchange.inputs[str(item["id"])] = item
            await _finish(send, events, _park(route, exchange, reply_id))
            return
        exchange.done = True
        await _finish(send, events, _final(exchange, item, reply_id))
        exchange.target.finish(exchange)
    finally:
        watcher.cancel()


def _ends_reply(message: Message) -> bool:
    """The answer, or a server→client request (which ends the reply with ``input_required``)."""
    return "method" not in message or "id" in message


def _final(exchange: Exchange, answer: Message, reply_id: RequestId) -> Message:
    answer["id"] = reply_id
    result = answer.get("result")
    if isinstance(result, dict):
        stateless.complete(result, exchange.method, exchange.target.server_info)
    return answer


def _park(route: Route, exchange: Exchange, reply_id: RequestId) -> Message:
    """Keep the exchange for the client's retry; the ``InputRequiredResult`` that asks for its inputs."""
    token = secrets.token_urlsafe(24)
    if route.share is not None:  # names its replica: a retry reaching another one is sent here
        token = f"{route.share.replica}.{token}"
    route.parked[token] = exchange
    exchange.parked = True

    def expire() -> None:
        if route.parked.get(token) is exchange:
            del route.parked[token]
            exchange.end()

    grace = exchange.target.timeout + PARK_GRACE_SECONDS
    exchange.expiry = asyncio.get_running_loop().call_later(grace, expire)
    return jsonrpc.result_response(reply_id, stateless.input_required(exchange.inputs, token))


async def _finish(send: Send, events: EventStream | None, message: Message) -> None:
    if events is not None:
        await events.event(message)
        await events.end()
        return
    body = orjson.dumps(message)
    error = message.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    status = stateless.HTTP_STATUS.get(code, 200) if isinstance(code, int) else 200
    await respond(send, status, body, JSON)


async def _cancel_on_disconnect(receive: Receive, exchange: Exchange) -> None:
    """A stateless client cancels by closing the connection: end the request upstream."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not (exchange.parked or exchange.done):
                exchange.end()
            return
