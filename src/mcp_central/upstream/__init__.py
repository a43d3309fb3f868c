"""The upstream side: transports to MCP servers and the links (sessions) over them."""
