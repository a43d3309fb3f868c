"""The access log without secrets: query values are redacted in uvicorn's access log lines.

A legacy SSE client posts to ``/message?sessionId=…``, and whoever holds a session id can speak in
that session, so a log line must not carry it whole: a session id keeps its first
``SESSION_PREFIX`` characters (enough to follow one session through the log), every other query
value (an ``apikey=…`` a client put in its URL) is replaced whole.

This module only rewrites log records; it must not change what is served.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
SESSION_PREFIX = 8
SESSION_KEYS = frozenset({"sessionid", "session_id", "mcp-session-id"})
REDACTED = "***"
PATH_ARG = 2
"""uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with (client, method, path + query, version, status)."""


def redact_query(target: str) -> str:
    """``target`` (a path with its query string) with every query value redacted."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    fields = []
    for field in query.split("&"):
        key, equals, value = field.partition("=")
        if not equals:
            fields.append(key)
        elif key.lower() in SESSION_KEYS:
            cut = value[:SESSION_PREFIX]
            fields.append(f"{key}={cut}…" if len(value) > SESSION_PREFIX else f"{key}={cut}")
        else:
            fields.append(f"{key}={REDACTED}" if value else f"{key}=")
    return f"{path}?{'&'.join(fields)}"


class RedactQueryValues(logging.Filter):
    """Installed on ``uvicorn.access``: rewrites the request target of each line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > PATH_ARG:
            target = args[PATH_ARG]
            if isinstance(target, str):
                record.args = (*args[:PATH_ARG], redact_query(target), *args[PATH_ARG + 1 :])
        return True


def redact_access_log() -> None:
    """Install the filter once (``serve`` may run more than once in a process, as tests do)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactQueryValues) for existing in logger.filters):
        logger.addFilter(RedactQueryValues())
