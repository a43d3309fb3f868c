"""Warnings about stdio commands that cannot be found where the config is checked.

``validate`` warns, it does not fail: the gateway may run on another machine or in a container
whose PATH differs (``npx`` and ``uvx`` in the image, not on the operator's laptop). This module
only looks commands up; it starts nothing and never prints an expanded ``${VAR}``.
"""

from __future__ import annotations

import os
import shutil

from mcp_central.config.expand import written
from mcp_central.config.model import Config, ServerConfig


def missing_commands(config: Config) -> list[str]:
    """One line per enabled stdio server whose command is not found (on PATH, or at its path)."""
    lines = []
    for name, server in config.servers.items():
        if server.transport != "stdio" or server.disabled or not server.command:
            continue
        if not _found(server):
            command = written(server.command)
            where = "at that path" if os.sep in server.command else "on PATH"
            lines.append(
                f"mcpServers.{name}.command: '{command}' is not found {where} here;"
                f" server '{name}' will not start unless the gateway's machine has it"
            )
    return lines


def _found(server: ServerConfig) -> bool:
    assert server.command is not None
    # The child gets the server's own PATH when its env sets one (upstream/stdio.py merges env).
    search = server.env.get("PATH", os.environ.get("PATH", os.defpath))
    command = server.command
    if os.sep in command and server.cwd and not os.path.isabs(command):
        command = os.path.join(server.cwd, command)
    return shutil.which(command, path=search) is not None
