"""The downstream side: ASGI apps that serve MCP to clients, and their middleware."""
