"""How a link introduces itself to its upstream: ``initialize``, or ``server/discover`` for a server
that speaks only the stateless 2026-07-28 revision (also when ``initialize`` was refused).

It asks through the link's own requests and tells the link's core which side it is on; it keeps no
state and does not decide about start-up deadlines or restarts (``upstream.link``,
``upstream.supervisor``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp_central import __version__
from mcp_central.core import protocol, stateless_client
from mcp_central.core.stateless import STATELESS_VERSIONS
from mcp_central.errors import UpstreamError
from mcp_central.types import Message
from mcp_central.upstream.base import UpstreamTransport

SHARED_CLIENT_CAPABILITIES: dict[str, Any] = {"sampling": {}, "elicitation": {"form": {}, "url": {}}}
"""What a shared link declares upstream: the per-request server→client features it can route to the
client whose request caused them. Not ``roots``: roots describe one client, and a shared upstream
session would apply one client's roots to all (``sessionMode: "isolated"`` passes a client's own)."""


def initialize_params(
    client_name: str, capabilities: dict[str, Any], protocol_version: str | None
) -> dict[str, Any]:
    """The ``initialize`` params a link sends: at ``protocol_version`` if the server pins one."""
    message = protocol.initialize_request(0, client_name, __version__, capabilities)
    params: dict[str, Any] = message["params"]
    if protocol_version is not None:
        params["protocolVersion"] = protocol_version
    return params


async def handshake(
    transport: UpstreamTransport,
    *,
    name: str,
    pinned: str | None,
    params: dict[str, Any],
    ask: Callable[[str, dict[str, Any]], Awaitable[Message]],
    check_alive: Callable[[], None],
    go_stateless: Callable[[bool], None],
) -> dict[str, Any]:
    """``initialize`` (``server/discover`` if stateless): how the upstream describes itself.

    ``pinned``: the server's ``protocolVersion``; ``ask``: a request of the link's own, answered
    within the start-up deadline; ``check_alive`` raises why ``transport`` ended if it has;
    ``go_stateless`` tells the link's core which revision's rules apply."""
    go_stateless(False)
    if pinned not in STATELESS_VERSIONS:
        result = await ask("initialize", params)
        check_alive()
        if "error" not in result:
            init = result.get("result")
            if not isinstance(init, dict):
                raise UpstreamError(name, "initialize answered without a result object")
            transport.set_protocol_version(str(init.get("protocolVersion", protocol.LATEST_VERSION)))
            await transport.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            return init
        error = result["error"]
        refused = f"initialize failed: {error.get('message') if isinstance(error, dict) else error}"
    # A stateless upstream has no handshake: ask it what it is (also after initialize was refused).
    go_stateless(True)
    transport.set_protocol_version(STATELESS_VERSIONS[-1])
    discovered = (await ask("server/discover", {})).get("result")
    check_alive()
    if not stateless_client.speaks_stateless(discovered):
        go_stateless(False)
        raise UpstreamError(name, refused if pinned is None else "server/discover failed")
    assert isinstance(discovered, dict)
    return stateless_client.handshake_result(discovered)
