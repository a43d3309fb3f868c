"""``mcp-central server add|remove|list`` and ``config backups|rollback``: argument parsing and output.

The edits live in ``manage.registry`` and ``config.edit``; the ``--test`` polling in ``ops.check``.
This module turns flags into calls and results into lines for the operator.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from mcp_central.cli.common import add_config_flag, config_path, proxy_url, report, token_for, try_load, warn
from mcp_central.cli.progress import Progress
from mcp_central.config import edit
from mcp_central.errors import ConfigError, ConfigProblem
from mcp_central.manage import registry

if TYPE_CHECKING:
    from mcp_central.ops.check import RouteCheck

EXIT_UNVERIFIED = 3
"""The config was changed but ``--test`` could not prove the route (answers / is gone)."""


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    server = verbs.add_parser("server", help="add, remove or list servers in a config file")
    actions = server.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="add a server (stdio: --command; remote: --url or --port)")
    add.add_argument("name", nargs="?", help="server name (its routes are /NAME/mcp and /NAME/sse)")
    add.add_argument("--service", help="same as NAME (the seed's add-to-central.sh flag)")
    add_config_flag(add)
    stdio = add.add_argument_group("stdio server")
    stdio.add_argument("--command", help="executable to start (e.g. uvx, npx, mcp-server-time)")
    stdio.add_argument(
        "--arg",
        action="append",
        default=[],
        help="one argument, dashes and all (repeat in order); or give them all after --",
    )
    stdio.add_argument("--env", action="append", default=[], help="KEY=VALUE for the process (repeat)")
    remote = add.add_argument_group("remote server")
    remote.add_argument("--url", dest="server_url", help="SSE or streamable-HTTP URL of the server")
    remote.add_argument(
        "--port", type=int, help="a bridge from `bridge scaffold`: http://mcp-NAME-bridge:PORT/NAME/sse"
    )
    remote.add_argument("--bridge-host", help="host of that bridge (default: mcp-NAME-bridge)")
    remote.add_argument("--header", action="append", default=[], help="'Name: value' to send (repeat)")
    remote.add_argument(
        "--transport", choices=["sse", "streamable-http", "http"], help="remote transport (default: sse)"
    )
    remote.add_argument(
        "--add-auth",
        action="store_true",
        help="send 'Authorization: Bearer ${VAR}' to the server (VAR from --auth-env)",
    )
    remote.add_argument("--auth-env", default="MCP_PROXY_TOKEN", help="variable for --add-auth")
    add.add_argument("--dry-run", action="store_true", help="print the change as a diff; write nothing")
    _test_flags(add, "prove the new route answers initialize and tools/list on the running proxy")
    add.set_defaults(handler=server_add)

    remove = actions.add_parser("remove", help="remove a server")
    remove.add_argument("name", nargs="?")
    remove.add_argument("--service", help="same as NAME")
    add_config_flag(remove)
    remove.add_argument("--dry-run", action="store_true", help="print the change as a diff; write nothing")
    _test_flags(remove, "prove the route is gone from the running proxy")
    remove.set_defaults(handler=server_remove)

    listing = actions.add_parser("list", help="list the configured servers")
    add_config_flag(listing)
    listing.add_argument("--format", choices=["table", "names", "json"], default="table")
    listing.set_defaults(handler=server_list)

    config = verbs.add_parser("config", help="backups of a config file, and rolling back to one")
    config_actions = config.add_subparsers(dest="action", required=True)
    backups = config_actions.add_parser("backups", help="list backups, newest first")
    add_config_flag(backups)
    backups.set_defaults(handler=config_backups)
    rollback = config_actions.add_parser("rollback", help="restore a backup (default: the newest)")
    rollback.add_argument("id", nargs="?", help="backup ID from `config backups` (a unique prefix will do)")
    add_config_flag(rollback)
    rollback.set_defaults(handler=config_rollback)


def server_arguments(argv: list[str]) -> list[str]:
    """Let ``server add`` take the server's own dash-leading arguments, as npx and uvx need them.

    argparse reads ``--arg -y`` as a flag missing its value, so before parsing: ``--arg`` always
    takes the next word as its value (``--arg=-y``), and every word after a ``--`` is one more
    argument in order (``server add NAME --command npx -- -y @scope/pkg``). Other verbs pass as
    they are.
    """
    if argv[:2] != ["server", "add"]:
        return argv
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            out.extend(f"--arg={rest}" for rest in words)
        elif word == "--arg":
            value = next(words, None)
            out.append("--arg" if value is None else f"--arg={value}")
        else:
            out.append(word)
    return out


def _test_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--test", action="store_true", help=what)
    parser.add_argument("--proxy-url", help="base URL of the running proxy (default: from the config)")
    parser.add_argument("--test-token", "--token", dest="token", help="bearer token for the test")
    parser.add_argument(
        "--test-timeout", type=float, default=30.0, help="seconds to wait for the proxy (default 30)"
    )


def _name(args: argparse.Namespace) -> str:
    name: str | None = args.name or args.service
    if not name:
        raise ConfigError([ConfigProblem("NAME", "", "give the server's name (or --service NAME)")])
    if args.name and args.service and args.name != args.service:
        raise ConfigError([ConfigProblem("--service", "", f"{args.service!r} differs from {args.name!r}")])
    return name


def server_add(args: argparse.Namespace) -> int:
    try:
        path = config_path(args)
        name = _name(args)
        entry = _entry(args, name)
        result = registry.add_server(path, name, entry, dry_run=args.dry_run)
    except ConfigError as exc:
        return report(exc, "nothing changed:")
    if _dry_run(result):
        return 0
    backup = f" (backup {result.backup.id})" if result.backup else " (new file)"
    print(f"added '{name}' to {path}{backup}")
    if args.test:
        return _test_added(args, name)
    return 0


def _entry(args: argparse.Namespace, name: str) -> dict[str, object]:
    remote = args.server_url or args.port is not None
    if args.command and remote:
        raise ConfigError([ConfigProblem("--command", "", "give either --command or --url/--port, not both")])
    if args.command:
        if args.header or args.add_auth or args.transport:
            raise ConfigError(
                [ConfigProblem("--header", "", "--header, --add-auth and --transport are for remote servers")]
            )
        env = registry.parse_pairs(args.env, "=", "--env")
        return registry.stdio_entry(args.command, list(args.arg), env)
    if not remote:
        raise ConfigError(
            [ConfigProblem(name, "", "say how to reach it: --command (stdio), --url, or --port (a bridge)")]
        )
    if args.arg or args.env:
        raise ConfigError([ConfigProblem("--arg", "", "--arg and --env are for stdio servers (--command)")])
    if args.server_url and args.port is not None:
        raise ConfigError([ConfigProblem("--port", "", "give either --url or --port, not both")])
    url = args.server_url or registry.bridge_url(name, args.port, args.bridge_host, args.transport)
    headers = registry.parse_pairs(args.header, ":=", "--header")
    if args.add_auth:
        headers.setdefault("Authorization", f"Bearer ${{{args.auth_env}}}")
    return registry.remote_entry(url, headers, args.transport)


def _test_added(args: argparse.Namespace, name: str) -> int:
    from mcp_central.ops import check

    config = try_load(config_path(args))
    base = proxy_url(args.proxy_url, config)
    token = token_for(args.token, config, name)
    for transport in check.TRANSPORTS:
        url = check.route_url(base, name, transport)
        print(f"testing {url} (up to {args.test_timeout:g} s) …", file=sys.stderr)
        result = asyncio.run(_waiting_for_route(name, url, transport, token, args.test_timeout))
        if not result.ok:
            return _unverified(f"{url} did not answer within {args.test_timeout:g} s: {result.error}")
        print(f"ok: {url}: {result.tools} tool(s), {result.latency_ms:g} ms")
    return 0


async def _waiting_for_route(
    name: str, url: str, transport: str, token: str | None, limit: float
) -> RouteCheck:
    """``check.wait_for_route`` with a spinner on a terminal: each attempt and what it got."""
    from mcp_central.ops import check

    async with Progress() as progress:
        attempts = 0

        def attempted(result: RouteCheck) -> None:
            nonlocal attempts
            attempts += 1
            last = "ok" if result.ok else result.error
            progress.status(f"waiting for {url}: attempt {attempts + 1}, last: {last}")

        progress.status(f"waiting for {url}")
        return await check.wait_for_route(name, url, transport, token, limit, attempted)


async def _waiting_for_gone(url: str, token: str | None, limit: float) -> tuple[bool, str]:
    """``check.wait_for_gone`` with a spinner on a terminal."""
    from mcp_central.ops import check

    async with Progress() as progress:
        progress.status(f"waiting for {url} to go")
        return await check.wait_for_gone(
            url, token, limit, lambda last: progress.status(f"waiting for {url} to go, last: {last}")
        )


def server_remove(args: argparse.Namespace) -> int:
    try:
        path = config_path(args)
        name = _name(args)
        config = try_load(path) if args.test else None
        result = registry.remove_server(path, name, dry_run=args.dry_run)
    except ConfigError as exc:
        return report(exc, "nothing changed:")
    if _dry_run(result):
        return 0
    print(f"removed '{name}' from {path} (backup {result.backup.id if result.backup else '-'})")
    if args.test:
        from mcp_central.ops import check

        base = proxy_url(args.proxy_url, config)
        url = check.route_url(base, name, "streamable-http")
        print(f"testing that {url} is gone (up to {args.test_timeout:g} s) …", file=sys.stderr)
        gone, last = asyncio.run(_waiting_for_gone(url, token_for(args.token, config), args.test_timeout))
        if not gone:
            return _unverified(f"{url} still answers ({last}) after {args.test_timeout:g} s")
        print(f"ok: {url} is gone (404)")
    return 0


def _dry_run(result: registry.EditResult) -> bool:
    """Say what an edit warned about; for a dry run, show its diff. True if nothing was written."""
    warn(result.warnings)
    if result.written:
        return False
    sys.stdout.write(result.diff())
    print("dry run: nothing was written", file=sys.stderr)
    return True


def _unverified(problem: str) -> int:
    print(
        f"mcp-central: the config was changed, but {problem}\n"
        "  (is the proxy running with this config? It reloads on change unless started\n"
        "   with --no-watch; then send it SIGHUP, or restart it)",
        file=sys.stderr,
    )
    return EXIT_UNVERIFIED


def server_list(args: argparse.Namespace) -> int:
    try:
        rows = registry.list_servers(config_path(args))
    except ConfigError as exc:
        return report(exc)
    sys.stdout.write(registry.format_rows(rows, args.format))
    return 0


def config_backups(args: argparse.Namespace) -> int:
    try:
        path = config_path(args)
    except ConfigError as exc:
        return report(exc)
    found = edit.backups(path)
    if not found:
        print(f"no backups of {path}", file=sys.stderr)
        return 0
    print(f"{'ID':<26}  {'CREATED (UTC)':<19}  {'BYTES':>7}  PATH")
    for item in found:
        created = item.created.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{item.id:<26}  {created:<19}  {item.size:>7}  {item.path}")
    return 0


def config_rollback(args: argparse.Namespace) -> int:
    try:
        path = config_path(args)
        result = edit.rollback(path, args.id)
    except ConfigError as exc:
        return report(exc, "nothing changed:")
    for backup, reason in result.skipped:
        print(f"mcp-central: skipped backup {backup.id}: not a valid config: {reason}", file=sys.stderr)
    undo = f"; the replaced file is backup {result.saved.id}" if result.saved else ""
    print(f"restored {path} from backup {result.restored.id}{undo}")
    return 0
