"""Picks the transport for a configured server. The only place that knows all three kinds."""

from __future__ import annotations

from mcp_central.config.model import ServerConfig
from mcp_central.upstream.base import UpstreamTransport


def create_transport(server: ServerConfig) -> UpstreamTransport:
    if server.transport == "stdio":
        from mcp_central.upstream.stdio import StdioTransport

        assert server.command is not None, "the config loader guarantees a command for stdio"
        return StdioTransport(
            server.name,
            server.command,
            server.args,
            server.env,
            server.cwd,
            server.max_message_bytes,
            write_timeout=server.timeout,
        )
    from mcp_central.upstream.http import HTTPTransport

    assert server.url is not None, "the config loader guarantees a url for HTTP transports"
    return HTTPTransport(
        server.name,
        server.url,
        server.headers,
        server.timeout,
        legacy_sse=server.transport == "sse",
        max_message_bytes=server.max_message_bytes,
    )
