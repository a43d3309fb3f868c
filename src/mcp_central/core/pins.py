"""Pinned tool definitions (``pinTools``): which tools of a fresh ``tools/list`` page are pinned,
new or changed, and which of them are held (quarantined) until an operator accepts them.

The defence against a trusted server that turns malicious (tool poisoning, a rug pull): each tool's
definition (name, title, description, input and output schemas, annotations) is hashed as canonical
JSON with SHA-256. A tool seen for the first time is pinned (``pinNew: "accept"``) or held
(``"quarantine"``); a pinned tool whose hash changed is held. A held tool is left out of every
list the link answers and a ``tools/call`` naming it is refused, until the pin file says the
operator accepted that very definition (``mcp-central pins accept``), or the upstream goes back
to the pinned one.

Decisions are per tool, so a paginated ``tools/list`` is reviewed page by page. A tool missing
from a list stays pinned: if it comes back changed, it is held.

Pure: no I/O. The time a pin or hold is stamped with comes from the clock the book is given, and
the book only calls ``on_change`` when there is something new to write (``ops.pin_keeper`` writes
the pin file and watches it for the operator's accepts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

PINNED_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
"""What a pin covers: what a model reads or a client relies on. Not ``icons`` or ``_meta``."""
ACCEPT = "accept"
QUARANTINE = "quarantine"
PIN_NEW_CHOICES = (ACCEPT, QUARANTINE)
HeldReason = Literal["changed", "new"]


def definition_of(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a tool a pin covers."""
    return {key: tool[key] for key in PINNED_FIELDS if key in tool}


def digest(definition: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``definition`` (keys sorted at every level, no spaces)."""
    return hashlib.sha256(orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class Pin:
    sha256: str
    definition: dict[str, Any]
    at: float
    """When it was pinned or accepted (seconds since the epoch)."""


@dataclass(frozen=True)
class Held:
    sha256: str
    definition: dict[str, Any]
    """The definition the upstream offers now, which nobody accepted yet."""
    since: float
    """When the tool was first held (it stays held through further changes)."""
    reason: HeldReason


@dataclass
class Verdict:
    """What one reviewed page changes."""

    pin: dict[str, Pin] = field(default_factory=dict)
    """Tools seen for the first time and accepted (``pinNew: "accept"``)."""
    hold: dict[str, Held] = field(default_factory=dict)
    """Tools held from now on, or held with yet another definition: each one is logged once."""
    release: list[str] = field(default_factory=list)
    """Held tools whose definition is the pinned one again."""
    hidden: set[str] = field(default_factory=set)
    """Every tool of the page that is held: left out of the answer."""


def review(
    pins: Mapping[str, Pin], held: Mapping[str, Held], tools: list[Any], pin_new: str, now: float
) -> Verdict:
    """Judge each tool of a ``tools/list`` page against the pins and the held tools."""
    verdict = Verdict()
    for tool in tools:
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            continue  # nothing can call it by name: the upstream's own problem
        name = tool["name"]
        definition = definition_of(tool)
        sha256 = digest(definition)
        pin = pins.get(name)
        current = held.get(name)
        if pin is not None and pin.sha256 == sha256:
            if current is not None:
                verdict.release.append(name)
            continue
        verdict.hidden.add(name)
        if current is not None and current.sha256 == sha256:
            continue  # held as before: said already
        if pin is None and current is None and pin_new == ACCEPT:
            verdict.hidden.discard(name)
            verdict.pin[name] = Pin(sha256, definition, now)
            continue
        since = now if current is None else current.since
        verdict.hold[name] = Held(sha256, definition, since, "new" if pin is None else "changed")
    return verdict


def refusal_text(server: str, tool: str, reason: HeldReason, called: str | None = None) -> str:
    """What a caller of a held tool is told (and the log says when it is held). ``tool`` is the
    upstream's own name (what ``pins accept`` takes); ``called``, the name the caller used when
    ``toolOverrides`` renamed it: the caller is told of the tool it knows, and of the upstream's."""
    accept = f"`mcp-central pins accept {server} {tool}`"
    named = f"tool '{tool}'" if called in (None, tool) else f"tool '{called}' (upstream tool '{tool}')"
    if reason == "new":
        return f"{named} of server '{server}' is new and held until an operator runs {accept}"
    return (
        f"{named} of server '{server}' changed its definition since it was pinned; "
        f"an operator must run {accept}"
    )


class ServerPins:
    """One server's pins and held tools, shared by every link of that server (shared or isolated):
    the hook a link core applies to ``tools/list`` answers and ``tools/call`` requests."""

    def __init__(self, server: str, pin_new: str, book: PinBook) -> None:
        self.server = server
        self.pin_new = pin_new
        self.pins: dict[str, Pin] = {}
        self.held: dict[str, Held] = {}
        self._book = book

    def narrow(self, result: dict[str, Any]) -> tuple[list[str], bool]:
        """Review a ``tools/list`` result and drop its held tools (in place): the warnings to log
        (one per newly held definition), and whether what clients may see changed."""
        tools = result.get("tools")
        if not isinstance(tools, list):
            return [], False
        verdict = review(self.pins, self.held, tools, self.pin_new, self._book.clock())
        self.pins.update(verdict.pin)
        self.held.update(verdict.hold)
        for name in verdict.release:
            del self.held[name]
        if verdict.pin or verdict.hold or verdict.release:
            self._book.changed()
        if verdict.hidden:
            result["tools"] = [
                tool for tool in tools if not (isinstance(tool, dict) and tool.get("name") in verdict.hidden)
            ]
        warnings = [
            f"upstream '{self.server}': {refusal_text(self.server, name, held.reason)} (held)"
            for name, held in verdict.hold.items()
        ]
        return warnings, bool(verdict.hold or verdict.release)

    def refusal(self, params: Mapping[str, Any], called: str | None = None) -> str | None:
        """Why a ``tools/call`` (``params`` in the upstream's names) may not go upstream (its tool
        is held); ``None`` if it may. ``called``: the name the client used, if an override renamed it."""
        name = params.get("name")
        held = self.held.get(name) if isinstance(name, str) else None
        return None if held is None else refusal_text(self.server, str(name), held.reason, called)

    def absorb(self, pins: Mapping[str, Pin]) -> bool:
        """Take the pins of the file (the operator's accepts win); whether a held tool was released."""
        self.pins.update(pins)
        released = [
            name
            for name, held in self.held.items()
            if (pin := self.pins.get(name)) and pin.sha256 == held.sha256
        ]
        for name in released:
            del self.held[name]
        return bool(released)

    def status(self) -> list[dict[str, Any]]:
        """The held tools, for ``/status``."""
        return [
            {"tool": name, "reason": held.reason, "since": held.since, "sha256": held.sha256}
            for name, held in sorted(self.held.items())
        ]


ServerRecord = tuple[dict[str, Pin], dict[str, Held]]
"""One server's entry of the pin file: its pins and its held tools."""


class PinBook:
    """Every pinning server's ``ServerPins``, and the merge with the pin file's content."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.servers: dict[str, ServerPins] = {}
        self.on_change: Callable[[], None] = lambda: None
        """Called when a pin or hold was added or released: the file needs writing."""
        self._loaded: dict[str, ServerRecord] = {}
        """The file's entries of servers that do not pin (yet): taken when they start to."""

    def server(self, name: str, pin_new: str) -> ServerPins:
        """The pins of server ``name`` (created on first use; ``pin_new`` follows the config)."""
        pins = self.servers.get(name)
        if pins is None:
            pins = self.servers[name] = ServerPins(name, pin_new, self)
            if (record := self._loaded.get(name)) is not None:
                pins.absorb(record[0])
        pins.pin_new = pin_new
        return pins

    def changed(self) -> None:
        self.on_change()

    def absorb(self, records: Mapping[str, ServerRecord]) -> set[str]:
        """Take the pin file's pins; the servers a held tool of which was released by them."""
        self._loaded = dict(records)
        released = set()
        for name, (pins, _held) in records.items():
            server = self.servers.get(name)
            if server is not None and server.absorb(pins):
                released.add(name)
        return released

    def merged_into(self, records: Mapping[str, ServerRecord]) -> dict[str, ServerRecord]:
        """The pin file's content with this book's servers in it (servers it does not know stay)."""
        merged = dict(records)
        for name, server in self.servers.items():
            if server.pins or server.held or name in merged:
                merged[name] = (dict(server.pins), dict(server.held))
        return merged

    def status(self, server: str) -> list[dict[str, Any]] | None:
        pins = self.servers.get(server)
        return None if pins is None else pins.status()
