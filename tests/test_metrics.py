"""``/metrics``: what an operator's Prometheus reads. The text passes ``promtool check metrics``,
counts are exact per route, server, tool and outcome with several clients calling at once, a real
Prometheus server scrapes it with a bearer token and answers a query, and only admins (or
``metricsTokens``) may read it once tokens exist.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

from conftest import (
    echo_stdio,
    fixture_stdio,
    free_port,
    http_client,
    make_config,
    mcp_client,
    route_url,
    serve,
    stop_process,
)
from mcp_central.config.loader import load_config_text
from mcp_central.config.model import Config
from mcp_central.downstream.app import Gateway
from mcp_central.errors import ConfigError

pytestmark = pytest.mark.anyio

PROMTOOL, PROMETHEUS = "/usr/bin/promtool", "/usr/bin/prometheus"
ADMIN, USER, SERVER, METRICS = "admin-token", "user-token", "server-token", "metrics-token"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when absent (a counter never incremented has no child yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(base: str, token: str | None = None) -> str:
    async with http_client(token) as http:
        reply = await http.get(f"{base}/metrics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return reply.text


async def tools_listed(app: Gateway, *servers: str) -> None:
    """Wait for each link's first tool count: until then its tool names are not known as labels."""
    with anyio.fail_after(30):
        while any(app.manager.links[name].tools.value is None for name in servers):  # noqa: ASYNC110 - no event for it
            await anyio.sleep(0.02)


@dataclasses.dataclass
class Made:
    """What the test's clients did, to compare with what ``/metrics`` counted."""

    tool_calls: dict[tuple[str, str, str], int] = dataclasses.field(default_factory=dict)
    requests: dict[tuple[str, str, str], int] = dataclasses.field(default_factory=dict)

    def add(self, route: str, server: str, tool: str, outcome: str) -> None:
        key = (server, tool, outcome)
        self.tool_calls[key] = self.tool_calls.get(key, 0) + 1
        request = (route, server, outcome)
        self.requests[request] = self.requests.get(request, 0) + 1


async def call(session: object, name: str, arguments: dict[str, object]) -> str:
    """``ok`` or ``error`` as the gateway must count it (a JSON-RPC error or an ``isError`` result)."""
    try:
        result = await session.call_tool(name, arguments)  # type: ignore[attr-defined]
    except MCPError:
        return "error"
    return "error" if result.is_error else "ok"


@pytest.fixture
async def two_servers() -> AsyncIterator[tuple[str, Gateway]]:
    config = make_config(fixture_stdio("a"), dataclasses.replace(fixture_stdio("b"), timeout=1))
    async with serve(config) as (base, app):
        await tools_listed(app, "a", "b")
        yield base, app


async def test_counts_per_tool_and_outcome_are_exact_with_clients_calling_at_once(
    two_servers: tuple[str, Gateway],
) -> None:
    base, _app = two_servers
    made = Made()

    async def client(n: int) -> None:
        aggregated = n % 2 == 1
        transport = "sse" if n % 3 == 0 else "streamable-http"
        server = "a" if n < 4 else "b"
        url = f"{base}/{'mcp' if transport == 'streamable-http' else 'sse'}" if aggregated else None
        route = "all" if aggregated else server
        prefix = f"{server}__" if aggregated else ""
        async with mcp_client(url or route_url(base, server, transport), transport) as session:
            for i in range(n + 1):
                assert await call(session, f"{prefix}echo", {"text": f"{n}/{i}"}) == "ok"
                made.add(route, server, "echo", "ok")
            for _ in range(n % 3 + 1):
                outcome = await call(session, f"{prefix}add", {"a": "not a number", "b": 1})
                assert outcome == "error"
                made.add(route, server, "add", "error")
            if not aggregated:  # a name the upstream does not list: counted, but never as a label
                assert await call(session, f"made-up-{n}", {}) == "error"
                made.add(route, server, "other", "error")

    async with anyio.create_task_group() as tg:
        for n in range(8):
            tg.start_soon(client, n)

    samples = parse(await scrape(base))
    for (server, tool, outcome), count in made.tool_calls.items():
        labels = {"server": server, "tool": tool, "outcome": outcome}
        assert value(samples, "mcp_central_tool_calls_total", **labels) == count, labels
    counted = {
        (dict(labels)["server"], dict(labels)["tool"], dict(labels)["outcome"]): got
        for (name, labels), got in samples.items()
        if name == "mcp_central_tool_calls_total"
    }
    assert counted == made.tool_calls  # nothing else was counted, and no made-up name is a label
    for (route, server, outcome), count in made.requests.items():
        labels = {"route": route, "server": server, "method": "tools/call", "outcome": outcome}
        assert value(samples, "mcp_central_requests_total", **labels) == count, labels
    calls = sum(made.tool_calls.values())
    histogram = sum(
        got
        for (name, labels), got in samples.items()
        if name == "mcp_central_request_duration_seconds_count" and ("method", "tools/call") in labels
    )
    assert histogram == calls


async def test_promtool_accepts_the_output_of_a_gateway_that_served_calls(
    two_servers: tuple[str, Gateway],
) -> None:
    base, app = two_servers
    async with mcp_client(route_url(base, "a", "streamable-http"), "streamable-http") as on_a:
        assert await call(on_a, "echo", {"text": "hi"}) == "ok"
        assert await call(on_a, "add", {"a": "x", "b": 1}) == "error"
        async with mcp_client(f"{base}/sse", "sse") as on_all:
            with pytest.raises(MCPError):
                await on_all.call_tool("b__slow", {"seconds": 5})  # b's timeout is 1 s
            await on_a.list_tools()
            text = await scrape(base)
    # A second gateway in the same process keeps counts of its own (one registry per gateway).
    async with serve(make_config(echo_stdio("a"))) as (other_base, _other):
        assert value(parse(await scrape(other_base)), "mcp_central_tool_calls_total",
                     server="a", tool="echo", outcome="ok") == 0  # fmt: skip

    checked = await anyio.run_process([PROMTOOL, "check", "metrics"], input=text.encode(), check=False)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()

    samples = parse(text)
    tool = "mcp_central_tool_calls_total"
    assert value(samples, tool, server="a", tool="echo", outcome="ok") == 1
    assert value(samples, tool, server="a", tool="add", outcome="error") == 1
    assert value(samples, tool, server="b", tool="slow", outcome="timeout") == 1
    requests = "mcp_central_requests_total"
    assert value(samples, requests, route="all", server="b", method="tools/call", outcome="timeout") == 1
    assert value(samples, requests, route="a", server="a", method="tools/list", outcome="ok") >= 1
    sessions = "mcp_central_sessions"
    assert value(samples, sessions, route="a", transport="streamable-http") == 1
    assert value(samples, sessions, route="all", transport="sse") == 1
    assert value(samples, sessions, route="b", transport="sse") == 0
    assert value(samples, "mcp_central_upstream_up", server="a") == 1
    # b missed its deadline: degraded (still up) until it answers again.
    assert value(samples, "mcp_central_upstream_state", server="b", state="degraded") == 1
    assert value(samples, "mcp_central_upstream_state", server="b", state="ready") == 0
    assert value(samples, "mcp_central_upstream_restarts_total", server="a") == 0
    assert value(samples, "mcp_central_config_reloads_total", outcome="ok") == 0
    assert (
        "mcp_central_messages_dropped_total",
        frozenset({("server", "a"), ("reason", "malformed")}),
    ) in samples
    of_a = {"server": "a", "method": "tools/call", "le": ""}
    buckets = [
        dict(labels)["le"]
        for (name, labels), _ in samples.items()
        if name == "mcp_central_request_duration_seconds_bucket" and dict(labels) | {"le": ""} == of_a
    ]
    assert buckets[0] == "0.0001" and "60.0" in buckets and buckets[-1] == "+Inf"
    assert app.metrics.registry is not _other.metrics.registry


async def test_a_real_prometheus_scrapes_it_with_a_bearer_token(tmp_path: Path) -> None:
    config = make_config(fixture_stdio("a"), tokens=(USER,), admin_tokens=(ADMIN,))
    async with serve(config) as (base, app):
        await tools_listed(app, "a")
        async with mcp_client(route_url(base, "a", "streamable-http"), "streamable-http", USER) as session:
            for i in range(7):
                assert await call(session, "echo", {"text": str(i)}) == "ok"
        target = base.removeprefix("http://")
        (tmp_path / "prometheus.yml").write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{
                "job_name": "mcp-central",
                "metrics_path": "/metrics",
                "authorization": {"type": "Bearer", "credentials": ADMIN},
                "static_configs": [{"targets": [target]}],
            }],
        }))  # fmt: skip
        port = free_port()
        with tempfile.TemporaryFile() as output:
            prometheus = subprocess.Popen(  # noqa: ASYNC220 - stopped by PID with conftest.stop_process
                [
                    PROMETHEUS,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                query = 'mcp_central_tool_calls_total{server="a",tool="echo",outcome="ok"}'
                got = await query_until(port, query, "7", prometheus)
                assert got == "7", output_of(output)
                assert await query_until(port, 'up{job="mcp-central"}', "1", prometheus) == "1"
            finally:
                stop_process(prometheus)


async def query_until(port: int, query: str, expected: str, process: subprocess.Popen[bytes]) -> str | None:
    """Ask Prometheus's HTTP API until ``query`` has the value ``expected`` (60 s at most): it
    scrapes every second, and starts up first. The last value seen, else ``None``."""
    last = None
    deadline = time.monotonic() + 60
    async with httpx2.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                reply = await http.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query})
                result = reply.json()["data"]["result"] if reply.status_code == 200 else []
            except httpx2.TransportError:
                result = []
            if result:
                last = result[0]["value"][1]
                if last == expected:
                    return last
            await anyio.sleep(0.2)
    return last


def output_of(output: object) -> str:
    output.seek(0)  # type: ignore[attr-defined]
    return str(output.read().decode()[-3000:])  # type: ignore[attr-defined]


async def status_of(base: str, token: str | None) -> int:
    async with http_client(token) as http:
        return (await http.get(f"{base}/metrics")).status_code


def guarded(**proxy: object) -> Config:
    return make_config(echo_stdio("pub"), echo_stdio("own", auth_tokens=(SERVER,)), tokens=(USER,), **proxy)


async def test_only_admins_read_metrics_when_tokens_exist() -> None:
    async with serve(guarded(admin_tokens=(ADMIN,))) as (base, _app):
        assert await status_of(base, None) == 401
        assert await status_of(base, SERVER) == 401  # a server's token is not an admin's
        assert await status_of(base, USER) == 401  # adminTokens replace the global ones
        assert await status_of(base, ADMIN) == 200


async def test_metrics_tokens_open_it_to_a_scraper_and_admins_keep_it() -> None:
    async with serve(guarded(admin_tokens=(ADMIN,), metrics_tokens=(METRICS,))) as (base, _app):
        assert await status_of(base, None) == 401
        assert await status_of(base, SERVER) == 401
        assert await status_of(base, METRICS) == 200
        assert await status_of(base, ADMIN) == 200
        async with http_client(METRICS) as http:  # the scraper's token is no admin's
            assert (await http.get(f"{base}/status")).status_code == 401
    async with serve(guarded(admin_tokens=(ADMIN,), metrics_tokens=())) as (base, _app):
        assert await status_of(base, None) == 200  # metricsTokens: [] opens /metrics only
        async with http_client() as http:
            assert (await http.get(f"{base}/status")).status_code == 401


async def test_metrics_are_open_when_no_token_exists_and_refused_to_foreign_origins() -> None:
    async with serve(make_config(echo_stdio("pub"))) as (base, _app):
        assert await status_of(base, None) == 200
        async with http_client(headers={"Origin": "http://evil.example"}) as http:
            assert (await http.get(f"{base}/metrics")).status_code == 403


def test_metrics_tokens_are_read_and_checked_like_other_tokens() -> None:
    def load(options: str, server_options: str = "{}") -> Config:
        text = '{"mcpProxy": {"options": %s}, "mcpServers": {"s": {"command": "x", "options": %s}}}' % (
            options,
            server_options,
        )
        return load_config_text(text, "config.json", environ={})

    assert load('{"metricsTokens": ["m1", "m2"]}').proxy.metrics_tokens == ("m1", "m2")
    assert load('{"metricsTokens": []}').proxy.metrics_tokens == ()
    assert load("{}").proxy.metrics_tokens is None
    with pytest.raises(ConfigError) as bad:
        load('{"metricsTokens": [" padded"]}')
    assert "mcpProxy.options.metricsTokens[0]" in str(bad.value)
    with pytest.raises(ConfigError) as misplaced:
        load("{}", '{"metricsTokens": ["m"]}')
    assert "mcpServers.s.options.metricsTokens" in str(misplaced.value)


async def test_reloads_are_counted_by_outcome() -> None:
    config = make_config(echo_stdio("pub"))
    answers: list[Config | ConfigError] = [config, ConfigError([]), config]

    def load() -> Config:
        answer = answers.pop(0)
        if isinstance(answer, ConfigError):
            raise answer
        return answer

    async with serve(config, load=load) as (base, app):
        assert app.reloader is not None
        for _ in range(3):
            await app.reloader.reload("test")
        samples = parse(await scrape(base))
    assert value(samples, "mcp_central_config_reloads_total", outcome="ok") == 2
    assert value(samples, "mcp_central_config_reloads_total", outcome="invalid") == 1
