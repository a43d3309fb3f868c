"""Where a config's text comes from, and its first reading: a file or an http(s) URL, JSONC into
a raw object (duplicate keys refused), and TBXark's v1 layout mapped onto the v2 one.

Kept apart from the loader, which validates what this returns. Problems name a URL source with its
userinfo and query values redacted (a config URL may carry a token). Starts nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp_central.config import jsonc, redact
from mcp_central.config.fields import Problems, as_object, token_list
from mcp_central.errors import ConfigError, ConfigProblem


def read_source(source: str, *, insecure: bool, http_headers: str, http_timeout: float) -> str:
    """The text of ``source`` (a path, or an http(s) URL fetched with the given headers)."""
    if source.startswith(("http://", "https://")):
        return _fetch(source, insecure, http_headers, http_timeout)
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(source, "", f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(source, "", f"not UTF-8 text: {exc}")]) from None


def parse(text: str, source: str) -> dict[str, Any]:
    """The top-level object of a config's text; ``ConfigError`` for bad JSONC or duplicate keys."""
    shown_source = redact.url(source)
    try:
        raw = jsonc.loads(text)
    except jsonc.DuplicateKeys as exc:
        raise ConfigError([ConfigProblem(shown_source, d.path, d.message) for d in exc.duplicates]) from None
    except jsonc.JSONCError as exc:
        raise ConfigError(
            [ConfigProblem(shown_source, f"line {exc.line}, column {exc.column}", exc.detail)]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(shown_source, "", "expected a JSON object at the top level")])
    return raw


def from_v1(raw: dict[str, Any], problems: Problems) -> tuple[Any, list[tuple[str, Any, str, str]]]:
    """TBXark's legacy layout: ``server`` + ``clients{NAME: {type, config, …options}}``."""
    server = as_object(raw.get("server", {}), "server", problems)
    global_tokens: tuple[str, ...] = ()
    if "globalAuthTokens" in server:
        global_tokens = token_list(server, "globalAuthTokens", "server", problems) or ()
    proxy_raw: dict[str, Any] = {
        k: v for k, v in server.items() if k in ("baseURL", "addr", "name", "version")
    }
    entries = []
    for name, client in as_object(raw.get("clients", {}), "clients", problems).items():
        path = f"clients.{name}"
        client = as_object(client, path, problems)
        entry = dict(as_object(client.get("config", {}), f"{path}.config", problems))
        if "type" in client:
            entry["transportType"] = client["type"]
        tokens = client.get("authTokens", [])
        if isinstance(tokens, list):
            tokens = [*tokens, *global_tokens]  # v1 accepted its own tokens and the global ones
        entry["options"] = {
            "authTokens": tokens,
            **{k: client[k] for k in ("panicIfInvalid", "logEnabled") if k in client},
        }
        entries.append((name, entry, f"{path}.config", path))
    return proxy_raw, entries


def _fetch(url: str, insecure: bool, http_headers: str, timeout: float) -> str:
    import httpx

    headers = {}
    for pair in http_headers.split(";"):
        key, sep, value = pair.partition(":")
        if sep and key.strip() and value.strip():
            headers[key.strip()] = value.strip()
    try:
        response = httpx.get(
            url, headers=headers, timeout=timeout, verify=not insecure, follow_redirects=True
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ConfigError(
            [ConfigProblem(redact.url(url), "", f"cannot fetch the config: {redact.urls_in(str(exc))}")]
        ) from None
    return response.text
