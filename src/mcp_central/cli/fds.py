"""Open-file headroom at start: ``maxConnections`` client sockets plus what the upstreams hold
must fit the process's ``RLIMIT_NOFILE``, or clients get connection resets with nothing logged.

At start the soft limit is raised toward the hard limit as far as needed. If even that is too
little, the connection cap is lowered to what fits (leaving the upstream margin free) and a warning
names both numbers: a refused connection gets a 503 and a log line, which an exhausted descriptor
table gives neither.

This module only reads and sets the process's limit; it opens nothing.
"""

from __future__ import annotations

import logging
import resource

from mcp_central.config.model import Config

log = logging.getLogger("mcp_central.edge")

BASE_MARGIN = 64
"""The listening socket, the event loop, log files, the config watcher, imports and spare."""
LINGER_MARGIN = 32
"""Refused connections that linger past the cap (``edge.MAX_LINGERING_REFUSED``)."""
STDIO_FDS = 4
"""A stdio upstream: its stdin, stdout and stderr pipes, and its keeper process's handle."""
HTTP_FDS = 16
"""An HTTP upstream: its event stream and a few kept-alive request connections."""


def upstream_margin(config: Config) -> int:
    """Descriptors the upstreams may hold besides the client connections (isolated ones once per
    session they may serve)."""
    margin = BASE_MARGIN + LINGER_MARGIN
    for server in config.servers.values():
        if server.disabled:
            continue
        each = STDIO_FDS if server.transport == "stdio" else HTTP_FDS
        copies = (server.session_cap or 1) if server.session_mode == "isolated" else 1
        margin += each * copies
    return margin


def fit_connections(config: Config) -> int:
    """The connection cap to serve with: ``maxConnections``, or less if the descriptors that may be
    had do not fit it (logged). Raises the soft ``RLIMIT_NOFILE`` as far as needed and allowed."""
    wanted = config.proxy.max_connections
    margin = upstream_margin(config)
    need = wanted + margin
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        if target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            except (OSError, ValueError) as exc:
                log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
            else:
                log.info(
                    "open-file limit raised from %d to %d (maxConnections %d + %d)",
                    soft,
                    target,
                    wanted,
                    margin,
                )
                soft = target
    if soft == resource.RLIM_INFINITY or soft >= need:
        return wanted
    fitting = min(wanted, max(soft - margin, soft // 2, 1))
    log.warning(
        "mcpProxy.options.maxConnections is %d, but the open-file limit is %d (hard limit %s) and the "
        "upstreams may need %d of them: serving at most %d connections. Raise the limit (ulimit -n, "
        "LimitNOFILE= in a systemd unit, ulimits in compose) to %d to serve %d.",
        wanted,
        soft,
        "unlimited" if hard == resource.RLIM_INFINITY else hard,
        margin,
        fitting,
        need,
        wanted,
    )
    return fitting
