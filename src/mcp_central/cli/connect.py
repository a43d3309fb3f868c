"""``mcp-central check`` (is every route answering?) and ``mcp-central clients`` (how do clients
connect?): flags in, table or configuration text out. The work is in ``ops.check`` and
``manage.clients``; the SDK is imported only when ``check`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from typing import TYPE_CHECKING

from mcp_central.cli.common import TOKEN_ENV, proxy_url, report, token_for
from mcp_central.cli.progress import Progress
from mcp_central.config.loader import load_config, load_config_text
from mcp_central.config.model import Config
from mcp_central.config.names import name_problem
from mcp_central.config.sources import read_source
from mcp_central.errors import ConfigError, ConfigProblem
from mcp_central.manage import clients

if TYPE_CHECKING:
    from mcp_central.ops.check import RouteCheck


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = verbs.add_parser(
        "check", help="connect to every route of a running proxy: initialize, tools/list, ping"
    )
    check.add_argument(
        "--url",
        action="append",
        default=[],
        help="base URL of the proxy (default: from --config, else http://127.0.0.1:9090); "
        "repeat to check each replica directly",
    )
    check.add_argument("--token", help=f"bearer token (default: ${TOKEN_ENV}, else the config's tokens)")
    check.add_argument(
        "--config",
        "-c",
        default=os.environ.get("MCP_CENTRAL_CONFIG"),
        help="take the routes from this config",
    )
    check.add_argument("--server", action="append", default=[], help="check only this route (repeat)")
    check.add_argument("--transport", choices=["both", "streamable-http", "sse"], default="both")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds per route (default 10)")
    check.add_argument("--format", choices=["table", "json"], default="table")
    check.set_defaults(handler=run_check)

    gen = verbs.add_parser("clients", help="print client configuration for the routes")
    gen.add_argument("--client", required=True, choices=clients.CLIENTS)
    gen.add_argument("--base-url", help="URL clients reach the proxy at (default: the config's baseURL)")
    gen.add_argument(
        "--token-env",
        help=f"variable holding the bearer token (default: {TOKEN_ENV} if the config has tokens)",
    )
    gen.add_argument("--no-token", action="store_true", help="no Authorization header")
    gen.add_argument("--server", nargs="+", action="extend", default=[], help="only these routes")
    gen.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="all|groups/NAME",
        help="the aggregated route (/mcp, entry 'mcp-central') or a group's (/groups/NAME/mcp); repeat",
    )
    gen.add_argument(
        "--config", "-c", default=os.environ.get("MCP_CENTRAL_CONFIG"), help="the proxy's config"
    )
    gen.add_argument("--transport", choices=["http", "sse"], default="http", help="http = streamable HTTP")
    gen.add_argument("--commands", action="store_true", help="claude-code: `claude mcp add` lines")
    gen.add_argument(
        "--via",
        choices=["http", "stdio"],
        default="http",
        help="stdio: entries that launch `mcp-central stdio URL` (Claude Desktop, any stdio-only client)",
    )
    gen.set_defaults(handler=run_clients)


# --------------------------------------------------------------------------- clients


def run_clients(args: argparse.Namespace) -> int:
    try:
        config = _load_for_clients(args.config) if args.config else None
        specs = _route_specs(args.route, config)
        names = _names(args.server, config) if args.server or not specs else []
    except ConfigError as exc:
        return report(exc)
    if config is not None and not args.base_url and not config.proxy.base_url:
        print(
            "mcp-central: note: the config has no baseURL; pass --base-url with the URL clients use",
            file=sys.stderr,
        )
    base = args.base_url or (
        config.proxy.base_url if config and config.proxy.base_url else proxy_url(None, config)
    )
    if "${" in base:
        print(
            f"mcp-central: the base URL {base} uses a variable not set here: pass --base-url", file=sys.stderr
        )
        return 1
    token_env = None if args.no_token else args.token_env
    needs_token = config is not None and _has_tokens(config, names, specs)
    if token_env is None and not args.no_token and needs_token:
        token_env = TOKEN_ENV
        print(
            f"mcp-central: note: routes need a token; clients read it from ${TOKEN_ENV} (--token-env)",
            file=sys.stderr,
        )
    items = clients.routes(base, names, args.transport)
    items += [clients.route(base, spec, args.transport) for spec in specs]
    if args.via == "stdio":
        sys.stdout.write(clients.stdio_entries(items, token_env, args.client))
        print(f"mcp-central: {clients.STDIO_WHERE}", file=sys.stderr)
        return 0
    try:
        text = clients.render(args.client, items, token_env, args.commands)
    except clients.ClientsError as exc:
        print(f"mcp-central: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    print(f"mcp-central: {clients.where(args.client, token_env, args.commands)}", file=sys.stderr)
    return 0


def _load_for_clients(source: str) -> Config:
    """The config, with each unset ``${VAR}`` (no default) standing for itself: ``clients`` writes
    variable names, never values, so a token the proxy's environment sets need not be set here."""
    text = read_source(source, insecure=False, http_headers="", http_timeout=10.0)
    unset = sorted({name for name in _PLAIN_VARIABLE.findall(text) if name not in os.environ})
    if unset:
        shown = ", ".join(f"${name}" for name in unset)
        print(f"mcp-central: note: {shown} not set here (only names are written)", file=sys.stderr)
    stand_ins = {name: f"${{{name}}}" for name in unset}
    return load_config_text(text, source, environ={**os.environ, **stand_ins})


_PLAIN_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _route_specs(requested: list[str], config: Config | None) -> list[str]:
    """``--route`` values, checked: ``all`` or ``groups/NAME`` of a group the config has."""
    problems = []
    for spec in requested:
        group = spec.removeprefix(clients.GROUP_PREFIX)
        if spec == clients.AGGREGATED:
            continue
        if not spec.startswith(clients.GROUP_PREFIX):
            problems.append(ConfigProblem("--route", spec, "expected all or groups/NAME (servers: --server)"))
        elif (problem := name_problem(group, "group")) is not None:
            problems.append(ConfigProblem("--route", spec, problem))
        elif config is not None and config.group(group) is None:
            known = ", ".join(f"groups/{name}" for name in config.groups) or "none"
            problems.append(
                ConfigProblem(str(config.source), f"groups.{group}", f"no such group (groups: {known})")
            )
    if problems:
        raise ConfigError(problems)
    return requested


def _names(requested: list[str], config: Config | None) -> list[str]:
    bad = [(name, problem) for name in requested if (problem := name_problem(name)) is not None]
    if bad:
        raise ConfigError([ConfigProblem("--server", name, problem) for name, problem in bad])
    if config is None:
        if not requested:
            raise ConfigError(
                [ConfigProblem("--server", "", "name the routes (--server NAME …) or give --config")]
            )
        return requested
    known = list(config.enabled_servers)
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise ConfigError(
            [
                ConfigProblem(
                    str(config.source),
                    f"mcpServers.{name}",
                    f"no such enabled server (enabled: {', '.join(known) or 'none'})",
                )
                for name in unknown
            ]
        )
    return requested or known


def _has_tokens(config: Config, names: list[str], specs: list[str]) -> bool:
    groups = [config.group(spec.removeprefix(clients.GROUP_PREFIX)) for spec in specs]
    return any(config.servers[name].auth_tokens for name in names) or any(
        group.auth_tokens for group in groups if group is not None
    )


# --------------------------------------------------------------------------- check


def run_check(args: argparse.Namespace) -> int:
    from mcp_central.ops import check

    try:
        config = load_config(args.config) if args.config else None
        # Names from --server (checked: each is one safe URL path segment) or the config; else
        # the running proxy's /status says which routes there are.
        chosen = _names(args.server, config) if config is not None or args.server else None
    except ConfigError as exc:
        return report(exc)
    # A URL given twice is one replica, checked once.
    bases = list(dict.fromkeys(proxy_url(url, config) for url in args.url)) or [proxy_url(None, config)]
    unreachable: list[str] = []
    problems: list[str] = []
    transports = check.TRANSPORTS if args.transport == "both" else (args.transport,)

    async def one_proxy(base: str) -> list[RouteCheck] | str:
        if not await _reachable(base, args.timeout):
            return f"cannot reach the proxy at {base} (is it running? --url sets where)"
        if chosen is not None:
            names = chosen
        else:
            try:
                names = await check.route_names_from_status(base, token_for(args.token, None), args.timeout)
            except check.StatusUnavailable as exc:
                return str(exc)
        if not names:
            return f"no routes to check at {base}"
        total = len(names) * len(transports)
        print(f"checking {total} route(s) at {base} …", file=sys.stderr)
        async with Progress() as progress:
            running: list[str] = []
            completed = 0

            def show() -> None:
                progress.status(f"{completed}/{total} done, checking {', '.join(running) or '…'}")

            def started(name: str, transport: str) -> None:
                running.append(f"{name} {transport}")
                show()

            def finished(result: RouteCheck, done: int, total: int) -> None:
                nonlocal completed
                completed = done
                running.remove(f"{result.name} {result.transport}")
                status = "ok" if result.ok else "FAIL"
                progress.line(f"  [{done}/{total}] {result.name} {result.transport}: {status}")
                show()

            results = await check.check_all(
                base,
                names,
                lambda name: token_for(args.token, config, name),
                args.timeout,
                transports=transports,
                progress=finished,
                started=started,
            )
        problems.extend(await check.override_problems(base, token_for(args.token, None), args.timeout))
        return results

    async def main() -> list[RouteCheck] | str:
        # Replicas one after the other: each is checked on its own routes, as a client would.
        results: list[RouteCheck] = []
        for base in bases:
            outcome = await one_proxy(base)
            if isinstance(outcome, str):
                unreachable.append(outcome)
            else:
                results += outcome
        if unreachable and (len(bases) == 1 or not results):
            return "; ".join(unreachable)
        for problem in unreachable:
            print(f"mcp-central: {problem}", file=sys.stderr)
        return results

    outcome = asyncio.run(main())
    if isinstance(outcome, str):
        print(f"mcp-central: {outcome}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"mcp-central: toolOverrides: {problem}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps([r.as_json() for r in outcome], indent=2))
    else:
        sys.stdout.write(_table(outcome, whole_urls=len(bases) > 1))
    failed = [r for r in outcome if not r.ok]
    if failed:
        print(f"mcp-central: {len(failed)} of {len(outcome)} route(s) failed", file=sys.stderr)
        return 1
    return 1 if problems or unreachable else 0


def _table(results: list[RouteCheck], *, whole_urls: bool = False) -> str:
    """One row per route; ``whole_urls`` (several replicas) keeps the host in the ROUTE column."""
    rows = [("ROUTE", "TRANSPORT", "LATENCY", "TOOLS", "STATUS")]
    for r in results:
        path = r.url.split("://", 1)[-1]
        route = r.url if whole_urls else path[path.find("/") :] if "/" in path else r.url
        latency = f"{r.latency_ms:.0f}ms" if r.latency_ms is not None else "-"
        tools = str(r.tools) if r.tools is not None else "-"
        rows.append((route, r.transport, latency, tools, "ok" if r.ok else f"FAIL {r.error}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "".join(
        "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip() + "\n"
        for row in rows
    )


async def _reachable(base: str, time_limit: float) -> bool:
    import httpx

    try:
        async with httpx.AsyncClient(timeout=time_limit) as http:
            await http.get(f"{base}/healthz")
    except httpx.HTTPError:
        return False
    return True
