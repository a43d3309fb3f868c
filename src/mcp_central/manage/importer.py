"""``import``: turn a client's MCP config into ``mcpServers`` entries mcp-central serves.

Accepted inputs (detected by their keys):

    Claude Desktop / Claude Code / Cursor   {"mcpServers": {NAME: {command, args, env | type, url, headers}}}
    VS Code                                 {"servers": {NAME: {type, command, args, env, url, headers}},
                                             "inputs": [...]}, or settings.json's {"mcp": {"servers": …}}
                                            or its flat form {"mcp.servers": {…}} (how VS Code's
                                            settings editor writes it, other settings beside it)

Variables are rewritten into our ``${VAR}`` form: ``${env:X}`` → ``${X}``, ``${userHome}`` →
``${HOME}``, ``${workspaceFolder}`` → the workspace directory, and a VS Code prompt
``${input:api-key}`` → ``${API_KEY}`` (the proxy cannot prompt; the operator sets the variable).
Everything rewritten or dropped is reported as a note. This module converts data; writing the
result goes through ``manage.registry`` and ``config.edit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_central.config import jsonc
from mcp_central.config.loader import STREAMABLE_NAMES
from mcp_central.config.names import NAME_PATTERN, RESERVED_NAMES
from mcp_central.errors import ConfigError, ConfigProblem

_KEPT = ("command", "args", "env", "url", "headers", "cwd", "disabled")
_IGNORED_QUIETLY = {"type", "transportType", "transport"}
_VARIABLE = re.compile(r"\$\{(env:|input:)?([^}]+)\}")


@dataclass
class Imported:
    layout: str
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    """Environment variables the converted entries read (set them where the proxy runs)."""


def import_file(path: Path, workspace: Path | None = None) -> Imported:
    try:
        raw = jsonc.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), "", f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    except (jsonc.JSONCError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"not a JSON/JSONC file: {exc}")]) from None
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(str(path), "", "expected a JSON object at the top level")])
    if workspace is None:
        # .vscode/mcp.json and .cursor/mcp.json live one level below the workspace.
        workspace = path.parent.parent if path.parent.name in (".vscode", ".cursor") else path.parent
    return convert(raw, str(path), workspace.resolve())


def convert(raw: dict[str, Any], source: str, workspace: Path) -> Imported:
    if isinstance(raw.get("servers"), dict):
        layout, servers, key = "VS Code (servers)", raw["servers"], "servers"
    elif isinstance(raw.get("mcp"), dict) and isinstance(raw["mcp"].get("servers"), dict):
        layout, servers, key = "VS Code settings (mcp.servers)", raw["mcp"]["servers"], "mcp.servers"
    elif isinstance(raw.get("mcp.servers"), dict):
        # settings.json holds dotted keys flat: {"editor.fontSize": 14, "mcp.servers": {…}}
        layout, servers, key = "VS Code settings (mcp.servers)", raw["mcp.servers"], "mcp.servers"
    elif isinstance(raw.get("mcpServers"), dict):
        layout, servers, key = (
            "Claude Desktop / Claude Code / Cursor (mcpServers)",
            raw["mcpServers"],
            "mcpServers",
        )
    else:
        raise ConfigError(
            [
                ConfigProblem(
                    source, "", "no MCP servers found (expected 'mcpServers', 'servers' or 'mcp.servers')"
                )
            ]
        )
    result = Imported(layout)
    problems: list[ConfigProblem] = []
    for original, entry in servers.items():
        path = f"{key}.{original}"
        if not isinstance(entry, dict):
            problems.append(ConfigProblem(source, path, "expected an object"))
            continue
        name = _name(original, result)
        if name in result.servers:
            problems.append(
                ConfigProblem(source, path, f"becomes '{name}', which another entry already uses")
            )
            continue
        converted = _entry(entry, path, workspace, result)
        if converted is None:
            problems.append(ConfigProblem(source, path, "needs 'command' (stdio) or 'url' (remote)"))
            continue
        result.servers[name] = converted
    if problems:
        raise ConfigError(problems)
    return result


def _name(original: str, result: Imported) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", original).strip("-.") or "server"
    if name in RESERVED_NAMES:
        name = f"{name}-server"
    if name != original:
        result.notes.append(f"server '{original}' is named '{name}' (names become URL paths)")
    assert NAME_PATTERN.match(name)
    return name


def _entry(entry: dict[str, Any], path: str, workspace: Path, result: Imported) -> dict[str, Any] | None:
    kind = str(entry.get("type") or entry.get("transportType") or entry.get("transport") or "").lower()
    for key in entry:
        if key not in _KEPT and key not in _IGNORED_QUIETLY:
            result.notes.append(f"{path}.{key}: dropped (mcp-central has no such setting)")
    out: dict[str, Any] = {}
    if entry.get("command"):
        out["command"] = _rewrite(str(entry["command"]), path, workspace, result)
        if entry.get("args"):
            out["args"] = [_rewrite(str(arg), path, workspace, result) for arg in entry["args"]]
        if isinstance(entry.get("env"), dict) and entry["env"]:
            out["env"] = {k: _rewrite(str(v), path, workspace, result) for k, v in entry["env"].items()}
        if entry.get("cwd"):
            out["cwd"] = _rewrite(str(entry["cwd"]), path, workspace, result)
    elif entry.get("url"):
        url = _rewrite(str(entry["url"]), path, workspace, result)
        out["url"] = url
        if kind in STREAMABLE_NAMES or (not kind and not url.rstrip("/").endswith("/sse")):
            # Clients that probe the transport take a URL without /sse as streamable HTTP; we say it.
            out["transportType"] = "streamable-http"
        if isinstance(entry.get("headers"), dict) and entry["headers"]:
            out["headers"] = {
                k: _rewrite(str(v), path, workspace, result) for k, v in entry["headers"].items()
            }
    else:
        return None
    if entry.get("disabled") is True:
        out["disabled"] = True
    return out


def _rewrite(text: str, path: str, workspace: Path, result: Imported) -> str:
    def replace(match: re.Match[str]) -> str:
        prefix, body = match.group(1), match.group(2)
        if prefix == "input:":
            variable = re.sub(r"[^A-Za-z0-9_]", "_", body).upper()
            _note_variable(
                result, variable, f"{path}: VS Code prompt ${{input:{body}}} became ${{{variable}}}"
            )
            return f"${{{variable}}}"
        if prefix == "env:":
            _note_variable(result, body, None)
            return f"${{{body}}}"
        if body == "workspaceFolder":
            result.notes.append(f"{path}: ${{workspaceFolder}} became {workspace}")
            return str(workspace)
        if body == "userHome":
            return "${HOME}"
        name = body.split(":-", 1)[0]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            _note_variable(result, name, None)
            return match.group(0)
        result.notes.append(f"{path}: {match.group(0)} has no mcp-central equivalent; left as text")
        return match.group(0)

    return _VARIABLE.sub(replace, text)


def _note_variable(result: Imported, name: str, note: str | None) -> None:
    if name not in result.variables:
        result.variables.append(name)
        if note:
            result.notes.append(note)
