"""``mcp-central pins list|diff|accept SERVER [TOOL]``: the operator's side of ``pinTools``.

``list`` shows the pinned and the held (quarantined) tools of the pin file beside the config;
``diff`` shows, per held tool, a unified diff of the pinned definition against the one the
upstream offers now (pretty JSON; a new tool against nothing); ``accept`` pins the held
definitions, under the file's lock. A running gateway polls the pin file and releases the
accepted tools without a restart. The file's format and I/O are ``config.pin_file``'s.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp_central.cli.common import add_config_flag, config_path, report
from mcp_central.config import pin_file
from mcp_central.core.pins import Held, Pin
from mcp_central.errors import ConfigError, ConfigProblem


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pins = verbs.add_parser("pins", help="pinned tool definitions (pinTools): list, diff, accept")
    actions = pins.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="pinned and held tools (of one server, or all)")
    listing.add_argument("server", nargs="?")
    diff = actions.add_parser("diff", help="what changed in held tools: pinned vs offered now")
    diff.add_argument("server")
    diff.add_argument("tool", nargs="?", help="one held tool (default: every held tool of SERVER)")
    accept = actions.add_parser("accept", help="pin the held definitions (the gateway releases them)")
    accept.add_argument("server")
    accept.add_argument("tool", nargs="?", help="one held tool (default: every held tool of SERVER)")
    for parser, handler in ((listing, pins_list), (diff, pins_diff), (accept, pins_accept)):
        add_config_flag(parser)
        parser.set_defaults(handler=handler)


def _pin_path(args: argparse.Namespace) -> Path:
    config = config_path(args)
    path = pin_file.path_for(str(config))
    if path is None:
        raise ConfigError([ConfigProblem(str(config), "", "no such config file (pins live beside it)")])
    return path


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _records(path: Path) -> dict[str, tuple[dict[str, Pin], dict[str, Held]]] | int:
    try:
        return pin_file.read(path)
    except pin_file.PinFileError as exc:
        print(f"mcp-central: {exc}", file=sys.stderr)
        return 1


def pins_list(args: argparse.Namespace) -> int:
    try:
        path = _pin_path(args)
    except ConfigError as exc:
        return report(exc)
    records = _records(path)
    if isinstance(records, int):
        return records
    names = [args.server] if args.server else sorted(records)
    if args.server and args.server not in records:
        print(f"mcp-central: no pins for server '{args.server}' in {path}", file=sys.stderr)
        return 1
    for name in names:
        pins, held = records[name]
        for tool, pin in sorted(pins.items()):
            state = "held (changed)" if tool in held else "pinned"
            print(f"{name}\t{tool}\t{state}\tsha256:{pin.sha256[:12]}\tpinned {_when(pin.at)}")
        for tool, hold in sorted(held.items()):
            if tool not in pins:
                print(f"{name}\t{tool}\theld (new)\tsha256:{hold.sha256[:12]}\tsince {_when(hold.since)}")
    return 0


def _held(args: argparse.Namespace, path: Path, records: dict[str, Any]) -> dict[str, Held] | None:
    """The held tools ``args`` name (``None`` after saying why there are none)."""
    _pins, held = records.get(args.server, ({}, {}))
    if args.tool is not None:
        if args.tool not in held:
            print(f"mcp-central: tool '{args.tool}' of server '{args.server}' is not held", file=sys.stderr)
            return None
        return {args.tool: held[args.tool]}
    if not held:
        print(f"mcp-central: server '{args.server}' has no held tools in {path}", file=sys.stderr)
        return None
    return dict(sorted(held.items()))


def _pretty(definition: dict[str, Any] | None) -> list[str]:
    if definition is None:
        return []
    return json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False).splitlines(keepends=True)


def pins_diff(args: argparse.Namespace) -> int:
    try:
        path = _pin_path(args)
    except ConfigError as exc:
        return report(exc)
    records = _records(path)
    if isinstance(records, int):
        return records
    held = _held(args, path, records)
    if held is None:
        return 1
    pins = records[args.server][0]
    for tool, hold in held.items():
        pin = pins.get(tool)
        before = f"{args.server}/{tool} pinned" + (f" {_when(pin.at)}" if pin else " (nothing: a new tool)")
        after = f"{args.server}/{tool} offered since {_when(hold.since)}"
        lines = difflib.unified_diff(
            _pretty(pin.definition if pin else None), _pretty(hold.definition), before, after
        )
        sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in lines)
    return 0


def pins_accept(args: argparse.Namespace) -> int:
    try:
        path = _pin_path(args)
    except ConfigError as exc:
        return report(exc)
    with pin_file.locked(path):
        records = _records(path)
        if isinstance(records, int):
            return records
        held = _held(args, path, records)
        if held is None:
            return 1
        pins, holds = records[args.server]
        now = time.time()
        for tool, hold in held.items():
            pins[tool] = Pin(hold.sha256, hold.definition, now)
            del holds[tool]
        pin_file.write(path, records)
    for tool, hold in held.items():
        print(f"accepted: tool '{tool}' of server '{args.server}' (sha256:{hold.sha256[:12]})")
    print("a running gateway releases them within a second", file=sys.stderr)
    return 0
