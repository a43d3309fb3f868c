"""Text that is safe to print: secrets in URLs, headers, env values and session ids masked.

Used wherever a config value can reach a message, a log line or ``/status``. The rules: a URL's
userinfo and its query values become ``***`` (parameter names stay, they help debugging), header
and ``env`` values are never shown, a session id keeps only a short prefix. Pure functions on
strings: this module reads nothing and knows nothing of the config's schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from mcp_central.config.expand import written

MASK = "***"
SESSION_PREFIX = 8
"""Characters of a session id kept in logs: enough to tell sessions apart, too few to use one."""

# A URL in prose ends before whitespace or quotes, and not on the punctuation that follows it.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:!?)\]]")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def url(text: str) -> str:
    """``text`` (one URL) with userinfo and every query value masked; the fragment is dropped.

    ``http://user:pw@host/mcp?apikey=k&x`` → ``http://***@host/mcp?apikey=***&***``. Works on
    malformed URLs too (no parsing that could raise), since it runs on error paths.
    """
    head, _, fragment = text.partition("#")
    base, question, query = head.partition("?")
    base = _USERINFO.sub(rf"\g<1>{MASK}@", base)
    if question:
        items = [_mask_query_item(item) for item in query.split("&")]
        base = f"{base}?{'&'.join(items)}"
    return f"{base}#{MASK}" if fragment else base


def urls_in(text: str) -> str:
    """``text`` with every URL in it passed through ``url`` (for free-form messages)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda match: url(match.group(0)), text)


def upstream(command: str | None, args: Sequence[str], url_text: str | None) -> str:
    """A safe one-line description of an upstream: its command line or its URL.

    Every part that came from a ``${VAR}`` is shown as written (``--api-key=${API_KEY}``), and
    URLs anywhere in it are redacted. Header and ``env`` values are not part of it.
    """
    if command:
        return " ".join(urls_in(written(part)) for part in (command, *args))
    return url(written(url_text)) if url_text else ""


def headers(values: Mapping[str, str]) -> dict[str, str]:
    """Header names with masked values: which headers are sent, never what."""
    return dict.fromkeys(values, MASK)


def env(values: Mapping[str, str]) -> dict[str, str]:
    """Environment variable names with masked values."""
    return dict.fromkeys(values, MASK)


def session_id(value: str) -> str:
    """A session id cut to a short prefix (``1a2b3c4d…``)."""
    return value if len(value) <= SESSION_PREFIX else f"{value[:SESSION_PREFIX]}…"


def _mask_query_item(item: str) -> str:
    name, equals, value = item.partition("=")
    if not equals:
        return MASK if name else name  # a bare item (``?sk-123``) may itself be the secret
    return f"{name}={MASK}" if value else f"{name}="
