"""What a link core is fed and what it answers with: events in, commands out. Nothing here runs.

The asyncio driver (``upstream.link``) turns what happens — a client's message, the upstream's,
a timer, a lost transport — into one of the events below, hands it to ``LinkCore.handle`` and
carries out the commands it gets back, in order. Owners (downstream sessions, stateless
exchanges, group relays, the link's own waiters) are opaque to the core: it only reads
``client_capabilities`` and hands messages back to them through ``Deliver``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mcp_central.types import Message, RequestId

# Plain (not frozen) slotted dataclasses: a frozen one costs twice as much to build, and a few are
# built for every forwarded message. Nobody mutates them.


class Owner(Protocol):
    """Whoever a request belongs to: what the core needs to know of it."""

    @property
    def client_capabilities(self) -> dict[str, Any]:
        """What the client declared (server→client requests are refused for what it did not)."""
        ...

    def deliver(self, message: Message, related_request_id: RequestId | None) -> None:
        """Queue ``message`` for the client; ``related_request_id`` names the client request it belongs to."""
        ...


# ----------------------------------------------------------------------------- events


@dataclass(slots=True)
class ClientMessage:
    """A message from ``owner`` (a request, a notification, or an answer to a server request).
    ``own``: a request the gateway makes itself on a client's route (a group's merged list), which
    is answered like a client's but is nobody's call: it never counts as evidence for attribution."""

    owner: Owner
    message: Message
    own: bool = False


@dataclass(slots=True)
class OwnRequest:
    """A request the link makes itself (``initialize``, a tool count, a re-subscription); its
    answer goes to ``owner`` (a waiter); past ``deadline`` seconds it is answered with an error."""

    owner: Owner
    message: Message
    deadline: float


@dataclass(slots=True)
class UpstreamMessage:
    """A message from the upstream. ``related`` is the upstream id of the request whose reply
    stream carried it (streamable HTTP), or ``None`` where the wire says nothing (stdio, SSE)."""

    message: Any
    related: int | None = None


@dataclass(slots=True)
class TimerFired:
    key: tuple[str, Any]


@dataclass(slots=True)
class TransportLost:
    """The upstream is gone (or stopped): everything in flight is answered with ``reason``."""

    reason: str


@dataclass(slots=True)
class Detached:
    """``owner`` has ended: cancel what it has in flight, forget what it subscribed to."""

    owner: Owner


# ----------------------------------------------------------------------------- commands


@dataclass(slots=True)
class SendUpstream:
    message: Message


@dataclass(slots=True)
class Deliver:
    owner: Owner
    message: Message
    related: RequestId | None


@dataclass(slots=True)
class ArmTimer:
    key: tuple[str, Any]
    seconds: float


@dataclass(slots=True)
class CancelTimer:
    key: tuple[str, Any]


@dataclass(slots=True)
class Log:
    """A line for the gateway's own log (``level`` as in ``logging``)."""

    level: int
    text: str


@dataclass(slots=True)
class MissedDeadline:
    """A request got no answer in time while nothing else explains it: the upstream is degraded."""

    detail: str


@dataclass(slots=True)
class ToolsChanged:
    """The upstream announced a new tool list (the driver refreshes its tool count)."""


Event = ClientMessage | OwnRequest | UpstreamMessage | TimerFired | TransportLost | Detached
Command = SendUpstream | Deliver | ArmTimer | CancelTimer | Log | MissedDeadline | ToolsChanged
