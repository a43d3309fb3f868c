"""Session records in Redis, and the pub/sub bus between replicas (``SessionShare`` for Redis).

Keys: ``mcpc:session:{id}`` a hash (``base``: the session's description; ``state:{key}``: the params
of each state-setting request), expiring ``ttl`` seconds after it was last written or refreshed.
Channels: ``mcpc:all`` (every replica: state changes, ended sessions) and ``mcpc:replica:{name}``
(one replica: answers to its server→client requests, legacy SSE POSTs for streams it holds).

Only three things wait on Redis: a new session (its record is written before the client learns its
id), a session new to this replica (its record is read), and a relayed legacy SSE POST. Everything
else is written in the background, and a session this replica holds needs Redis for nothing.
While Redis is down those three are refused (``StoreUnavailable``: 503), logged once per outage.

Must not: decide anything about MCP (that is ``downstream.replicated``) or touch sessions (``bus``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mcp_central.cluster.forward import Forwarder
from mcp_central.config import redact
from mcp_central.core.session_record import SessionRecord
from mcp_central.downstream.auth import Caller
from mcp_central.errors import StoreUnavailable
from mcp_central.types import Message, Receive, Scope, Send

log = logging.getLogger("mcp_central.cluster")

PREFIX = "mcpc:"
BROADCAST = f"{PREFIX}all"
TIMEOUT_SECONDS = 2.0
"""How long a Redis command may take before the store counts as unavailable."""
RETRY_SECONDS = 1.0

BusHandler = Callable[[dict[str, Any]], Awaitable[None]]


def session_key(session_id: str) -> str:
    return f"{PREFIX}session:{session_id}"


def replica_channel(replica: str) -> str:
    return f"{PREFIX}replica:{replica}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


class RedisShare:
    """One replica's view of the shared store."""

    def __init__(self, url: str, handle: BusHandler) -> None:
        self.replica = secrets.token_hex(4)
        self.url = url
        self._redis: aioredis.Redis = aioredis.from_url(
            url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        # Pub/sub waits indefinitely for messages: no read timeout there, a health-check PING instead.
        self._bus: aioredis.Redis = aioredis.from_url(
            url, socket_connect_timeout=TIMEOUT_SECONDS, health_check_interval=5
        )
        self._handle = handle
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.down_since: float | None = None
        """When Redis stopped answering (``None``: it answers)."""
        self.listening = asyncio.Event()
        """Set while this replica is subscribed to its channels."""
        self.forwarder = Forwarder(self.replica, self._publish_to)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._listener = asyncio.get_running_loop().create_task(self._listen())
        log.info("replica %s shares sessions through %s", self.replica, redact.url(self.url))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for task in list(self._tasks):
            task.cancel()
        await self._redis.aclose()
        await self._bus.aclose()

    # ------------------------------------------------------------------ SessionShare

    async def created(self, session_id: str, record: SessionRecord, ttl: float) -> None:
        key = session_key(session_id)
        async with self._guard("store a new session"), self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "base", record.describe())
            pipe.expire(key, int(ttl))
            await pipe.execute()

    async def lookup(self, route: str, session_id: str) -> SessionRecord | None:
        async with self._guard("read a session"):
            fields = await self._redis.hgetall(session_key(session_id))
        decoded = {_text(name): _bytes(value) for name, value in fields.items()}
        record = SessionRecord.parse(decoded)
        return record if record is not None and record.route == route else None

    def changed(
        self, route: str, session_id: str, key: str, params: dict[str, Any] | None, ttl: float
    ) -> None:
        async def write() -> None:
            name = session_key(session_id)
            async with self._redis.pipeline(transaction=True) as pipe:
                if params is None:
                    pipe.hdel(name, f"state:{key}")
                else:
                    pipe.hset(name, f"state:{key}", orjson.dumps(params))
                pipe.expire(name, int(ttl))
                pipe.publish(BROADCAST, self._event("state", route, session_id, key=key, params=params))
                await pipe.execute()

        self._spawn(write(), "record a session's state")

    def ended(self, route: str, session_id: str) -> None:
        async def write() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(session_key(session_id))
                pipe.publish(BROADCAST, self._event("ended", route, session_id))
                await pipe.execute()

        self._spawn(write(), "end a session")

    def answer_elsewhere(self, replica: str, route: str, session_id: str, message: Message) -> None:
        event = self._event("answer", route, session_id, message=message)
        self._spawn(self._redis.publish(replica_channel(replica), event), "pass an answer on")

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
        return await self.forwarder.forward(replica, route, caller, scope, body, receive, send)

    async def _publish_to(self, replica: str, event: dict[str, Any]) -> int:
        async with self._guard("forward a request"):
            return int(
                await self._redis.publish(
                    replica_channel(replica), orjson.dumps({"from": self.replica, **event})
                )
            )

    async def relay(self, holder: str, route: str, session_id: str, message: Message) -> bool:
        event = self._event("post", route, session_id, message=message)
        async with self._guard("relay a message"):
            receivers = await self._redis.publish(replica_channel(holder), event)
        return bool(receivers)

    async def refresh(self, session_ids: Iterable[str], ttl_of: Callable[[str], float]) -> None:
        """Keep the records of sessions used here alive (one pipeline; errors only logged)."""
        ids = list(session_ids)
        if not ids:
            return
        with contextlib.suppress(StoreUnavailable):
            async with self._guard("refresh sessions"), self._redis.pipeline(transaction=False) as pipe:
                for session_id in ids:
                    pipe.expire(session_key(session_id), int(ttl_of(session_id)))
                await pipe.execute()

    # ------------------------------------------------------------------ internals

    def _event(self, kind: str, route: str, session_id: str, **fields: Any) -> bytes:
        return orjson.dumps(
            {"kind": kind, "from": self.replica, "route": route, "session": session_id, **fields}
        )

    @contextlib.asynccontextmanager
    async def _guard(self, doing: str) -> Any:
        """Turn Redis failures into ``StoreUnavailable``, logging an outage once and its end."""
        try:
            yield
        except (RedisError, OSError, TimeoutError) as exc:
            self._down(doing, exc)
            raise StoreUnavailable(f"Redis at {redact.url(self.url)}: {type(exc).__name__}") from exc
        else:
            self._up()

    def _down(self, doing: str, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.error(
                "session store %s unavailable (could not %s: %s): new sessions get 503 until it is back; "
                "sessions held here carry on",
                redact.url(self.url),
                doing,
                redact.urls_in(str(exc)) or type(exc).__name__,
            )

    def _up(self) -> None:
        if self.down_since is not None:
            log.warning(
                "session store %s is back after %.1f s",
                redact.url(self.url),
                time.monotonic() - self.down_since,
            )
            self.down_since = None

    def _spawn(self, work: Awaitable[Any], doing: str) -> None:
        async def run() -> None:
            with contextlib.suppress(StoreUnavailable):
                async with self._guard(doing):
                    await work

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _dispatch(self, event: dict[str, Any]) -> None:
        async def run() -> None:
            try:
                await self._handle(event)
            except Exception:
                log.exception(
                    "replica %s: a %r message from replica %s failed",
                    self.replica,
                    event.get("kind"),
                    event.get("from"),
                )

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self) -> None:
        """Receive this replica's channels for as long as it runs, resubscribing after outages."""
        while True:
            pubsub = self._bus.pubsub()
            try:
                await pubsub.subscribe(BROADCAST, replica_channel(self.replica))
                self._up()
                self.listening.set()
                async for item in pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    try:
                        event = orjson.loads(item["data"])
                    except orjson.JSONDecodeError:
                        continue
                    if not isinstance(event, dict) or event.get("from") == self.replica:
                        continue
                    kind = event.get("kind")
                    if kind in ("http-out", "http-end"):
                        self.forwarder.answered(event)  # here, not in a task: they must stay in order
                    elif kind == "http-gone":
                        self.forwarder.client_gone(event)
                    else:
                        self._dispatch(event)
            except (RedisError, OSError, TimeoutError) as exc:
                self._down("listen to the other replicas", exc)
            finally:
                self.listening.clear()
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RETRY_SECONDS)
