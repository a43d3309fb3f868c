"""An unreachable HTTP upstream says why and where, the same way for both HTTP transports (issue 16):
``/status``, the log and a client of its route hear ``cannot connect to URL: ConnectError: …`` with
the URL's credentials and query left out. Real gateways in-process; nothing listens at the URL."""

from __future__ import annotations

import logging

import pytest

from conftest import INIT_REQUEST, free_port, http_client, make_config, route_url, serve
from mcp_central.config.model import ServerConfig
from raw_http import HEADERS
from test_supervision import status_of

pytestmark = pytest.mark.anyio

SECRET = "apikey-NOT-FOR-ERRORS"


@pytest.mark.parametrize(("transport", "path"), [("streamable-http", "/mcp"), ("sse", "/sse")])
async def test_an_unreachable_http_upstream_names_the_error_and_the_redacted_url(
    transport: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_central")
    port = free_port()  # bound and released: nothing listens there
    server = ServerConfig(
        name="away",
        transport=transport,  # type: ignore[arg-type]
        url=f"http://user:{SECRET}@127.0.0.1:{port}{path}?key={SECRET}",
        timeout=10,
    )
    expected = f"cannot connect to http://127.0.0.1:{port}{path}: ConnectError: "
    async with serve(make_config(server)) as (base, _app):
        status = await status_of(base, "away")
        async with http_client() as http:
            reply = await http.post(
                route_url(base, "away", "streamable-http"), json=INIT_REQUEST, headers=HEADERS
            )
    assert expected in status["lastError"], status
    assert expected in reply.json()["error"]["message"], reply.text
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("upstream 'away' failed")]
    assert logged and all(expected in line for line in logged), logged
    assert SECRET not in caplog.text and SECRET not in str(status) and SECRET not in reply.text
