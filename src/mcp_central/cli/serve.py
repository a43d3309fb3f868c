"""``mcp-central serve``: run the gateway under uvicorn (uvloop when installed, httptools behind the
limits of ``cli.edge``)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import socket
from collections.abc import Callable, Generator

import uvicorn

from mcp_central.cli.access_log import redact_access_log
from mcp_central.cli.edge import Edge, edge_protocol
from mcp_central.cli.fds import fit_connections
from mcp_central.config import redact
from mcp_central.config.model import Config
from mcp_central.downstream.app import Gateway
from mcp_central.ops import logs, tracing

log = logging.getLogger("mcp_central")

KEEP_ALIVE_SECONDS = 75
"""Idle client connections stay open this long: longer than the usual load-balancer idle timeout
(60 s), and long enough that a client pausing a few seconds does not race uvicorn's 5 s default
closing the connection it is about to reuse."""


class GatewayServer(uvicorn.Server):
    """On SIGTERM/SIGINT: stop accepting connections, let requests in flight finish within
    ``shutdownGrace``, end every client stream (open SSE streams must not hold up the exit), then
    uvicorn's own shutdown and the lifespan's, which stops the upstreams (stdio: TERM, then KILL)."""

    def __init__(self, app: Gateway, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.gateway = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        delay = self.gateway.config.proxy.drain_delay
        if delay > 0:
            # Still serving everything; only /readyz fails, so the balancer stops sending here
            # before the port closes (a connection waiting in the backlog then would get no answer).
            self.gateway.leaving = True
            log.info("shutdown: /readyz answers 503 for %gs (drainDelay) before the port closes", delay)
            await asyncio.sleep(delay)
        for server in self.servers:
            server.close()  # no new connections; uvicorn closes them again, harmlessly
        await self.gateway.drain(self.gateway.config.proxy.shutdown_grace)
        await self.gateway.close_sessions()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises SIGTERM/SIGINT after a graceful stop, so the process dies "by signal";
        # a stop we completed cleanly exits 0 instead, as container runtimes and systemd expect.
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def serve(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    log_format: str | None = None,
    load: Callable[[], Config] | None = None,
    watch: bool = True,
) -> int:
    """Serve until stopped; ``load`` re-reads the config on SIGHUP (and on file changes with ``watch``).
    ``log_format`` (``--log-format``) wins over the config's ``logFormat``; both unset: text."""
    gateway: Gateway | None = None
    logs.configure(
        log_level,
        log_format or config.proxy.log_format or "text",
        lambda: gateway.config if gateway is not None else config,
    )
    redact_access_log()
    edge = Edge(
        max_header_bytes=config.proxy.max_header_bytes,
        header_timeout=config.proxy.header_timeout,
        max_connections=fit_connections(config),
    )
    listen_host = host or config.proxy.host
    listen_port = config.proxy.port if port is None else port
    # Bind before anything starts: a port in use is one clear line and exit 1, with no upstream
    # started (uvicorn would run the lifespan, which starts them, and only then fail to bind).
    try:
        listener = bind(listen_host, listen_port)
    except OSError as exc:
        address = f"http://{_host_text(listen_host)}:{listen_port}"
        logging.getLogger("mcp_central").error(
            "cannot listen on %s: %s; nothing was started", address, exc.strerror or exc
        )
        return 1
    listen_port = listener.getsockname()[1]  # the port picked for port 0
    app = gateway = Gateway(config, load=load, watch=watch)
    traces = tracing.install()  # None (and no OpenTelemetry import) unless OTEL_* ask for traces
    if traces is not None:
        app.observers.add(traces.spans)  # spans for requests refused before any upstream
    logging.getLogger("mcp_central").info(
        "serving %d upstream(s) on http://%s:%d%s (config: %s)",
        len(app.routes),
        _host_text(listen_host),
        listen_port,
        config.proxy.base_path or "/",
        redact.url(config.source) if config.source else "built-in demo",
    )
    server = GatewayServer(
        app,
        uvicorn.Config(
            app,
            host=listen_host,
            port=listen_port,
            loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            http=edge_protocol(edge),
            lifespan="on",
            log_level=log_level,
            access_log=config.proxy.log_enabled,
            timeout_graceful_shutdown=10,  # after the drain: only closing connections is left
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            log_config=None,
        ),
    )
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
        if traces is not None:
            traces.shutdown()  # export the spans still batched
    return 0 if server.started else 1


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (``OSError`` if it cannot be had), for uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        # as uvicorn does: a restart may bind while the old process's connections linger
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)  # connections wait in the backlog until uvicorn accepts
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host
