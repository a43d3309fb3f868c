"""MCP revision facts the gateway needs: which revisions it serves and how a version is agreed.

Sans-IO. Each side negotiates on its own: a downstream client may speak 2024-11-05 while the
upstream link speaks 2025-11-25; the messages forwarded between them are compatible.
"""

from __future__ import annotations

from typing import Any

from mcp_central.types import Message

SUPPORTED_VERSIONS: tuple[str, ...] = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
DEFAULT_HEADERLESS_VERSION = "2025-03-26"
"""What a streamable-HTTP request without ``MCP-Protocol-Version`` is assumed to speak (spec)."""


def negotiate(requested: Any) -> str:
    """The version to answer an ``initialize`` with: the client's if we speak it, else our latest."""
    if isinstance(requested, str) and requested in SUPPORTED_VERSIONS:
        return requested
    return LATEST_VERSION


def initialize_request(request_id: int, name: str, version: str, capabilities: dict[str, Any]) -> Message:
    """The ``initialize`` an upstream link sends on behalf of every downstream it serves."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": LATEST_VERSION,
            "capabilities": capabilities,
            "clientInfo": {"name": name, "version": version},
        },
    }


def initialize_result(upstream_result: dict[str, Any], requested_version: Any) -> dict[str, Any]:
    """A downstream's ``InitializeResult``: the upstream's own, at the version agreed with this client.

    The upstream's capabilities, serverInfo, instructions and any unknown fields pass through.
    """
    result = dict(upstream_result)
    result["protocolVersion"] = negotiate(requested_version)
    return result
