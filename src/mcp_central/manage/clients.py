"""Ready-to-paste client configuration for every route, in each client's own current format.

Each client spells the same three facts differently (route URL, transport, bearer token):

    claude-code  .mcp.json {"mcpServers": {N: {"type": "http"|"sse", "url", "headers"}}},
                 or `claude mcp add --transport T N URL --header '…'` lines (the header last: it
                 takes several values); ${VAR} kept as written and expanded by Claude Code
    vscode       .vscode/mcp.json {"servers": {N: {"type": "http"|"sse", "url", "headers"}},
                 "inputs": [promptString]}; the token is prompted once, ${input:ID}
    gemini       settings.json {"mcpServers": {N: {"type": "http"|"sse", "url", "headers"}}}; ${VAR}
                 expanded by Gemini CLI (without "type" it takes any "url" for streamable HTTP)
    codex        config.toml [mcp_servers.N] url, bearer_token_env_var (streamable HTTP only)
    cursor       .cursor/mcp.json {"mcpServers": {N: {"url", "headers"}}}; ${env:VAR}
    open-webui   TOOL_SERVER_CONNECTIONS entries, two per route: its native MCP tool server
                 {"type": "mcp", "url": …/NAME/mcp, …} and the OpenAPI tool server of the built-in
                 bridge {"type": "openapi", "url": …/openapi/NAME, "path": "openapi.json", …}, both
                 with "auth_type": "bearer" (streamable HTTP only; compose fills "key" from ${VAR})

A route is a server (``/NAME/mcp``), the aggregated ``all`` (``/mcp``, entry ``mcp-central``) or a
group (``/groups/NAME/mcp``, entry ``NAME``). Tokens are never written: each format names the
variable (or prompt) that supplies them. This module builds text only; it reads no files and
makes no connections.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

CLIENTS = ("claude-code", "vscode", "gemini", "codex", "cursor", "open-webui")
AGGREGATED = "all"
"""``--route all``: every server as one (``/mcp``)."""
AGGREGATED_ENTRY = "mcp-central"
"""The entry name the aggregated route gets in a client's config."""
GROUP_PREFIX = "groups/"
STREAMABLE_ONLY = {"codex", "open-webui"}
VSCODE_INPUT = "mcp-central-token"


class ClientsError(ValueError):
    pass


@dataclass(frozen=True)
class Route:
    name: str
    url: str
    transport: str  # "http" (streamable HTTP, /NAME/mcp) or "sse" (legacy, /NAME/sse)
    openapi_url: str = ""
    """The route's OpenAPI bridge: ``/openapi/NAME`` (its document is ``openapi.json`` under it)."""


def routes(base_url: str, names: list[str], transport: str) -> list[Route]:
    """One route per server name: ``/NAME/mcp`` (or ``/NAME/sse``)."""
    return [route(base_url, name, transport) for name in names]


def route(base_url: str, spec: str, transport: str) -> Route:
    """``spec`` is a server NAME, ``all`` (the aggregated ``/mcp``) or ``groups/NAME``."""
    leaf = "mcp" if transport == "http" else "sse"
    base = base_url.rstrip("/")
    if spec == AGGREGATED:
        return Route(AGGREGATED_ENTRY, f"{base}/{leaf}", transport, f"{base}/openapi")
    if spec.startswith(GROUP_PREFIX):
        group = spec.removeprefix(GROUP_PREFIX)
        return Route(group, f"{base}/{spec}/{leaf}", transport, f"{base}/openapi/{spec}")
    return Route(spec, f"{base}/{spec}/{leaf}", transport, f"{base}/openapi/{spec}")


def render(client: str, items: list[Route], token_env: str | None, as_commands: bool = False) -> str:
    if client not in CLIENTS:
        raise ClientsError(f"unknown client {client!r} (known: {', '.join(CLIENTS)})")
    if client in STREAMABLE_ONLY and any(r.transport != "http" for r in items):
        raise ClientsError(f"{client} connects over streamable HTTP only: drop --transport sse")
    names = [r.name for r in items]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ClientsError(f"two routes would share the entry name {', '.join(twice)}: ask for one of them")
    if as_commands:
        if client != "claude-code":
            raise ClientsError("--commands is available for claude-code only")
        return _claude_commands(items, token_env)
    renderer: Callable[[list[Route], str | None], str] = {
        "claude-code": _claude_code,
        "vscode": _vscode,
        "gemini": _gemini,
        "codex": _codex,
        "cursor": _cursor,
        "open-webui": _open_webui,
    }[client]
    return renderer(items, token_env)


def _json(value: object) -> str:
    return json.dumps(value, indent=2) + "\n"


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _with_headers(entry: dict[str, object], headers: dict[str, str]) -> dict[str, object]:
    if headers:
        entry["headers"] = headers
    return entry


def _claude_code(items: list[Route], token_env: str | None) -> str:
    headers = _bearer(f"${{{token_env}}}" if token_env else None)
    servers = {r.name: _with_headers({"type": r.transport, "url": r.url}, headers) for r in items}
    return _json({"mcpServers": servers})


def _claude_commands(items: list[Route], token_env: str | None) -> str:
    """`claude mcp add` lines. ``--header`` takes several values, so it comes after NAME and URL (before
    them it would swallow both); single quotes keep ``${VAR}`` as written, for Claude Code to fill in."""
    lines = []
    for r in items:
        argv = ["claude", "mcp", "add", "--transport", r.transport, r.name, r.url]
        if token_env:
            argv += ["--header", f"Authorization: Bearer ${{{token_env}}}"]
        lines.append(shlex.join(argv))
    return "\n".join(lines) + "\n"


def _vscode(items: list[Route], token_env: str | None) -> str:
    headers = _bearer(f"${{input:{VSCODE_INPUT}}}" if token_env else None)
    document: dict[str, object] = {
        "servers": {r.name: _with_headers({"type": r.transport, "url": r.url}, headers) for r in items}
    }
    if token_env:
        document["inputs"] = [
            {
                "type": "promptString",
                "id": VSCODE_INPUT,
                "description": f"mcp-central bearer token (the value of {token_env})",
                "password": True,
            }
        ]
    return _json(document)


def _gemini(items: list[Route], token_env: str | None) -> str:
    headers = _bearer(f"${{{token_env}}}" if token_env else None)
    # "type" always: Gemini CLI takes a bare "url" for streamable HTTP (and "httpUrl" is deprecated).
    servers = {r.name: _with_headers({"type": r.transport, "url": r.url}, headers) for r in items}
    return _json({"mcpServers": servers})


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _codex(items: list[Route], token_env: str | None) -> str:
    blocks = []
    for r in items:
        key = r.name if _BARE_KEY.match(r.name) else json.dumps(r.name)
        lines = [f"[mcp_servers.{key}]", f"url = {json.dumps(r.url)}"]
        if token_env:
            lines.append(f"bearer_token_env_var = {json.dumps(token_env)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _cursor(items: list[Route], token_env: str | None) -> str:
    headers = _bearer(f"${{env:{token_env}}}" if token_env else None)
    servers = {r.name: _with_headers({"url": r.url}, headers) for r in items}
    return _json({"mcpServers": servers})


def _open_webui(items: list[Route], token_env: str | None) -> str:
    """Both ways per route: Open WebUI's native MCP client, and an OpenAPI tool server (the bridge)."""
    auth = {"auth_type": "bearer" if token_env else "none", "key": f"${{{token_env}}}" if token_env else ""}
    connections = []
    for r in items:
        connections.append(
            {
                "type": "mcp",
                "url": r.url,
                "path": "",
                **auth,
                "config": {"enable": True},
                "info": {"id": r.name, "name": r.name, "description": f"mcp-central route /{r.name} (MCP)"},
            }
        )
        connections.append(
            {
                "type": "openapi",
                "url": r.openapi_url,
                "path": "openapi.json",
                **auth,
                "config": {"enable": False},  # one of the two ways is enough: enable the one you use
                "info": {
                    "id": f"{r.name}-openapi",
                    "name": f"{r.name} (OpenAPI)",
                    "description": f"mcp-central route /{r.name} through its OpenAPI bridge",
                },
            }
        )
    return _json(connections)


def where(client: str, token_env: str | None, as_commands: bool = False) -> str:
    """What to do with the output (printed on stderr): true for exactly what was printed."""
    variable = f"${{{token_env}}}" if token_env else ""
    fills = f"; export {token_env} where the client runs: it fills in {variable} itself" if token_env else ""
    if client == "claude-code" and as_commands:
        kept = (
            f"; the single quotes keep {variable} as written in ~/.claude.json, and Claude Code fills it "
            f"in from its environment when it connects (export {token_env} before starting claude)"
            if token_env
            else ""
        )
        return f"run these lines in your project's folder (they add to its local scope){kept}"
    if client == "claude-code":
        return (
            "save as .mcp.json in your project (Claude Code asks once to approve a project's servers), "
            f"or run the lines from --commands{fills}"
        )
    if client == "vscode":
        return "save as .vscode/mcp.json" + (" (VS Code prompts for the token once)" if token_env else "")
    if client == "gemini":
        return (
            "merge into ~/.gemini/settings.json (or .gemini/settings.json in a project); Gemini CLI "
            f"connects only in folders you trust{fills}"
        )
    if client == "codex":
        return "append to ~/.codex/config.toml" + (
            f"; export {token_env} before starting codex" if token_env else ""
        )
    if client == "cursor":
        return "save as .cursor/mcp.json (project) or ~/.cursor/mcp.json" + (
            f"; Cursor fills in ${{env:{token_env}}}" if token_env else ""
        )
    return OPEN_WEBUI_WHERE


OPEN_WEBUI_WHERE = (
    "set as TOOL_SERVER_CONNECTIONS in Open WebUI's compose environment "
    "(compose fills in ${…}), or enter one in Admin Settings → External Tools: type MCP (Streamable HTTP) "
    "with URL …/NAME/mcp, or type OpenAPI with URL …/openapi/NAME and path openapi.json; auth Bearer "
    "with the token. Each route is listed both ways, the OpenAPI entry disabled: enable the one you use"
)


STDIO_WHERE = (
    "merge into the client's stdio server list (Claude Desktop: claude_desktop_config.json); put the "
    "token in each entry's env (the file does not read your shell's variables), and give the full path "
    "of mcp-central (`command -v mcp-central`) if it is not on the client's PATH"
)


def stdio_entries(
    items: list[Route], token_env: str | None, client: str, command: str = "mcp-central"
) -> str:
    """``{"mcpServers": {N: {"command", "args", "env"}}}``: each route through ``mcp-central stdio``,
    for clients that only launch stdio servers. The token is ``${VAR}`` for clients that expand it
    in ``env`` (Claude Code, Gemini CLI), else a placeholder naming the variable."""
    servers: dict[str, object] = {}
    for r in items:
        entry: dict[str, object] = {"command": command, "args": ["stdio", r.url]}
        if token_env:
            entry["args"] = ["stdio", r.url, "--token-env", token_env]
            expands = client in ("claude-code", "gemini")
            entry["env"] = {token_env: f"${{{token_env}}}" if expands else f"<the value of {token_env}>"}
        servers[r.name] = entry
    return _json({"mcpServers": servers})
