"""One HTTP request served by the replica that holds what it needs, written back by the replica the
client reached — over Redis pub/sub, for the few requests that cannot be served anywhere:
``tasks/get|result|cancel`` of a task on another replica's upstream, the retry of a stateless
round parked on another replica, a ``Last-Event-ID`` resume of another replica's reply stream.

The request travels as its method, path, query, headers (never ``Authorization`` or ``Cookie``),
body and its caller as the gateway identified it (identity name, token digest, address): the
holding replica serves it on the same route without a token, because this replica already
admitted it. The answer comes back as the ASGI messages the holder's transport sent, in order;
the origin writes them to its client. If the client goes away, the holder hears of it as a
disconnect. Anyone who can publish on the Redis server can therefore speak as any caller: the
store must be as private as the tokens (a password, a private network).

Must not: decide which requests are forwarded (``downstream``) or what a route does with them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from mcp_central.downstream.auth import Caller
from mcp_central.types import ASGIMessage, Receive, Scope, Send

log = logging.getLogger("mcp_central.cluster")

IDLE_SECONDS = 90.0
"""The holder sends at least a keep-alive every 15 s on a stream; silence this long means it died."""
DROPPED_HEADERS = frozenset({b"authorization", b"cookie", b"host", b"content-length"})

Publish = Callable[[str, dict[str, Any]], Awaitable[int]]
"""Publish an event to a replica; how many replicas received it."""


def encode_caller(caller: Caller) -> dict[str, Any]:
    return {
        "digest": caller.digest.hex() if caller.digest is not None else None,
        "identity": caller.identity,
        "address": caller.address,
        "kind": type(caller).__name__,
    }


def encode_message(message: ASGIMessage) -> dict[str, Any]:
    """An ASGI send message as JSON: bytes as base64."""
    out: dict[str, Any] = {"type": message["type"]}
    if "status" in message:
        out["status"] = message["status"]
    if "headers" in message:
        out["headers"] = [[_b64(name), _b64(value)] for name, value in message["headers"]]
    if "body" in message:
        out["body"] = _b64(message["body"])
    if message.get("more_body"):
        out["more_body"] = True
    return out


def decode_message(data: dict[str, Any]) -> ASGIMessage:
    message: ASGIMessage = {"type": data["type"]}
    if "status" in data:
        message["status"] = data["status"]
    if "headers" in data:
        message["headers"] = [(_bytes(name), _bytes(value)) for name, value in data["headers"]]
    if "body" in data:
        message["body"] = _bytes(data["body"])
    if data.get("more_body"):
        message["more_body"] = True
    return message


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _bytes(value: str) -> bytes:
    return base64.b64decode(value)


class Forwarder:
    """The origin's side (requests sent, answers awaited) and the holder's (requests served)."""

    def __init__(self, replica: str, publish: Publish) -> None:
        self.replica = replica
        self._publish = publish
        self._answers: dict[str, asyncio.Queue[ASGIMessage | None]] = {}
        self._gone: dict[str, asyncio.Event] = {}
        """The holder's side: forwarded requests whose client went away, by relay id."""

    # ------------------------------------------------------------------ the origin

    async def forward(
        self,
        replica: str,
        route: str,
        caller: Caller,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> bool:
        relay = secrets.token_hex(8)
        answers: asyncio.Queue[ASGIMessage | None] = asyncio.Queue()
        self._answers[relay] = answers
        headers = [
            [_b64(k), _b64(v)] for k, v in scope.get("headers", ()) if k.lower() not in DROPPED_HEADERS
        ]
        request = {
            "kind": "http",
            "relay": relay,
            "reply": self.replica,
            "route": route,
            "caller": encode_caller(caller),
            "method": scope["method"],
            "path": scope["path"],
            "query": _b64(scope.get("query_string", b"")),
            "headers": headers,
            "body": _b64(body),
        }
        watcher: asyncio.Task[None] | None = None
        try:
            if not await self._publish(replica, request):
                return False
            watcher = asyncio.get_running_loop().create_task(self._watch(receive, replica, relay))
            finished = False
            while not finished:
                try:
                    message = await asyncio.wait_for(answers.get(), IDLE_SECONDS)
                except TimeoutError:
                    log.warning("replica %s stopped answering a forwarded request", replica)
                    break
                if message is None:
                    break
                await send(message)
                finished = message["type"] == "http.response.body" and not message.get("more_body")
            return True
        finally:
            self._answers.pop(relay, None)
            if watcher is not None:
                watcher.cancel()

    async def _watch(self, receive: Receive, replica: str, relay: str) -> None:
        """Tell the holder when our client goes away (it then sees a disconnect)."""
        while (await receive())["type"] != "http.disconnect":
            pass
        with contextlib.suppress(Exception):
            await self._publish(replica, {"kind": "http-gone", "relay": relay})

    def answered(self, event: dict[str, Any]) -> None:
        """An ``http-out`` / ``http-end`` event from a holder (handled in arrival order)."""
        answers = self._answers.get(str(event.get("relay")))
        if answers is None:
            return
        if event["kind"] == "http-end":
            answers.put_nowait(None)
        else:
            answers.put_nowait(decode_message(event["message"]))

    def client_gone(self, event: dict[str, Any]) -> None:
        gone = self._gone.get(str(event.get("relay")))
        if gone is not None:
            gone.set()

    # ------------------------------------------------------------------ the holder

    async def serve(
        self, event: dict[str, Any], app: Callable[[dict[str, Any], Scope, Receive, Send], Awaitable[None]]
    ) -> None:
        """Serve a forwarded request with ``app`` (the route's transport for that caller)."""
        relay, origin = str(event["relay"]), str(event["reply"])
        gone = self._gone[relay] = asyncio.Event()
        body = _bytes(event["body"])
        sent_body = False

        async def receive() -> ASGIMessage:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: ASGIMessage) -> None:
            if not gone.is_set():  # awaited one by one: they reach the origin in order
                await self._publish(
                    origin, {"kind": "http-out", "relay": relay, "message": encode_message(message)}
                )

        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": event["method"],
            "scheme": "http",
            "path": event["path"],
            "raw_path": event["path"].encode(),
            "query_string": _bytes(event["query"]),
            "headers": [(_bytes(k), _bytes(v)) for k, v in event["headers"]],
            "client": (event["caller"].get("address") or "", 0),
            "server": None,
        }
        try:
            await app(event["caller"], scope, receive, send)
        finally:
            self._gone.pop(relay, None)
            with contextlib.suppress(Exception):
                await self._publish(origin, {"kind": "http-end", "relay": relay})
