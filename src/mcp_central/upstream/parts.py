"""What the pieces of ``UpstreamLink`` (``link``, ``inbound``, ``fan_out``) share, declared once for
the type checker. Nothing here runs: ``UpstreamLink`` sets every attribute and defines every method.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from mcp_central.config.model import ServerConfig
from mcp_central.core.fanout import LogLevels, Subscriptions
from mcp_central.core.filters import ServerFilters
from mcp_central.core.requests import RequestTable
from mcp_central.core.server_requests import ServerRequests
from mcp_central.core.supervision import Lifecycle
from mcp_central.core.tasks import TaskOwners
from mcp_central.types import Message
from mcp_central.upstream.owners import Downstream

if TYPE_CHECKING:
    from mcp_central.upstream.stateless import StatelessUpstream


class LinkParts:
    server: ServerConfig
    lifecycle: Lifecycle
    stateless: StatelessUpstream | None
    _client_capabilities: dict[str, Any]
    _table: RequestTable[Downstream]
    _sessions: set[Downstream]
    _server_requests: ServerRequests[Downstream]
    _subscriptions: Subscriptions[Downstream]
    _log_levels: LogLevels[Downstream]
    _task_owners: TaskOwners[Downstream]
    _filters: ServerFilters

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

        def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...
        def _send_soon(self, message: Message) -> None: ...
        async def _call(self, method: str, params: dict[str, Any]) -> Message: ...
        def _refresh_tool_count_soon(self) -> None: ...
        async def ensure_ready(self) -> None: ...
