"""The `mcp-central` command line."""
