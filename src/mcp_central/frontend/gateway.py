"""Open one MCP session with a gateway for the stdio front end: streamable HTTP first, legacy SSE
when the URL does not speak it (a 4xx other than 401/403 to the ``initialize`` POST, as the MCP
specification's backwards-compatibility rule says) or when its path ends in ``/sse``.

Streamable HTTP: the ``initialize`` POST is made here, so its HTTP status tells unreachable,
refused (401/403) and not-streamable apart; the session then continues on an
``upstream.http.HTTPTransport`` given its session id. Legacy SSE: an ``HTTPTransport`` in SSE mode
opens the stream and carries the ``initialize``. What arrives before the answer is kept, in order,
for the caller. This module decides nothing about the messages themselves and never logs or
prints header values (the token travels only in ``Target.headers``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import orjson

from mcp_central.config import redact
from mcp_central.core.sse_parser import SSEParser
from mcp_central.errors import UpstreamError
from mcp_central.types import Message
from mcp_central.upstream.http import ACCEPT_BOTH, HTTPTransport

Kind = Literal["auto", "streamable-http", "sse"]
TRANSPORT_NAME = "gateway"
_REFUSED = re.compile(r"\bHTTP 40[13]\b")


class GatewayRefused(Exception):
    """The gateway refused the credentials (HTTP 401/403): retrying will not help."""


class GatewayUnreachable(Exception):
    """No session could be opened this time (connection, HTTP error, no answer): worth retrying."""


@dataclass
class Target:
    url: str
    headers: dict[str, str]
    timeout: float
    kind: Kind = "auto"

    def describe(self) -> str:
        return redact.url(self.url)

    def first_kind(self) -> Kind:
        if self.kind == "auto" and urlsplit(self.url).path.rstrip("/").endswith("/sse"):
            return "sse"
        return self.kind


@dataclass
class Opened:
    transport: HTTPTransport
    kind: Kind
    response: Message
    """The gateway's answer to the ``initialize``."""
    early: list[Message] = field(default_factory=list)
    """What the gateway sent before that answer, in order."""


OnMessage = Callable[[Message], None]
OnClose = Callable[[BaseException | None], None]


class _Router:
    """Holds the transport's callbacks while the ``initialize`` is in flight, then hands over."""

    def __init__(self, initialize_id: Any) -> None:
        self.initialize_id = initialize_id
        self.answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.early: list[Message] = []
        self.deliver: OnMessage | None = None
        self.closed: OnClose | None = None

    def on_message(self, message: Message, related: int | None = None) -> None:
        if self.deliver is not None:
            self.deliver(message)
        elif "method" not in message and message.get("id") == self.initialize_id:
            if not self.answer.done():
                self.answer.set_result(message)
        else:
            self.early.append(message)

    def on_close(self, error: BaseException | None) -> None:
        if self.closed is not None:
            self.closed(error)
        elif not self.answer.done():
            self.answer.set_exception(GatewayUnreachable(f"the connection ended: {error}"))


async def open_session(
    target: Target, initialize: Message, on_message: OnMessage, on_close: OnClose
) -> Opened:
    """A new session, or ``GatewayRefused`` / ``GatewayUnreachable`` saying why not."""
    kind = target.first_kind()
    if kind != "sse":
        try:
            opened = await _open_streamable(target, initialize)
        except _NotStreamable as exc:
            if kind == "streamable-http":
                raise GatewayUnreachable(str(exc)) from None
            try:
                opened = await _open_sse(target, initialize)
            except GatewayUnreachable as sse_exc:
                raise GatewayUnreachable(f"{exc}; as legacy SSE: {sse_exc}") from None
    else:
        opened = await _open_sse(target, initialize)
    router = opened.transport_router
    router.deliver, router.closed = on_message, on_close
    return Opened(opened.transport, opened.kind, opened.response, router.early)


class _NotStreamable(Exception):
    pass


@dataclass
class _Pending:
    transport: HTTPTransport
    kind: Kind
    response: Message
    transport_router: _Router


async def _open_streamable(target: Target, initialize: Message) -> _Pending:
    router = _Router(initialize.get("id"))
    headers = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    try:
        async with (
            httpx.AsyncClient(headers=target.headers, timeout=target.timeout) as http,
            http.stream("POST", target.url, content=orjson.dumps(initialize), headers=headers) as response,
        ):
            status = response.status_code
            if status in (401, 403):
                raise GatewayRefused(f"HTTP {status} from {target.describe()}")
            if 400 <= status < 500:
                raise _NotStreamable(f"HTTP {status} from {target.describe()} to an initialize POST")
            if status != 200:
                raise GatewayUnreachable(f"HTTP {status} from {target.describe()}")
            session_id = response.headers.get("mcp-session-id")
            await _read_answer(response, router)
    except httpx.HTTPError as exc:
        raise GatewayUnreachable(f"cannot reach {target.describe()}: {type(exc).__name__}: {exc}") from None
    if not router.answer.done():
        raise GatewayUnreachable(f"{target.describe()} ended its reply without answering initialize")
    answer = router.answer.result()
    transport = HTTPTransport(TRANSPORT_NAME, target.url, target.headers, target.timeout)
    transport.session_id = session_id
    version = (answer.get("result") or {}).get("protocolVersion")
    if isinstance(version, str):
        transport.set_protocol_version(version)
    await transport.start(router.on_message, router.on_close)
    return _Pending(transport, "streamable-http", answer, router)


async def _read_answer(response: httpx.Response, router: _Router) -> None:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        parser = SSEParser()
        async for chunk in response.aiter_bytes():
            for event in parser.feed(chunk):
                if event.data and event.event == "message":
                    router.on_message(orjson.loads(event.data))
            if router.answer.done():
                return
    else:
        payload = await response.aread()
        if payload.strip():
            value = orjson.loads(payload)
            for item in value if isinstance(value, list) else [value]:
                router.on_message(item)


async def _open_sse(target: Target, initialize: Message) -> _Pending:
    router = _Router(initialize.get("id"))
    transport = HTTPTransport(TRANSPORT_NAME, target.url, target.headers, target.timeout, legacy_sse=True)
    try:
        await transport.start(router.on_message, router.on_close)
        await transport.send(initialize)
        async with asyncio.timeout(target.timeout):
            answer = await router.answer
    except BaseException as exc:
        await transport.close()
        if isinstance(exc, UpstreamError):
            text = exc.detail
            raise (GatewayRefused if _REFUSED.search(text) else GatewayUnreachable)(text) from None
        if isinstance(exc, TimeoutError):
            raise GatewayUnreachable(f"no answer to initialize within {target.timeout:g} s") from None
        raise
    if "error" in answer and _REFUSED.search(str(answer["error"].get("message", ""))):
        await transport.close()
        raise GatewayRefused(str(answer["error"].get("message")))
    return _Pending(transport, "sse", answer, router)
