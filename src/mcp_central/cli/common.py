"""Helpers shared by the operator verbs: which config file, which proxy URL, which token.

Kept apart from ``main.py`` so that ``serve`` pays nothing for them. No logic about servers or
routes lives here, only resolving what the operator meant from flags, environment and config.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mcp_central.config.edit import ConfigCutShort
from mcp_central.config.loader import load_config
from mcp_central.config.model import Config
from mcp_central.errors import ConfigError, ConfigProblem

CONFIG_ENV = "MCP_CENTRAL_CONFIG"
TOKEN_ENV = "MCP_PROXY_TOKEN"
"""The seed's variable for the proxy's bearer token; used when no --token is given."""


def add_config_flag(parser: argparse.ArgumentParser, required_help: str = "") -> None:
    parser.add_argument(
        "--config",
        "-c",
        default=os.environ.get(CONFIG_ENV),
        help=f"config file to edit (default: ${CONFIG_ENV}){required_help}",
    )


def config_path(args: argparse.Namespace) -> Path:
    if not args.config:
        raise ConfigError(
            [ConfigProblem("--config", "", f"no config file given: pass --config FILE or set {CONFIG_ENV}")]
        )
    return Path(args.config)


def try_load(path: Path | str) -> Config | None:
    """The config with ``${VAR}`` expanded, or ``None`` when it does not load here (e.g. unset vars)."""
    try:
        return load_config(str(path))
    except ConfigError:
        return None


def proxy_url(explicit: str | None, config: Config | None) -> str:
    """Base URL of the running proxy: ``--url``, else what the config says it serves on."""
    if explicit:
        return explicit.rstrip("/")
    if config is None:
        return "http://127.0.0.1:9090"
    proxy = config.proxy
    host = proxy.host if proxy.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{proxy.port}{proxy.base_path}"


def token_for(explicit: str | None, config: Config | None, server: str | None = None) -> str | None:
    """``--token``, else ``$MCP_PROXY_TOKEN``, else the first token the config accepts there."""
    if explicit:
        return explicit
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    if config is None:
        return None
    if server is not None and server in config.servers:
        tokens = config.servers[server].auth_tokens
    else:
        tokens = config.proxy.auth_tokens
    return tokens[0] if tokens else None


def report(exc: ConfigError, what: str = "") -> int:
    if isinstance(exc, ConfigCutShort):  # the file did change: never say "nothing changed"
        what = "the config was changed but is incomplete:"
    head = f"mcp-central: {what}" if what else "mcp-central:"
    if len(exc.problems) == 1:
        print(f"{head} {exc.problems[0]}", file=sys.stderr)
    else:
        print(f"{head} {len(exc.problems)} problems:", file=sys.stderr)
        for item in exc.problems:
            print(f"  {item}", file=sys.stderr)
    return 1


def warn(messages: list[str]) -> None:
    for message in messages:
        print(f"mcp-central: note: {message}; fine if the proxy's environment sets it", file=sys.stderr)
