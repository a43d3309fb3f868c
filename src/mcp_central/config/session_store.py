"""``mcpProxy.options.sessionStore``: where client sessions live when replicas share them.

``"memory"`` (or unset) keeps sessions in the process, as one replica always did; a ``redis://`` or
``rediss://`` URL (``redis://[:password@]host:port/db``, the password written in or given as
``${VAR}``) puts them in Redis so any replica can carry on any session (``cluster/``). Only the
value's form is checked here: whether Redis answers is the running gateway's business.

Must not: import a Redis client, or show the URL's password in a problem (``redact.url``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mcp_central.config import redact
from mcp_central.config.fields import Problems

MEMORY = "memory"
REDIS_SCHEMES = ("redis", "rediss")
PATTERN = r"^memory$|^rediss?://|\$\{"
"""The schema's form of the value (``config.keys``)."""


def session_store(options: dict[str, Any], path: str, problems: Problems) -> str | None:
    """The store's URL, or ``None`` for memory; a problem at ``path.sessionStore`` otherwise."""
    value = options.get("sessionStore")
    where = f"{path}.sessionStore"
    if value is None or value == MEMORY:
        return None
    if not isinstance(value, str):
        problems.add(where, f'expected "memory" or a redis:// URL, got {type(value).__name__}')
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        problems.add(where, f"not a valid URL ({exc}): {redact.url(value)}")
        return None
    if parts.scheme not in REDIS_SCHEMES or not parts.hostname:
        problems.add(
            where, f'expected "memory" or redis://host:port/db (or rediss://), got {redact.url(value)}'
        )
        return None
    database = parts.path.strip("/")
    if database and not database.isdigit():
        problems.add(where, f"the database must be a number (redis://host:port/0), got {redact.url(value)}")
        return None
    del port
    return value
