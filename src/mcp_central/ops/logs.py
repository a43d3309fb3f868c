"""The gateway's log: one handler on stderr, text or JSON lines, with no secret in any line.

``configure`` installs it (``serve`` calls it once at start). Every logger propagates to it —
ours, uvicorn's (its access log included, already query-redacted by ``cli.access_log``) and
httpx's — so one format covers every line:

- ``text``: ``TIME LEVEL LOGGER: message key=value …``, the context fields appended;
- ``json``: one object per line: ``ts`` (ISO 8601 UTC), ``level``, ``event`` (the message),
  ``logger``, and the context fields a line carries (``FIELDS``, passed with ``extra=``), plus
  ``exception`` with the traceback when there is one.

httpx and httpcore log every upstream HTTP request at INFO (``HTTP Request: POST …``): they are
held at WARNING unless the level is ``debug``. Last line of defence: each formatted line has every
secret of the running config (tokens, header and ``env`` values, values that came from ``${VAR}``,
URL credentials and query values) replaced by ``***`` — a server that prints its API key on
stderr, or a library's debug line, cannot leak it.

This module formats and filters log lines; it must not decide what is logged.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from mcp_central.config import redact
from mcp_central.config.expand import Expanded
from mcp_central.config.model import Config

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
FIELDS = (
    "route", "server", "session", "transport", "method", "tool", "prompt", "uri", "identity",
    "duration_ms", "outcome", "error", "trace_id", "arguments", "arguments_sha256",
)  # fmt: skip
"""Context fields a line may carry (``extra={"route": …}``), in the order they are written."""
CHATTY_LOGGERS = ("httpx", "httpcore")
"""Libraries that log one line per HTTP request at INFO: only their warnings, unless ``debug``."""
MIN_SECRET_CHARS = 6
"""Shorter values (``"1"``, ``"true"`` in an ``env``) are not masked: they would mask half the log."""
MASK = "***"


class Secrets:
    """The secret values of the current config, rebuilt when the config object changes (reload)."""

    def __init__(self, config: Callable[[], Config | None]) -> None:
        self._config = config
        self._seen: Config | None = None
        self._values: tuple[str, ...] = ()

    def mask(self, text: str) -> str:
        config = self._config()
        if config is not self._seen:
            self._seen = config
            found = set(_secrets_of(config)) if config is not None else set()
            # In a JSON line a secret with a quote or backslash appears escaped: mask that form too.
            found |= {orjson.dumps(value).decode()[1:-1] for value in found}
            # Longest first, so a secret that contains another is masked whole.
            self._values = tuple(sorted((v for v in found if len(v) >= MIN_SECRET_CHARS), key=len)[::-1])
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text


def _secrets_of(config: Config) -> Iterator[str]:
    proxy = config.proxy
    yield from proxy.auth_tokens
    yield from proxy.admin_tokens or ()
    for group in config.groups.values():
        yield from group.auth_tokens
    for server in config.servers.values():
        yield from server.auth_tokens
        yield from server.headers.values()
        yield from server.env.values()
        for part in (server.command, server.url, server.cwd, *server.args):
            if isinstance(part, Expanded):
                yield str(part)
        if server.url:
            yield from _url_secrets(server.url)
    yield from proxy.metrics_tokens or ()
    if proxy.session_store:
        yield from _url_secrets(proxy.session_store)
    for identity in config.identities.values():
        yield from identity.tokens


def _url_secrets(url: str) -> Iterator[str]:
    try:
        parts = urlsplit(url)
        if parts.password:
            yield parts.password
        if parts.username:
            yield parts.username
        for _name, value in parse_qsl(parts.query):
            yield value
    except ValueError:
        return


def _context(record: logging.LogRecord) -> Iterator[tuple[str, Any]]:
    values = record.__dict__
    for name in FIELDS:
        value = values.get(name)
        if value is not None and value != "":
            yield name, value


class TextFormatter(logging.Formatter):
    def __init__(self, secrets: Secrets) -> None:
        super().__init__(TEXT_FORMAT)
        self.secrets = secrets

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = " ".join(f"{name}={value}" for name, value in _context(record))
        return f"{line} {fields}" if fields else line

    def format(self, record: logging.LogRecord) -> str:
        return self.secrets.mask(super().format(record))


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": utc_iso(record.created),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        line.update(_context(record))
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        text = orjson.dumps(line, default=str).decode()
        # Masking the encoded line also catches a secret inside a field or a traceback; a
        # secret's JSON form differs from it only by escapes, which tokens and keys never need.
        return self.secrets.mask(text)


def utc_iso(seconds: float) -> str:
    """``2026-01-31T12:00:00.123Z``: ISO 8601 in UTC, to the millisecond."""
    whole = int(seconds)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{int((seconds - whole) * 1000):03d}Z"


class RedactURLs(logging.Filter):
    """On httpx's logger (its lines show only at ``debug``): URLs with credentials and query
    values masked, whatever the config holds (``Secrets`` masks only the config's own values)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact.urls_in(record.getMessage()), None
        return True


class _Ours(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler ``configure`` installed, so a second call replaces it."""


def configure(
    level: str, log_format: str = "text", config: Callable[[], Config | None] = lambda: None
) -> Secrets:
    """Send every log line to stderr in ``log_format``; ``config`` gives the running config, whose
    secrets are masked. Returns the ``Secrets`` in use."""
    secrets = Secrets(config)
    handler = _Ours(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if log_format == "json" else TextFormatter(secrets))
    root = logging.getLogger()
    for existing in [h for h in root.handlers if isinstance(h, _Ours)]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    chatty = logging.DEBUG if level.lower() == "debug" else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty)
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(existing, RedactURLs) for existing in httpx_log.filters):
        httpx_log.addFilter(RedactURLs())
    return secrets
