"""mcp-central: one gateway between many MCP clients and many MCP servers."""

__version__ = "0.1.0"
