"""End-to-end check of a running proxy: connect to each route as a real client would.

For every route (``/{name}/mcp`` over streamable HTTP, ``/{name}/sse`` over legacy SSE) the official
MCP SDK client performs ``initialize``, ``tools/list`` and ``ping``. Every network step runs under a
deadline, so a dead route costs at most ``time_limit`` seconds. Route names come from ``GET /status``
or from a config. ``wait_for_route`` / ``wait_for_gone`` poll one route for ``server add/remove
--test``. This module only reads from the network; it never edits a config.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

TRANSPORTS = ("streamable-http", "sse")
POLL_INTERVAL = 0.25
# ping is still part of every revision the gateway serves (we talk the legacy handshake); the SDK
# warns because the 2026-07-28 revision drops it. The check reports, it must not nag.
warnings.filterwarnings("ignore", message="ping is removed", category=MCPDeprecationWarning)


@dataclass
class RouteCheck:
    name: str
    transport: str
    url: str
    ok: bool = False
    latency_ms: float | None = None
    """Wall time of the whole exchange: connect, initialize, tools/list, ping."""
    tools: int | None = None
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "route": self.name,
            "transport": self.transport,
            "url": self.url,
            "ok": self.ok,
            "latencyMs": self.latency_ms,
            "tools": self.tools,
            "error": self.error or None,
        }


class StatusUnavailable(Exception):
    """``GET /status`` did not give a route list (unreachable, 401, not mcp-central)."""


def route_url(base_url: str, name: str, transport: str) -> str:
    return f"{base_url.rstrip('/')}/{name}/{'mcp' if transport == 'streamable-http' else 'sse'}"


async def route_names_from_status(base_url: str, token: str | None, time_limit: float) -> list[str]:
    url = f"{base_url.rstrip('/')}/status"
    try:
        async with httpx.AsyncClient(timeout=time_limit, headers=_auth(token)) as http:
            response = await http.get(url)
    except httpx.HTTPError as exc:
        raise StatusUnavailable(f"cannot reach {url}: {_describe_transport_error(exc)}") from None
    if response.status_code == 401:
        raise StatusUnavailable(
            f"{url} answered 401: it needs one of the global authTokens (pass --token, "
            "or set MCP_PROXY_TOKEN), or list the routes from the config with --config"
        )
    if response.status_code != 200:
        raise StatusUnavailable(f"{url} answered HTTP {response.status_code}")
    try:
        upstreams = response.json()["upstreams"]
        return [str(item["name"]) for item in upstreams]
    except (ValueError, KeyError, TypeError):
        raise StatusUnavailable(f"{url} did not answer with mcp-central's status JSON") from None


async def override_problems(base_url: str, token: str | None, time_limit: float) -> list[str]:
    """What ``/status`` says is wrong with the servers' ``toolOverrides`` now that their tools are
    known (an override of a tool a server does not have, a new name it already has); ``[]`` when
    ``/status`` cannot be read (the routes' own checks say why)."""
    try:
        async with httpx.AsyncClient(timeout=time_limit, headers=_auth(token)) as http:
            response = await http.get(f"{base_url.rstrip('/')}/status")
        upstreams = response.json()["upstreams"] if response.status_code == 200 else []
        return [str(problem) for item in upstreams for problem in item.get("toolOverrideProblems") or []]
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return []


async def check_route(
    name: str, url: str, transport: str, token: str | None, time_limit: float
) -> RouteCheck:
    """Initialize, list tools (every page) and ping over ``transport``; never raises."""
    result = RouteCheck(name, transport, url)
    step = "connect"
    started = time.monotonic()
    deadline = asyncio.timeout(time_limit)
    try:
        async with deadline, _client(url, transport, token, time_limit) as client:
            step = "tools/list"
            count, cursor = 0, None
            while True:
                page = await client.list_tools(cursor=cursor)
                count += len(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            step = "ping"
            await client.send_ping()
        result.ok, result.tools = True, count
    except TimeoutError:
        result.error = f"{step}: no answer within {time_limit:g} s"
    except Exception as exc:  # any failure is a failed check, reported by what it was
        # Past the deadline the SDK's streams may end with BrokenResourceError instead of the
        # cancellation: what the operator needs to hear is that nothing answered in time.
        expired = deadline.expired() or time.monotonic() - started >= time_limit
        result.error = f"{step}: no answer within {time_limit:g} s" if expired else _describe(step, exc)
    result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    if not result.ok and step == "connect" and transport == "streamable-http":
        # The SDK turns an HTTP status into a generic JSON-RPC error; ask once more to name it.
        result.error = await _http_status_hint(url, token, time_limit) or result.error
    return result


async def check_all(
    base_url: str,
    names: Iterable[str],
    token_for: Callable[[str], str | None],
    time_limit: float,
    *,
    transports: tuple[str, ...] = TRANSPORTS,
    concurrency: int = 4,
    progress: Callable[[RouteCheck, int, int], Awaitable[None] | None] | None = None,
    started: Callable[[str, str], None] | None = None,
) -> list[RouteCheck]:
    """Check every route of every name; results in (name, transport) order. ``started(name,
    transport)`` is told when a route's check begins, ``progress`` when it ends."""
    jobs = [(name, transport) for name in names for transport in transports]
    limit = asyncio.Semaphore(concurrency)
    done = 0

    async def one(name: str, transport: str) -> RouteCheck:
        nonlocal done
        async with limit:
            if started is not None:
                started(name, transport)
            result = await check_route(
                name, route_url(base_url, name, transport), transport, token_for(name), time_limit
            )
        done += 1
        if progress is not None:
            maybe = progress(result, done, len(jobs))
            if maybe is not None:
                await maybe
        return result

    return list(await asyncio.gather(*(one(name, transport) for name, transport in jobs)))


async def wait_for_route(
    name: str,
    url: str,
    transport: str,
    token: str | None,
    deadline_seconds: float,
    attempted: Callable[[RouteCheck], None] | None = None,
) -> RouteCheck:
    """Poll until the route passes ``check_route`` or the deadline passes; the last result.
    ``attempted`` hears each attempt's result."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        remaining = deadline - time.monotonic()
        result = await check_route(name, url, transport, token, max(1.0, min(remaining, 30.0)))
        if attempted is not None:
            attempted(result)
        if result.ok or time.monotonic() + POLL_INTERVAL >= deadline:
            return result
        await asyncio.sleep(POLL_INTERVAL)


async def wait_for_gone(
    url: str, token: str | None, deadline_seconds: float, attempted: Callable[[str], None] | None = None
) -> tuple[bool, str]:
    """Poll until ``url`` answers 404 (the route is gone); ``(gone, what it last answered)``.
    ``attempted`` hears what each attempt got."""
    deadline = time.monotonic() + deadline_seconds
    last = "no answer"
    async with httpx.AsyncClient(timeout=5, headers=_auth(token)) as http:
        while True:
            try:
                # Stream, and look at the status only: an SSE route answers with an endless body.
                async with http.stream("GET", url, headers={"Accept": "text/event-stream"}) as response:
                    status = response.status_code
                if status == 404:
                    return True, "404"
                last = f"HTTP {status} (the route still exists)"
            except httpx.HTTPError as exc:
                last = _describe_transport_error(exc)
                if isinstance(exc, httpx.ConnectError):
                    last += " (is the proxy running?)"
            if attempted is not None:
                attempted(last)
            if time.monotonic() + POLL_INTERVAL >= deadline:
                return False, last
            await asyncio.sleep(POLL_INTERVAL)


@asynccontextmanager
async def _client(url: str, transport: str, token: str | None, time_limit: float) -> AsyncIterator[Client]:
    if transport == "streamable-http":
        http = httpx2.AsyncClient(headers=_auth(token), timeout=httpx2.Timeout(time_limit))
        async with http, Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
            yield client
    else:
        stream = sse_client(url, headers=_auth(token), timeout=time_limit, sse_read_timeout=time_limit)
        async with Client(stream, mode="legacy") as client:
            yield client


async def _http_status_hint(url: str, token: str | None, time_limit: float) -> str | None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "mcp-central-check", "version": "0"},
        },
    }
    headers = {**_auth(token), "Accept": "application/json, text/event-stream"}
    try:
        async with (
            httpx.AsyncClient(timeout=time_limit, headers=headers) as http,
            http.stream("POST", url, json=body) as response,
        ):
            status = response.status_code
    except httpx.HTTPError:
        return None
    return _status_text("connect", status) if status in _STATUS_HINTS else None


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _leaf(exc: BaseException) -> BaseException:
    # The SDK runs its transports in task groups: the cause arrives wrapped in ExceptionGroups.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


_STATUS_HINTS = {
    401: "unauthorized: pass a token this route accepts (--token)",
    403: "forbidden (Origin refused)",
    404: "no such route (is the server in the running proxy's config?)",
}


def _status_text(step: str, status: int) -> str:
    hint = _STATUS_HINTS.get(status)
    return f"{step}: HTTP {status} {hint}" if hint else f"{step}: HTTP {status}"


def _describe(step: str, exc: BaseException) -> str:
    exc = _leaf(exc)
    if isinstance(exc, httpx2.HTTPStatusError | httpx.HTTPStatusError):
        return _status_text(step, exc.response.status_code)
    if isinstance(exc, MCPError):
        return f"{step}: error {exc.code}: {exc.error.message}"
    if isinstance(exc, httpx2.HTTPError | httpx.HTTPError):
        return f"{step}: {_describe_transport_error(exc)}"
    text = str(exc) or type(exc).__name__
    return f"{step}: {text}"


def _describe_transport_error(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx2.ConnectError):
        return f"cannot connect ({text})"
    return text
