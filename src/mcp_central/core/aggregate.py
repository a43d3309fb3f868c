"""Many upstreams as one MCP server: names, URIs, merged lists and capabilities. Sans-IO.

Tools and prompts are exposed as ``<server><separator><name>``. Clients hold names to 64 characters
of ``[A-Za-z0-9_-]``, so a name that would break those limits (or whose server name contains the
separator, which would make it ambiguous) is shortened deterministically: unsafe characters become
``_``, the server part is cut and marked with eight hex digits of a hash of (server, name), and the
tool's own name keeps as much as fits. Plain names resolve by splitting at the first separator;
shortened ones through the table filled when lists are answered.

Resource URIs are exposed as ``mcp-central://<server>/<original URI>`` — the original kept verbatim
after the prefix, so resource templates stay templates and expand to URIs that resolve back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote

MAX_NAME_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
URI_PREFIX = "mcp-central://"
_DIGEST = 8
_MIN_SERVER_PART = 8


class Namespace:
    """Exposed tool or prompt names ↔ (server, original name), for one group."""

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self._original: dict[str, tuple[str, str]] = {}
        self._exposed: dict[tuple[str, str], str] = {}

    def expose(self, server: str, name: str) -> str:
        key = (server, name)
        known = self._exposed.get(key)
        if known is not None:
            return known
        plain = f"{server}{self.separator}{name}"
        if self.separator not in server and len(plain) <= MAX_NAME_LENGTH and not _UNSAFE.search(plain):
            exposed = plain
        else:
            exposed = self._shortened(server, name)
        self._original[exposed] = key
        self._exposed[key] = exposed
        return exposed

    def _shortened(self, server: str, name: str) -> str:
        """``<server, cut>_<hash><sep><name, cut>``: the tool's own name stays readable."""
        digest = hashlib.sha256(f"{server}\0{name}".encode()).hexdigest()
        safe_server, safe_name = _UNSAFE.sub("_", server), _UNSAFE.sub("_", name)
        width = _DIGEST
        while True:
            room = MAX_NAME_LENGTH - len(self.separator) - width - 1
            name_part = safe_name[: room - _MIN_SERVER_PART]
            server_part = safe_server[: room - len(name_part)]
            exposed = f"{server_part}_{digest[:width]}{self.separator}{name_part}"
            owner = self._original.get(exposed)
            if owner is None or owner == (server, name):
                return exposed
            width += 4  # a hash prefix collision: take more of the hash

    def resolve(self, exposed: Any, servers: Iterable[str]) -> tuple[str, str] | None:
        """The (server, original name) behind ``exposed``; ``None`` if it names nothing known."""
        if not isinstance(exposed, str):
            return None
        members = set(servers)
        known = self._original.get(exposed)
        if known is not None:
            return known if known[0] in members else None
        server, sep, name = exposed.partition(self.separator)
        if sep and name and server in members and self.separator not in server:
            return server, name
        return None


def expose_uri(server: str, uri: str) -> str:
    return f"{URI_PREFIX}{quote(server, safe='')}/{uri}"


def resolve_uri(uri: Any) -> tuple[str, str] | None:
    """The (server, original URI) behind an exposed URI (or URI template)."""
    if not isinstance(uri, str) or not uri.startswith(URI_PREFIX):
        return None
    server, sep, original = uri[len(URI_PREFIX) :].partition("/")
    if not sep or not server:
        return None
    return unquote(server), original


# ----------------------------------------------------------------------------- rewriting in place


def expose_content(server: str, blocks: Any) -> None:
    """Qualify the URIs of resource links and embedded resources in content blocks (in place)."""
    if not isinstance(blocks, list):
        return
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "resource_link" and isinstance(block.get("uri"), str):
            block["uri"] = expose_uri(server, block["uri"])
        elif block.get("type") == "resource" and isinstance(block.get("resource"), dict):
            resource = block["resource"]
            if isinstance(resource.get("uri"), str):
                resource["uri"] = expose_uri(server, resource["uri"])


def expose_result(server: str, method: str, result: Any, names: Namespace) -> None:
    """Make one member's answer to ``method`` speak the group's names and URIs (in place)."""
    if not isinstance(result, dict):
        return
    if method == "tools/list":
        for tool in _dicts(result.get("tools")):
            tool["name"] = names.expose(server, str(tool.get("name")))
    elif method == "prompts/list":
        for prompt in _dicts(result.get("prompts")):
            prompt["name"] = names.expose(server, str(prompt.get("name")))
    elif method == "resources/list":
        for resource in _dicts(result.get("resources")):
            if isinstance(resource.get("uri"), str):
                resource["uri"] = expose_uri(server, resource["uri"])
    elif method == "resources/templates/list":
        for template in _dicts(result.get("resourceTemplates")):
            if isinstance(template.get("uriTemplate"), str):
                template["uriTemplate"] = expose_uri(server, template["uriTemplate"])
    elif method == "resources/read":
        for contents in _dicts(result.get("contents")):
            if isinstance(contents.get("uri"), str):
                contents["uri"] = expose_uri(server, contents["uri"])
    elif method == "tools/call":
        expose_content(server, result.get("content"))
    elif method == "prompts/get":
        for message in _dicts(result.get("messages")):
            content = message.get("content")
            expose_content(server, content if isinstance(content, list) else [content])


LIST_KEYS = {
    "tools/list": "tools",
    "prompts/list": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
}


def merge_lists(method: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """One list result from the members' (already exposed) results, in member order."""
    key = LIST_KEYS[method]
    merged: list[Any] = []
    for result in results:
        items = result.get(key)
        if isinstance(items, list):
            merged.extend(items)
    return {key: merged}


def merge_capabilities(capabilities: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What a group declares: lists always (with ``listChanged``: members come and go), the rest if any
    member has it."""
    members = [caps for caps in capabilities if isinstance(caps, dict)]
    subscribe = any((caps.get("resources") or {}).get("subscribe") for caps in members)
    merged: dict[str, Any] = {
        "tools": {"listChanged": True},
        "prompts": {"listChanged": True},
        "resources": {"listChanged": True, "subscribe": subscribe},
    }
    if any("logging" in caps for caps in members):
        merged["logging"] = {}
    if any("completions" in caps for caps in members):
        merged["completions"] = {}
    experimental: dict[str, Any] = {}
    for caps in members:
        if isinstance(caps.get("experimental"), dict):
            experimental.update(caps["experimental"])
    if experimental:
        merged["experimental"] = experimental
    return merged


def merge_instructions(by_server: dict[str, Any], separator: str) -> str | None:
    parts = [
        f"Tools and prompts of '{server}' are named '{server}{separator}…'. {text.strip()}"
        for server, text in by_server.items()
        if isinstance(text, str) and text.strip()
    ]
    return "\n\n".join(parts) or None


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
