"""``mcp-central bridge scaffold``: flags in, the bridge's files out (``manage.bridge`` writes them).

The pinned version is first checked with the package's registry (``manage.packages``): a version it
does not list refuses the scaffold, an unreachable registry only warns."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mcp_central.cli.common import report
from mcp_central.errors import ConfigError
from mcp_central.manage import bridge, packages


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("bridge", help="scaffold a stdio→HTTP bridge container")
    actions = parser.add_subparsers(dest="action", required=True)
    scaffold = actions.add_parser(
        "scaffold",
        help="write Dockerfile, compose.yaml and config for one stdio server (the seed's add-bridge.sh)",
    )
    scaffold.add_argument("--service", required=True, help="name; the route becomes /NAME/sse and /NAME/mcp")
    scaffold.add_argument("--runtime", required=True, choices=["node", "python"])
    scaffold.add_argument("--pkg", required=True, help="npm or PyPI package")
    scaffold.add_argument("--version", required=True, help="exact version to pin")
    scaffold.add_argument("--bin-cmd", required=True, help="the executable the package installs")
    scaffold.add_argument(
        "--port", required=True, type=int, help="port the bridge serves on (inside mcp-net)"
    )
    scaffold.add_argument(
        "--workspace", help="host directory mounted read-only at /workspace (passed as argument)"
    )
    scaffold.add_argument("--out", required=True, help="folder to write into (e.g. projects/mcp/NAME/bridge)")
    scaffold.add_argument("--base-image", default=bridge.DEFAULT_BASE_IMAGE, help="the mcp-central image")
    scaffold.add_argument("--add-auth", action="store_true", help="the bridge requires Bearer ${AUTH_ENV}")
    scaffold.add_argument("--auth-env", default="MCP_PROXY_TOKEN")
    scaffold.add_argument("--force", action="store_true", help="overwrite existing files")
    scaffold.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an argument of the stdio server (repeat it; a dash-leading one as --server-arg=--flag)",
    )
    scaffold.add_argument(
        "server_args", nargs="*", metavar="-- ARG", help="everything after -- is passed to the server too"
    )
    scaffold.add_argument(
        "--no-registry-check",
        dest="registry_check",
        action="store_false",
        help=f"do not ask npm/PyPI whether the version exists (registries: ${packages.NPM_URL_ENV}, "
        f"${packages.PYPI_URL_ENV})",
    )
    scaffold.set_defaults(handler=run_scaffold)


def run_scaffold(args: argparse.Namespace) -> int:
    spec = bridge.BridgeSpec(
        service=args.service,
        runtime=args.runtime,
        package=args.pkg,
        version=args.version,
        bin_cmd=args.bin_cmd,
        port=args.port,
        workspace=args.workspace,
        base_image=args.base_image,
        add_auth=args.add_auth,
        auth_env=args.auth_env,
        server_args=(*args.server_arg, *args.server_args),
    )
    try:
        bridge.check_spec(spec)  # flags first: no registry question for a malformed name
        if args.registry_check:
            warning = packages.check_version(spec.runtime, spec.package, spec.version)
            if warning is not None:
                print(f"mcp-central: warning: {warning}", file=sys.stderr)
        written = bridge.write(spec, Path(args.out), force=args.force)
    except ConfigError as exc:
        return report(exc, "nothing written:")
    for path in written:
        print(f"wrote {path}")
    auth = " --add-auth" if args.add_auth else ""
    print(f"next: (cd {args.out} && docker compose up -d --build)")
    print(
        f"then: mcp-central server add {args.service} --port {args.port}{auth} --config CENTRAL_CONFIG --test"
    )
    return 0
