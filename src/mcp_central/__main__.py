"""`python -m mcp_central` runs the command line."""

from mcp_central.cli.main import main

raise SystemExit(main())
