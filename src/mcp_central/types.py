"""The few type names every layer shares. Nothing here does work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = dict[str, Any]
"""One JSON-RPC message as decoded from the wire; forwarded as-is, never through a strict model."""

RequestId = str | int

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
