"""schemathesis against a live ``mcp-central serve`` process: property-based tests of every operation
of the OpenAPI documents of four real upstreams (the SDK fixture, the schema server, npm's
server-everything and mcp-server-time) and of the aggregated route. No 5xx but the documented 503
(upstream unavailable) and 504 (deadline); every status documented; every response body matching
its schema and content type.

Tools that would reach outside the test (fetch URLs, print the environment), grow without bound
(``big``, ``chatter``) or change the document while it is tested (``grow``) are filtered out in
the config, as an operator would.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import FIXTURE_SERVER, TESTS, free_port, running_gateway
from test_node_peers import EVERYTHING

TOKEN = "fuzz-token"
UPSTREAMS: dict[str, dict[str, Any]] = {
    "schemas": {"command": sys.executable, "args": [str(TESTS / "servers" / "schema_server.py")]},
    "fixture": {
        "command": sys.executable,
        "args": [str(FIXTURE_SERVER)],
        "options": {
            "toolFilter": {
                "mode": "block",
                "list": ["big", "chatter", "progress", "gated", "grow", "env", "slow", "open_gate"],
            }
        },
    },
    "everything": {
        "command": "node",
        "args": [str(EVERYTHING), "stdio"],
        "options": {
            "toolFilter": {
                "mode": "block",
                "list": ["get-env", "gzip-file-as-resource", "toggle-*", "simulate-research-query"],
            }
        },
    },
    "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    path: Path = tmp_path_factory.mktemp("fuzz") / "config.json"
    servers = {name: {**entry, "timeout": "2s"} for name, entry in UPSTREAMS.items()}
    config = {
        "mcpProxy": {"addr": f"127.0.0.1:{port}", "options": {"authTokens": [TOKEN]}},
        "mcpServers": servers,
    }
    path.write_text(json.dumps(config))
    with running_gateway(["serve", "--config", str(path), "--no-watch"], port, ready="/readyz"):
        yield f"http://127.0.0.1:{port}"


def no_undocumented_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """5xx only as documented: 503 (upstream unavailable) and 504 (its deadline)."""
    if response.status_code >= 500 and response.status_code not in (503, 504):
        raise AssertionError(f"{response.status_code} for {case.method} {case.path}: {response.text[:300]}")
    return None


CHECKS = [
    no_undocumented_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


ROUTES = {"/schemas": False, "/fixture": False, "/everything": True, "/time": False, "": False}
"""Route under /openapi → whether it needs the npm peers."""


@pytest.mark.parametrize("route", list(ROUTES), ids=lambda route: route.strip("/") or "aggregated")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_every_operation(gateway: str, route: str, mode: GenerationMode) -> None:
    if ROUTES[route] and not EVERYTHING.exists():
        pytest.fail("npm peers not installed: run `make test`")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    schema = schemathesis.openapi.from_url(
        f"{gateway}/openapi{route}/openapi.json", headers=headers, timeout=60
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document has no operations"
    with requests.Session() as http:
        http.headers.update(headers)
        for operation in operations:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case: Any) -> None:
                response = case.call(base_url=f"{gateway}/openapi{route}", session=http, timeout=30)
                case.validate_response(response, checks=CHECKS)

            check()
