"""A tiny MCP server shipped in the package so `mcp-central serve` works with no config at all."""
