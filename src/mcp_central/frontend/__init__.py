"""The stdio front end: ``mcp-central stdio URL`` lets a stdio-only MCP client reach a gateway.

``core`` decides (sans-IO), ``gateway`` opens a session with the gateway over streamable HTTP or
legacy SSE, ``runner`` drives both with stdin and stdout. Nothing here serves HTTP or runs upstreams.
"""
