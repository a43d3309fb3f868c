"""``python -m mcp_central.demo``: run the demo server over stdio."""

from mcp_central.demo.server import main

main()
