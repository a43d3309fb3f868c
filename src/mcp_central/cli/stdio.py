"""``mcp-central stdio URL``: flags in, a running stdio front end out (``frontend.runner``).

Checks what the operator wrote before anything connects: the URL's scheme and host, each
``--header "Name: value"`` (``${VAR}`` in values expanded from the environment; an unset one is an
error naming it), and ``--token-env VAR`` (the bearer token is read from that variable, never from
the command line). Errors name the flag and the variable, never a value. Exit status: 0 when stdin
ends, 1 when the gateway cannot be reached or refuses the token, 2 for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

from mcp_central.config import redact
from mcp_central.config.expand import expand

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class UsageError(ValueError):
    pass


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stdio = verbs.add_parser(
        "stdio",
        help="be a stdio MCP server that relays everything to a gateway route (for stdio-only clients)",
        description="Launched by a stdio-only MCP client (Claude Desktop, …) as its server: relays every "
        "message to URL over streamable HTTP (legacy SSE when URL does not speak it, or ends in /sse), "
        "reconnects when the connection drops, exits 0 when stdin ends.",
    )
    stdio.add_argument("url", help="the route, e.g. http://gateway.lan:9090/mcp or …/NAME/mcp or …/NAME/sse")
    stdio.add_argument(
        "--header",
        action="append",
        default=[],
        metavar='"NAME: VALUE"',
        help="an HTTP header for every request (repeat); ${VAR} in VALUE is read from the environment",
    )
    stdio.add_argument("--token-env", metavar="VAR", help="send 'Authorization: Bearer <the value of $VAR>'")
    stdio.add_argument(
        "--transport",
        choices=["auto", "streamable-http", "sse"],
        default="auto",
        help="auto (default): streamable HTTP, falling back to legacy SSE",
    )
    stdio.add_argument("--timeout", type=float, default=30.0, help="seconds to connect and send (default 30)")
    stdio.add_argument(
        "--reconnect-wait",
        type=float,
        default=30.0,
        help="seconds requests wait for a lost session to be reopened before they get an error (default 30)",
    )
    stdio.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    stdio.set_defaults(handler=run_stdio)


def headers_from(header_flags: list[str], token_env: str | None, environ: dict[str, str]) -> dict[str, str]:
    """The request headers the flags ask for; ``UsageError`` naming the flag or variable at fault."""
    headers: dict[str, str] = {}
    problems: list[str] = []
    for index, flag in enumerate(header_flags):
        name, colon, value = flag.partition(":")
        name = name.strip()
        if not colon or not _HEADER_NAME.match(name):
            problems.append(f'--header #{index + 1}: expected "Name: value" with a valid header name')
            continue
        missing: list[str] = []
        expanded = expand(value.strip(), environ, _collect(missing), name)
        problems.extend(f"--header {name}: {text}" for text in missing)
        headers[name] = str(expanded)
    if token_env is not None:
        token = environ.get(token_env, "")
        if not token.strip():
            problems.append(f"--token-env {token_env}: the environment variable is not set or empty")
        elif any(key.lower() == "authorization" for key in headers):
            problems.append("--token-env and --header Authorization both set the Authorization header")
        else:
            headers["Authorization"] = f"Bearer {token.strip()}"
    if problems:
        raise UsageError("; ".join(problems))
    return headers


def _collect(into: list[str]) -> Callable[[str, str], None]:
    return lambda _path, text: into.append(text)


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"URL must be http(s)://HOST[:PORT]/PATH, got {redact.url(url)!r}")


def run_stdio(args: argparse.Namespace) -> int:
    from mcp_central.frontend.gateway import Target
    from mcp_central.frontend.runner import StdioFrontend

    try:
        check_url(args.url)
        headers = headers_from(args.header, args.token_env, dict(os.environ))
    except UsageError as exc:
        print(f"mcp-central stdio: {exc}", file=sys.stderr)
        return 2
    # stdout carries the protocol: every log line goes to stderr, where clients keep them.
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="mcp-central stdio: %(levelname)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would show every URL
    target = Target(args.url, headers, args.timeout, args.transport)
    frontend = StdioFrontend(target, sys.stdin.buffer, sys.stdout.buffer, wait=args.reconnect_wait)
    status = asyncio.run(frontend.run())
    if frontend.error:
        print(f"mcp-central stdio: {redact.urls_in(frontend.error)}", file=sys.stderr)
    return status
