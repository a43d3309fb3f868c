"""``mcp-central import FILE``: print the converted config, write it (``--out``), or merge it into an
existing config (``--config``, validated, backed up, atomic). Conversion is ``manage.importer``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mcp_central.cli.common import report, warn
from mcp_central.config.edit import read_text, write_config
from mcp_central.errors import ConfigError, ConfigProblem
from mcp_central.manage import importer, registry


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser(
        "import", help="convert a Claude Desktop, Claude Code, VS Code or Cursor MCP config into ours"
    )
    parser.add_argument(
        "file",
        help=".mcp.json, claude_desktop_config.json, .vscode/mcp.json, .cursor/mcp.json, settings.json …",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", help="write a new config file (refused if it exists)")
    target.add_argument("--config", "-c", help="merge the servers into this config (backup first)")
    parser.add_argument("--skip-existing", action="store_true", help="--config: skip names already there")
    parser.add_argument("--dry-run", action="store_true", help="--config: print the diff, write nothing")
    parser.add_argument("--workspace", help="directory that ${workspaceFolder} stands for")
    parser.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace) -> int:
    try:
        result = importer.import_file(Path(args.file), Path(args.workspace) if args.workspace else None)
        servers = result.servers
        if args.config and args.skip_existing:
            servers = _without_existing(Path(args.config), servers)
        edit = registry.add_servers(Path(args.config), servers, dry_run=args.dry_run) if args.config else None
        if args.out:
            if Path(args.out).exists():
                raise ConfigError(
                    [ConfigProblem(args.out, "", "already exists: merge into it with --config instead")]
                )
            write_config(Path(args.out), json.dumps({"mcpServers": servers}, indent=2) + "\n", None)
    except ConfigError as exc:
        return report(exc, "nothing changed:")
    print(
        f"mcp-central: read {args.file} as {result.layout}: {len(result.servers)} server(s)", file=sys.stderr
    )
    for note in result.notes:
        print(f"mcp-central: note: {note}", file=sys.stderr)
    if result.variables:
        names = ", ".join(result.variables)
        print(f"mcp-central: set these variables where the proxy runs: {names}", file=sys.stderr)
    if edit is not None:
        warn(edit.warnings)
        if not edit.written:
            sys.stdout.write(edit.diff())
            print("dry run: nothing was written", file=sys.stderr)
        else:
            backup = f" (backup {edit.backup.id})" if edit.backup else " (new file)"
            print(f"merged {', '.join(servers) or 'no servers'} into {args.config}{backup}")
    elif args.out:
        print(f"wrote {args.out}: {', '.join(servers)}")
    else:
        sys.stdout.write(json.dumps({"mcpServers": servers}, indent=2) + "\n")
    return 0


def _without_existing(path: Path, servers: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    existing = {row.name for row in registry.list_servers(path)} if read_text(path) is not None else set()
    for name in sorted(existing & set(servers)):
        print(f"mcp-central: note: skipping '{name}': already in {path}", file=sys.stderr)
    return {name: entry for name, entry in servers.items() if name not in existing}
