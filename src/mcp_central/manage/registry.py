"""The server registry in a config file: add, remove and list ``mcpServers`` entries.

This is what the seed's ``add-to-central.sh``, ``remove-from-central.sh`` and ``list-central.sh``
did with jq, done on the text of the file (comments kept) and through ``config.edit`` (validated,
backed up, atomic). It reads and writes files only; proving that a route answers is ``ops.check``.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_central.config.edit import Backup, problem, read_text, validate_text, write_config
from mcp_central.config.jsonc_edit import EditError, add_member, remove_member
from mcp_central.config.loader import STREAMABLE_NAMES
from mcp_central.config.names import name_problem
from mcp_central.config.sources import parse
from mcp_central.errors import ConfigError, ConfigProblem

SERVERS = ("mcpServers",)
NEW_FILE = '{\n  "mcpServers": {}\n}\n'
"""What ``server add`` starts from when the config does not exist yet (a Claude-Desktop layout
that serves on 127.0.0.1:9090)."""


@dataclass(frozen=True)
class EditResult:
    path: Path
    old_text: str | None
    new_text: str
    backup: Backup | None
    warnings: list[str]
    written: bool

    def diff(self) -> str:
        old = (self.old_text or "").splitlines(keepends=True)
        new = self.new_text.splitlines(keepends=True)
        label = str(self.path)
        return "".join(difflib.unified_diff(old, new, f"{label} (now)", f"{label} (after)"))


@dataclass(frozen=True)
class ServerRow:
    name: str
    transport: str
    target: str
    disabled: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transport": self.transport,
            "target": self.target,
            "disabled": self.disabled,
            "routes": [f"/{self.name}/mcp", f"/{self.name}/sse"],
        }


# --------------------------------------------------------------------------- entries


def stdio_entry(command: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"command": command}
    if args:
        entry["args"] = args
    if env:
        entry["env"] = env
    return entry


def remote_entry(url: str, headers: dict[str, str], transport: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": url}
    if transport:
        entry["transportType"] = "streamable-http" if transport in STREAMABLE_NAMES else transport
    if headers:
        entry["headers"] = headers
    return entry


def bridge_url(name: str, port: int, host: str | None = None, transport: str | None = None) -> str:
    """Where a bridge scaffolded by ``bridge scaffold`` serves ``name`` on the compose network."""
    leaf = "mcp" if transport in STREAMABLE_NAMES else "sse"
    return f"http://{host or f'mcp-{name}-bridge'}:{port}/{name}/{leaf}"


def parse_pairs(items: list[str], separators: str, what: str) -> dict[str, str]:
    """``["K=V", …]`` (or ``"K: V"`` for headers) into a dict; ``ConfigError`` names a bad item."""
    out: dict[str, str] = {}
    for item in items:
        cut = min((i for i in (item.find(s) for s in separators) if i > 0), default=-1)
        if cut <= 0:
            sep = " or ".join(f"NAME{s}VALUE" for s in separators)
            raise ConfigError([ConfigProblem(what, "", f"expected {sep}, got {item!r}")])
        out[item[:cut].strip()] = item[cut + 1 :].strip()
    return out


# --------------------------------------------------------------------------- edits


def add_server(path: Path, name: str, entry: dict[str, Any], *, dry_run: bool = False) -> EditResult:
    """Add ``mcpServers.name``; refuse a bad name, a duplicate, a v1 layout, or a result that does
    not validate."""
    name_error = name_problem(name)
    if name_error is not None:
        raise problem(path, name_error, f"mcpServers.{name}")
    old = read_text(path)
    base = old if old is not None else NEW_FILE
    raw = _raw(base, path)
    if "mcpServers" not in raw and "clients" in raw:
        raise problem(
            path,
            "this file uses TBXark's v1 layout (server + clients); server add edits the v2 layout "
            "(mcpProxy + mcpServers): move the entries under mcpServers first",
        )
    servers = raw.get("mcpServers", {})
    if isinstance(servers, dict) and name in servers:
        raise problem(
            path,
            "a server with this name already exists (remove it first, or choose another name)",
            f"mcpServers.{name}",
        )
    try:
        new = add_member(base, SERVERS, name, entry)
    except EditError as exc:
        raise problem(path, f"cannot add the server: {exc}", "mcpServers") from None
    return _finish(path, old, new, dry_run)


def remove_server(path: Path, name: str, *, dry_run: bool = False) -> EditResult:
    old = read_text(path)
    if old is None:
        raise problem(path, "the config file does not exist")
    servers = _raw(old, path).get("mcpServers")
    if not isinstance(servers, dict) or name not in servers:
        known = ", ".join(servers) if isinstance(servers, dict) and servers else "none"
        raise problem(path, f"no such server (configured: {known})", f"mcpServers.{name}")
    try:
        new = remove_member(old, SERVERS, name)
    except EditError as exc:
        raise problem(path, f"cannot remove the server: {exc}", f"mcpServers.{name}") from None
    return _finish(path, old, new, dry_run)


def add_servers(path: Path, entries: dict[str, dict[str, Any]], *, dry_run: bool = False) -> EditResult:
    """Add several servers in one validated, backed-up write (``import --config``)."""
    old = read_text(path)
    text = old if old is not None else NEW_FILE
    existing = _raw(text, path).get("mcpServers", {})
    clashes = [name for name in entries if isinstance(existing, dict) and name in existing]
    if clashes:
        raise ConfigError(
            [
                ConfigProblem(str(path), f"mcpServers.{name}", "a server with this name already exists")
                for name in clashes
            ]
        )
    for name, entry in entries.items():
        try:
            text = add_member(text, SERVERS, name, entry)
        except EditError as exc:
            raise problem(path, f"cannot add the server: {exc}", f"mcpServers.{name}") from None
    return _finish(path, old, text, dry_run)


def _finish(path: Path, old: str | None, new: str, dry_run: bool) -> EditResult:
    if dry_run:
        warnings = validate_text(new, str(path))
        return EditResult(path, old, new, None, warnings, written=False)
    backup, warnings = write_config(path, new, old)
    return EditResult(path, old, new, backup, warnings, written=True)


# --------------------------------------------------------------------------- listing


def list_servers(path: Path) -> list[ServerRow]:
    """Every entry as written (``${VAR}`` not expanded: a listing must not print secrets)."""
    text = read_text(path)
    if text is None:
        raise problem(path, "the config file does not exist")
    raw = _raw(text, path)
    rows = []
    if "mcpServers" not in raw and isinstance(raw.get("clients"), dict):
        items = [
            (name, {**(c.get("config") or {}), "transportType": c.get("type")})
            for name, c in raw["clients"].items()
            if isinstance(c, dict)
        ]
    else:
        servers = raw.get("mcpServers") or {}
        items = list(servers.items()) if isinstance(servers, dict) else []
    for name, entry in items:
        if not isinstance(entry, dict):
            continue
        rows.append(ServerRow(name, _transport(entry), _target(entry), _disabled(entry)))
    return rows


def format_rows(rows: list[ServerRow], fmt: str) -> str:
    if fmt == "names":
        return "".join(f"{row.name}\n" for row in rows)
    if fmt == "json":
        return json.dumps([row.as_json() for row in rows], indent=2) + "\n"
    table = [("NAME", "TRANSPORT", "STATE", "TARGET")]
    table += [(r.name, r.transport, "disabled" if r.disabled else "enabled", r.target) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    return "".join(
        f"{a.ljust(widths[0])}  {b.ljust(widths[1])}  {c.ljust(widths[2])}  {d}\n" for a, b, c, d in table
    )


def _transport(entry: dict[str, Any]) -> str:
    kind = str(entry.get("transportType") or entry.get("type") or "").lower()
    if entry.get("command") or kind == "stdio":
        return "stdio"
    return "streamable-http" if kind in STREAMABLE_NAMES else "sse"


def _target(entry: dict[str, Any]) -> str:
    if entry.get("command"):
        args = entry.get("args") if isinstance(entry.get("args"), list) else []
        return " ".join(str(part) for part in [entry["command"], *(args or [])])
    return str(entry.get("url", ""))


def _disabled(entry: dict[str, Any]) -> bool:
    options = entry.get("options") if isinstance(entry.get("options"), dict) else {}
    return bool(
        entry.get("disabled") is True or entry.get("enabled") is False or (options or {}).get("disabled")
    )


def _raw(text: str, path: Path) -> dict[str, Any]:
    """The file's top-level object. Duplicate keys are refused here, before any edit: with a server
    defined twice, cutting out one definition would leave the other serving."""
    return parse(text, str(path))
