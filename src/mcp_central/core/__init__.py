"""Sans-IO protocol logic: JSON-RPC helpers, id remapping, routing. No sockets, no processes."""
