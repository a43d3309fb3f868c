"""HTTP upstream transports: streamable HTTP (2025-03-26+) and legacy HTTP+SSE (2024-11-05).

Both POST one JSON-RPC message per request, concurrently, through one pooled ``httpx`` client
with the server's configured ``headers``; they differ only in where answers come from (the POST's
own body or stream, versus one long GET stream). A request the server cannot take (HTTP error,
connection failure) is answered here with a JSON-RPC error carrying its id, so the link's caller
never waits for an answer that cannot come. A server that cannot be reached any more (connection
refused, its session gone) ends the transport, so the link's supervisor reconnects. Speaking
2026-07-28 (stateless), it sends no session, mirrors ``Mcp-Method``/``Mcp-Name`` into headers, and
cancels a request by closing its reply. No MCP semantics beyond that, no retries of requests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import orjson

from mcp_central.core.sse_parser import SSEParser
from mcp_central.core.stateless import NAMED, STATELESS_VERSIONS
from mcp_central.errors import INTERNAL_ERROR, UpstreamError, UpstreamUnavailable
from mcp_central.types import Message
from mcp_central.upstream import observed
from mcp_central.upstream.base import OnClose, OnMessage
from mcp_central.upstream.tasks import OwnedTasks

ACCEPT_BOTH = "application/json, text/event-stream"
GET_STREAM_FIRST_DELAY = 0.1
GET_STREAM_MAX_DELAY = 30.0
GET_STREAM_HELD_SECONDS = 10.0
"""A GET stream open at least this long held: the next drop is retried quickly again."""
DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024
SESSION_EXPIRED = "the upstream session expired (HTTP 404)"


class MessageTooLarge(Exception):
    pass


class HTTPTransport:
    """One transport class for both HTTP kinds; ``legacy_sse`` picks the 2024-11-05 behaviour."""

    def __init__(
        self,
        name: str,
        url: str,
        headers: dict[str, str],
        timeout: float,
        *,
        legacy_sse: bool = False,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.name = name
        self.max_message_bytes = max_message_bytes
        self.dropped: Counter[str] = Counter()
        """Messages refused here, by reason (the link shares its core's counter: ``/metrics``)."""
        self.url = url
        self.headers = headers
        self.timeout = timeout
        self.legacy_sse = legacy_sse
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.endpoint: str | None = None
        self._client: httpx.AsyncClient | None = None
        self._on_message: OnMessage = lambda message, related=None: None
        self._on_close: OnClose = lambda error: None
        self._closing = False
        self._closed_reported = False
        self._get_stream_started = False
        self._requests: dict[str | int, asyncio.Task[Any]] = {}
        """Stateless mode: the POST carrying each request in flight, by its id (for cancellation)."""
        self._log = logging.getLogger(f"mcp_central.upstream.{name}")
        self._tasks = OwnedTasks(self._log, "the HTTP transport")

    def describe(self) -> str:
        parts = urlsplit(self.url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))  # no credentials, no query

    def set_protocol_version(self, version: str) -> None:
        self.protocol_version = version

    async def start(self, on_message: OnMessage, on_close: OnClose) -> None:
        self._on_message = on_message
        self._on_close = on_close
        self._client = httpx.AsyncClient(
            headers=self.headers,
            timeout=httpx.Timeout(
                connect=min(self.timeout, 10.0), read=None, write=self.timeout, pool=self.timeout
            ),
            # Idle connections are let go after 2 s: well before the keep-alive timeouts servers
            # commonly use (uvicorn's and Node's 5 s), so a request never goes out on a connection
            # the server is closing at that moment (a ReadError for a request it never saw).
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=2.0),
        )
        if self.legacy_sse:
            await self._open_legacy_stream()

    @property
    def stateless(self) -> bool:
        """Speaking 2026-07-28: no session, mirrored headers, cancellation by closing the reply."""
        return self.protocol_version in STATELESS_VERSIONS

    async def send(self, message: Message) -> None:
        if self.stateless and message.get("method") == "notifications/cancelled":
            request_id = (message.get("params") or {}).get("requestId")
            task = self._requests.pop(request_id, None) if isinstance(request_id, str | int) else None
            if task is not None:
                task.cancel()  # closing the reply stream is how a stateless server hears it
            return
        task = self._spawn(self._post(message))
        if self.stateless and "method" in message and isinstance(message.get("id"), str | int):
            request_id = message["id"]
            self._requests[request_id] = task
            task.add_done_callback(lambda _: self._requests.pop(request_id, None))

    async def close(self) -> None:
        self._closing = True
        await self._tasks.cancel_all()
        client, self._client = self._client, None
        if client is None:
            return
        if self.session_id and not self.legacy_sse:
            with contextlib.suppress(httpx.HTTPError):
                await client.delete(self.url, headers=self._session_headers(), timeout=2.0)
        await client.aclose()

    # ----------------------------------------------------------------- sending

    async def _post(self, message: Message) -> None:
        client = self._client
        if client is None:
            self._answer_error(message, "transport closed")
            return
        target = self.endpoint if self.legacy_sse else self.url
        assert target is not None
        headers = {"Content-Type": "application/json"}
        if not self.legacy_sse:
            headers.update(self._session_headers())
            headers["Accept"] = ACCEPT_BOTH
        if self.stateless:
            headers.update(mirrored_headers(message))
        if observed.tracer is not None:  # the span's W3C trace context, as HTTP servers expect it
            headers.update(observed.trace_headers(message))
        try:
            async with client.stream(
                "POST", target, content=orjson.dumps(message), headers=headers
            ) as response:
                await self._handle_post_response(message, response)
        except httpx.ConnectError as exc:
            self._answer_error(message, f"cannot connect: {exc}")
            self._report_close(self._unreachable(exc))
        except httpx.HTTPError as exc:
            self._answer_error(message, f"HTTP request failed: {type(exc).__name__}: {exc}")
        except orjson.JSONDecodeError as exc:
            self._answer_error(message, f"the upstream sent invalid JSON: {exc}")
        except MessageTooLarge:
            self._answer_error(message, self._too_large())
        except Exception as exc:  # a fault here or in on_message: the caller must still get an answer
            what = message.get("method", "a response")
            self._log.error("handling the reply to %s failed", what, exc_info=exc)
            self._answer_error(message, f"handling its reply failed: {type(exc).__name__}")

    async def _handle_post_response(self, message: Message, response: httpx.Response) -> None:
        status = response.status_code
        if not self.legacy_sse and (session_id := response.headers.get("mcp-session-id")):
            self.session_id = session_id
        if status >= 400:
            body = (await response.aread())[:200].decode(errors="replace")
            self._answer_error(message, f"HTTP {status}: {body}")
            if status == 404 and self.session_id and not self.legacy_sse:
                self._report_close(UpstreamError(self.name, SESSION_EXPIRED))
            return
        if self.legacy_sse or status in (202, 204):
            return
        answered = False
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("text/event-stream"):
            parser = SSEParser()
            async for chunk in response.aiter_bytes():
                for event in parser.feed(chunk):
                    if event.data and event.event == "message":
                        answered |= self._deliver(self._decode(event.data), message)
                self._check_size(parser.pending_bytes)
        else:
            parts, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                self._check_size(size)
                parts.append(chunk)
            payload = b"".join(parts)
            if payload.strip():
                answered = self._deliver(orjson.loads(payload), message)
        if not answered and "id" in message and "method" in message:
            self._answer_error(message, "the upstream ended its reply without an answer")
        if self.session_id and not self._get_stream_started:
            self._get_stream_started = True
            self._spawn(self._get_stream())

    def _deliver(self, value: Any, request: Message) -> bool:
        """Hand over what came back; True if it held the answer to ``request``. What a request's
        reply stream carries is related to it: the link routes it to that request's client."""
        if value is None:
            return False  # an event that was not JSON (logged by ``_decode``)
        items = value if isinstance(value, list) else [value]
        answered = False
        related = request.get("id") if "method" in request and isinstance(request.get("id"), int) else None
        for item in items:
            if isinstance(item, dict):
                if "method" not in item and item.get("id") == request.get("id"):
                    answered = True
                self._on_message(item, related)
            else:
                self._on_message(item)  # malformed: the link counts and drops it
        return answered

    def _decode(self, data: str) -> Any:
        """One SSE event's JSON; an undecodable event is logged and skipped (``None``), never fatal to
        the stream that carried it."""
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            self._log.warning("an SSE event that is not JSON was skipped: %.200r", data)
            return None

    def _answer_error(self, message: Message, detail: str) -> None:
        if "method" in message and "id" in message:
            text = f"upstream '{self.name}': {detail}"
            self._on_message(
                {"jsonrpc": "2.0", "id": message["id"], "error": {"code": INTERNAL_ERROR, "message": text}}
            )
        else:
            self._log.warning("could not deliver %s: %s", message.get("method", "a response"), detail)

    def _unreachable(self, exc: Exception) -> UpstreamError:
        """Why the server cannot be reached, and where (the URL without credentials or query)."""
        return UpstreamUnavailable(
            self.name, f"cannot connect to {self.describe()}: {type(exc).__name__}: {exc}"
        )

    def _check_size(self, size: int) -> None:
        if size > self.max_message_bytes:
            self.dropped["over-limit"] += 1
            raise MessageTooLarge

    def _too_large(self) -> str:
        return f"a message larger than {self.max_message_bytes} bytes (maxMessageBytes) was refused"

    def _session_headers(self) -> dict[str, str]:
        headers = {}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    # ----------------------------------------------------------------- server → client streams

    async def _get_stream(self) -> None:
        """The optional GET stream of streamable HTTP, for messages not tied to a request. Whenever
        it drops it is opened again, for as long as the transport lives, after a backoff that grows
        while drops come quickly and starts over after a stream that held; if the server cannot be
        reached or forgot the session, the transport ends (the link reconnects with a new session)."""
        quick_drops = 0
        while (client := self._client) is not None and not self._closing:
            opened = time.monotonic()
            try:
                headers = {**self._session_headers(), "Accept": "text/event-stream"}
                async with client.stream("GET", self.url, headers=headers) as response:
                    if response.status_code == 404:
                        self._report_close(UpstreamError(self.name, SESSION_EXPIRED))
                        return
                    if response.status_code == 405:
                        return  # the server offers no GET stream; that is allowed
                    if response.status_code != 200:
                        self._log.info("GET stream refused: HTTP %d", response.status_code)
                    else:
                        await self._read_get_stream(response)
                        self._log.info("GET stream ended by the server")
            except httpx.ConnectError as exc:
                self._report_close(self._unreachable(exc))
                return
            except (httpx.HTTPError, orjson.JSONDecodeError, MessageTooLarge) as exc:
                self._log.info("GET stream dropped: %s", exc)
            except Exception as exc:  # a fault here or in on_message: without this stream the link
                # would miss server messages for good, so it ends and the supervisor reconnects
                self._log.error("reading the GET stream failed; ending the connection", exc_info=exc)
                self._report_close(UpstreamError(self.name, f"reading its GET stream failed: {exc!r}"))
                return
            held = time.monotonic() - opened >= GET_STREAM_HELD_SECONDS
            quick_drops = 0 if held else quick_drops + 1
            await asyncio.sleep(min(GET_STREAM_FIRST_DELAY * 2**quick_drops, GET_STREAM_MAX_DELAY))

    async def _read_get_stream(self, response: httpx.Response) -> None:
        parser = SSEParser()
        async for chunk in response.aiter_bytes():
            for event in parser.feed(chunk):
                if event.data and event.event == "message":
                    self._deliver(self._decode(event.data), {})
            self._check_size(parser.pending_bytes)

    async def _open_legacy_stream(self) -> None:
        ready = asyncio.get_running_loop().create_future()
        self._spawn(self._legacy_stream(ready))
        try:
            async with asyncio.timeout(self.timeout):
                await ready
        except TimeoutError:
            raise UpstreamUnavailable(
                self.name, f"no 'endpoint' event from {self.describe()} within {self.timeout:g}s"
            ) from None

    async def _legacy_stream(self, ready: asyncio.Future[None]) -> None:
        assert self._client is not None
        error: BaseException | None = None
        try:
            async with self._client.stream(
                "GET", self.url, headers={"Accept": "text/event-stream"}
            ) as response:
                if response.status_code != 200:
                    raise UpstreamUnavailable(
                        self.name, f"HTTP {response.status_code} from {self.describe()}"
                    )
                parser = SSEParser()
                async for chunk in response.aiter_bytes():
                    if parser.pending_bytes + len(chunk) > self.max_message_bytes:
                        self.dropped["over-limit"] += 1
                        raise UpstreamUnavailable(self.name, self._too_large())
                    for event in parser.feed(chunk):
                        if event.event == "endpoint":
                            self.endpoint = urljoin(self.url, event.data.strip())
                            if not ready.done():
                                ready.set_result(None)
                        elif event.data and event.event == "message":
                            self._deliver(self._decode(event.data), {})
        except UpstreamError as exc:
            error = exc
        except orjson.JSONDecodeError as exc:
            error = UpstreamUnavailable(self.name, f"the upstream sent invalid JSON: {exc}")
        except httpx.ConnectError as exc:
            error = self._unreachable(exc)
        except httpx.HTTPError as exc:
            error = UpstreamUnavailable(self.name, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a fault here or in on_message: end the transport, loudly
            self._log.error("reading the SSE stream failed; ending the connection", exc_info=exc)
            error = UpstreamUnavailable(self.name, f"reading its SSE stream failed: {exc!r}")
        if not ready.done():
            ready.set_exception(
                error or UpstreamUnavailable(self.name, "the SSE stream ended before 'endpoint'")
            )
        elif not self._closing:
            self._report_close(error or ConnectionError("the SSE stream ended"))

    def _report_close(self, error: BaseException) -> None:
        if not self._closed_reported and not self._closing:
            self._closed_reported = True
            self._on_close(error)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task this transport owns: ``close`` cancels and awaits it; a failure is logged."""
        return self._tasks.spawn(coro)


def mirrored_headers(message: Message) -> dict[str, str]:
    """``Mcp-Method`` and ``Mcp-Name`` as a 2026-07-28 server requires them to mirror the body."""
    method = message.get("method")
    if not isinstance(method, str) or "id" not in message:
        return {}
    headers = {"Mcp-Method": method}
    field = NAMED.get(method)
    value = (message.get("params") or {}).get(field) if field else None
    if isinstance(value, str):
        plain = all(0x20 <= ord(ch) <= 0x7E for ch in value) and value == value.strip()
        if plain and not (value.startswith("=?base64?") and value.endswith("?=")):
            headers["Mcp-Name"] = value
        else:
            headers["Mcp-Name"] = "=?base64?" + base64.b64encode(value.encode()).decode() + "?="
    return headers
