"""The ``mcp-central`` command: parse arguments, build one ``Config``, hand it to the rest.

Verbs: ``serve`` (the default; built-in demo config when no ``--config``), ``validate``, ``schema``
(config/schema.py), and the
operator verbs wired in from their own modules (``server``, ``config``, ``import``: cli/registry.py
and cli/importer.py; ``check``, ``clients``, ``bridge``: cli/connect.py and cli/bridge.py;
``stdio``: cli/stdio.py; ``pins``: cli/pins.py).
It also accepts TBXark/mcp-proxy's command line (``-config FILE``, ``-expand-env``, ``-insecure``,
``-http-headers``, ``-http-timeout``, ``-version``) so our image drops into the seed's compose
file. This module stays thin: no protocol or config logic lives here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mcp_central import __version__
from mcp_central.config import redact
from mcp_central.config.model import Config
from mcp_central.errors import ConfigError

TBXARK_FLAGS = {"config", "expand-env", "insecure", "http-headers", "http-timeout", "version", "help", "h"}


def translate_tbxark(argv: Sequence[str]) -> list[str]:
    """Rewrite a TBXark-style command line (single-dash Go flags) into ours; others pass unchanged.

    ``-config f.json -expand-env=false`` → ``serve --config f.json --expand-env false``.
    """
    if not argv or not argv[0].startswith("-") or argv[0].startswith("--"):
        return list(argv)
    first = argv[0].lstrip("-").split("=", 1)[0]
    if first not in TBXARK_FLAGS:
        return list(argv)
    out: list[str] = []
    for arg in argv:
        if arg.startswith("-") and not arg.startswith("--"):
            name, sep, value = arg[1:].partition("=")
            if name in ("version",):
                return ["--version"]
            if name in ("help", "h"):
                return ["serve", "--help"]
            out.append(f"--{name}")
            if sep:
                out.append(value)
        else:
            out.append(arg)
    return ["serve", *out]


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "t", "yes", "on"):
        return True
    if lowered in ("0", "false", "f", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_config_source(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--config", "-c", required=required, help="config file path or http(s) URL")
    parser.add_argument(
        "--expand-env",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        help="expand ${VAR} and ${VAR:-default} in the config (default: true)",
    )
    parser.add_argument(
        "--insecure", action="store_true", help="skip TLS verification when fetching a config URL"
    )
    parser.add_argument(
        "--http-headers", default="", help="headers for a config URL: 'Key1:Value1;Key2:Value2'"
    )
    parser.add_argument("--http-timeout", type=float, default=10.0, help="seconds to fetch a config URL")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-central",
        description="One gateway between your MCP clients and all your MCP servers.",
    )
    parser.add_argument("--version", action="version", version=f"mcp-central {__version__}")
    verbs = parser.add_subparsers(dest="verb")

    serve = verbs.add_parser(
        "serve", help="run the gateway (built-in demo config when --config is not given)"
    )
    _add_config_source(serve, required=False)
    serve.add_argument("--host", help="override the listen host from the config's addr")
    serve.add_argument("--port", type=int, help="override the listen port from the config's addr")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="text lines, or one JSON object per line (default: the config's logFormat, else text)",
    )
    serve.add_argument(
        "--no-watch",
        dest="watch",
        action="store_false",
        help="do not reload when the config file changes (SIGHUP still reloads)",
    )

    validate = verbs.add_parser("validate", help="check a config file and report every problem")
    _add_config_source(validate, required=True)
    verbs.add_parser("schema", help="print the JSON Schema of config.json (for editors)").set_defaults(
        handler=_print_schema
    )

    from mcp_central.cli import bridge, connect, importer, pins, registry, stdio

    for module in (registry, importer, connect, bridge, stdio, pins):
        module.register(verbs)
    return parser


def _print_schema(args: argparse.Namespace) -> int:
    from mcp_central.config.schema import config_schema_text

    sys.stdout.write(config_schema_text())
    return 0


def load(args: argparse.Namespace) -> Config:
    from mcp_central.config.loader import default_config, load_config

    if args.config is None:
        return default_config()
    return load_config(
        args.config,
        expand_env=args.expand_env,
        insecure=args.insecure,
        http_headers=args.http_headers,
        http_timeout=args.http_timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from mcp_central.cli.registry import server_arguments

    words = translate_tbxark(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(server_arguments(words))
    handler = getattr(args, "handler", None)
    if handler is not None:  # an operator verb: it loads what it needs itself
        return int(handler(args))
    verb = args.verb or "serve"
    if args.verb is None:
        args = build_parser().parse_args(["serve"])
    try:
        config = load(args)
    except ConfigError as exc:
        print(f"mcp-central: invalid config ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if verb == "validate":
        from mcp_central.cli.overrides import override_warnings
        from mcp_central.config.commands import missing_commands

        # Warnings: the gateway may run elsewhere, and a tool list is only as fresh as its last run.
        for line in missing_commands(config) + override_warnings(config):
            print(f"mcp-central: warning: {redact.url(config.source or '')}: {line}", file=sys.stderr)
        names = ", ".join(config.servers) or "none"
        print(f"OK: {redact.url(config.source or '')}: {len(config.servers)} server(s): {names}")
        return 0
    from mcp_central.cli.serve import serve

    reload = (lambda: load(args)) if args.config is not None else None
    return serve(
        config,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_format=args.log_format,
        load=reload,
        watch=args.watch,
    )


if __name__ == "__main__":
    sys.exit(main())
