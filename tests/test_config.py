"""Config loading: the seed's own files load unchanged, and every mistake is named precisely."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_central.config.durations import parse_duration
from mcp_central.config.jsonc import strip
from mcp_central.config.loader import default_config, load_config, load_config_text
from mcp_central.errors import ConfigError

CONFIGS = Path(__file__).parent / "fixtures" / "configs"


def problems_of(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "cfg.json", environ=environ or {})
    return [str(problem) for problem in info.value.problems]


def test_seed_central_config_loads_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_PROXY_TOKEN", "changeme-token")
    config = load_config(str(CONFIGS / "seed_central.json"))
    assert list(config.servers) == ["postgres", "timescaledb", "filesystem", "fetch"]
    assert all(server.transport == "sse" for server in config.servers.values())
    assert config.servers["filesystem"].url == "http://mcp-filesystem-bridge:9071/filesystem/sse"
    assert all(server.auth_tokens == ("changeme-token",) for server in config.servers.values())
    assert (config.proxy.host, config.proxy.port, config.proxy.base_path) == ("0.0.0.0", 9090, "")
    assert config.proxy.name == "Central MCP Proxy" and config.proxy.log_enabled


def test_seed_config_without_its_token_variable_names_key_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MCP_PROXY_TOKEN", raising=False)
    with pytest.raises(ConfigError) as info:
        load_config(str(CONFIGS / "seed_central.json"))
    message = str(info.value)
    assert "seed_central.json: mcpProxy.options.authTokens[0]" in message
    assert "MCP_PROXY_TOKEN is not set" in message


def test_seed_phase2_config_with_stdio_servers() -> None:
    config = load_config(str(CONFIGS / "seed_phase2.json"))
    assert config.servers["fetch"].transport == "stdio"
    assert config.servers["fetch"].command == "uvx" and config.servers["fetch"].args == ("mcp-server-fetch",)
    assert config.servers["postgres"].transport == "sse"
    assert config.servers["fetch"].auth_tokens == ("changeme-token",)


def test_seed_bridge_configs_and_claude_code_client_file_load() -> None:
    bridge = load_config(str(CONFIGS / "seed_fetch_bridge.json"))
    assert bridge.proxy.port == 9072 and bridge.servers["fetch"].args == ("-m", "mcp_server_fetch")
    filesystem = load_config(str(CONFIGS / "seed_filesystem_bridge.json"))
    assert filesystem.servers["filesystem"].command == "mcp-server-filesystem"
    client_file = load_config(str(CONFIGS / "seed_claude_code_client.json"))  # Claude-style: mcpServers only
    assert client_file.servers["postgres"].headers == {"Authorization": "Bearer changeme-token"}
    assert (client_file.proxy.host, client_file.proxy.port) == ("127.0.0.1", 9090)


def test_env_defaults_and_values() -> None:
    text = '{"mcpServers": {"a": {"url": "${BASE:-http://127.0.0.1:1}/sse", "headers": {"K": "${KEY}"}}}}'
    config = load_config_text(text, "c.json", environ={"KEY": "v"})
    assert config.servers["a"].url == "http://127.0.0.1:1/sse"
    assert config.servers["a"].headers == {"K": "v"}
    config = load_config_text(text, "c.json", environ={"KEY": "v", "BASE": "https://h"})
    assert config.servers["a"].url == "https://h/sse"
    literal = load_config_text(
        '{"mcpServers": {"a": {"command": "${NOT_EXPANDED}"}}}', "c.json", expand_env=False
    )
    assert literal.servers["a"].command == "${NOT_EXPANDED}"


def test_comments_never_eat_urls_and_trailing_commas_are_fine() -> None:
    text = """{
      // a line comment
      "mcpServers": {
        "a": {"url": "http://127.0.0.1:8/sse", /* inline */ "headers": {"X": "a // b /* c */"},},
      },
    }"""
    config = load_config_text(text, "c.json")
    assert config.servers["a"].url == "http://127.0.0.1:8/sse"
    assert config.servers["a"].headers == {"X": "a // b /* c */"}


def test_syntax_errors_point_at_line_and_column() -> None:
    text = '{\n  "mcpServers": {\n    "a": {"url": "http://x"}\n    "b": {}\n  }\n}'
    problems = problems_of(text)
    assert problems[0].startswith("cfg.json: line 4, column 5")
    # blanked, not removed: positions in the user's file stay valid
    original = '{"a": "x", /* y */ }'
    assert strip(original) == '{"a": "x"' + " " * 10 + "}"
    assert len(strip(original)) == len(original)


def test_tbxark_v1_layout() -> None:
    text = """{
      "server": {"baseURL": "http://127.0.0.1:9191/base", "addr": ":9191", "name": "old",
                 "globalAuthTokens": ["g"]},
      "clients": {
        "fetch": {"type": "stdio", "config": {"command": "uvx", "args": ["mcp-server-fetch"]},
                  "authTokens": ["own"]},
        "web": {"type": "sse", "config": {"url": "http://127.0.0.1:7/sse"}},
        "api": {"type": "streamable-http", "config": {"url": "http://127.0.0.1:8/mcp", "timeout": 5}}
      }
    }"""
    config = load_config_text(text, "v1.json")
    assert config.proxy.base_path == "/base" and config.proxy.port == 9191
    assert config.servers["fetch"].transport == "stdio"
    assert config.servers["fetch"].auth_tokens == ("own", "g")
    assert config.servers["web"].transport == "sse" and config.servers["web"].auth_tokens == ("g",)
    assert config.servers["api"].transport == "streamable-http" and config.servers["api"].timeout == 5


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('{"command": "x"}', "stdio"),
        ('{"transportType": "stdio", "command": "x"}', "stdio"),
        ('{"url": "http://127.0.0.1/sse"}', "sse"),
        ('{"url": "http://127.0.0.1/mcp", "transportType": "streamable-http"}', "streamable-http"),
        ('{"url": "http://127.0.0.1/mcp", "type": "http"}', "streamable-http"),
        ('{"url": "http://127.0.0.1/mcp", "type": "streamableHttp"}', "streamable-http"),
        ('{"url": "http://127.0.0.1/sse", "type": "sse"}', "sse"),
    ],
)
def test_transport_is_chosen_as_tbxark_does(entry: str, expected: str) -> None:
    config = load_config_text('{"mcpServers": {"s": %s}}' % entry, "c.json")
    assert config.servers["s"].transport == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("500ms", 0.5), ("1m30s", 90), ("2m", 120), ("1h", 3600), (15, 15), (2.5, 2.5), ("45", 45),
     (30_000_000_000, 30)],
)  # fmt: skip
def test_timeouts(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "fast", "10 s", "-5s", 0, -1, True, None, "1x"])
def test_bad_timeouts_are_rejected(value: object) -> None:
    assert parse_duration(value) is None


def test_option_inheritance_and_opt_out() -> None:
    text = """{
      "mcpProxy": {"options": {"authTokens": ["global"], "toolFilter": {"mode": "block", "list": ["rm_*"]},
                               "panicIfInvalid": true}},
      "mcpServers": {
        "inherits": {"command": "a"},
        "own": {"command": "b",
                "options": {"authTokens": ["mine"], "toolFilter": {"mode": "Allow", "list": ["x"]}}},
        "open": {"command": "c", "options": {"authTokens": [], "panicIfInvalid": false}},
        "off": {"command": "d", "options": {"disabled": true}},
        "off2": {"command": "e", "disabled": true}
      }
    }"""
    config = load_config_text(text, "c.json")
    servers = config.servers
    assert servers["inherits"].auth_tokens == ("global",) and servers["inherits"].panic_if_invalid
    assert servers["inherits"].tool_filter is not None and servers["inherits"].tool_filter.mode == "block"
    assert servers["own"].auth_tokens == ("mine",)
    assert servers["own"].tool_filter is not None and servers["own"].tool_filter.mode == "allow"
    assert servers["open"].auth_tokens == () and not servers["open"].panic_if_invalid
    assert servers["off"].disabled and servers["off2"].disabled
    assert set(config.enabled_servers) == {"inherits", "own", "open"}


def test_many_problems_are_reported_at_once_with_key_paths() -> None:
    text = """{
      "mcpProxy": {"addr": "nonsense", "colour": "red",
                   "options": {"toolFilter": {"mode": "maybe", "list": ["a"]}, "authTokens": "tok"}},
      "mcpServers": {
        "mcp": {"command": "x"},
        "bad name": {"command": "x"},
        "nothing": {},
        "wrong": {"command": "x", "args": "--flag", "env": {"A": ["list"]}, "timeout": "soon"},
        "remote": {"url": "ftp://example"},
        "mode": {"command": "x", "sessionMode": "sometimes"}
      }
    }"""
    problems = problems_of(text)
    expected = [
        "cfg.json: mcpProxy.addr: expected 'host:port'",
        "cfg.json: mcpProxy.colour: unknown key",
        "cfg.json: mcpProxy.options.toolFilter.mode: expected 'allow' or 'block', got 'maybe'",
        "cfg.json: mcpProxy.options.authTokens: expected a list of token strings",
        "cfg.json: mcpServers.mcp: 'mcp' is reserved",
        "cfg.json: mcpServers.bad name: server names may use only",
        "cfg.json: mcpServers.nothing: needs either 'command'",
        "cfg.json: mcpServers.wrong.args: expected a list of strings, got a string",
        "cfg.json: mcpServers.wrong.env.A: expected a string, got a list",
        "cfg.json: mcpServers.wrong.timeout: expected a duration",
        "cfg.json: mcpServers.remote.url: expected an http(s) URL",
        "cfg.json: mcpServers.mode.sessionMode: expected 'shared' or 'isolated'",
    ]
    for prefix in expected:
        assert any(problem.startswith(prefix) for problem in problems), (prefix, problems)


def test_harmless_keys_from_other_clients_are_accepted() -> None:
    text = '{"mcpServers": {"a": {"command": "x", "description": "d", "autoApprove": [], "enabled": false}}}'
    assert load_config_text(text, "c.json").servers["a"].disabled


def test_addr_forms() -> None:
    def addr(value: str) -> tuple[str, int]:
        proxy = load_config_text('{"mcpProxy": {"addr": "%s"}, "mcpServers": {}}' % value, "c.json").proxy
        return proxy.host, proxy.port

    assert addr(":9090") == ("0.0.0.0", 9090)
    assert addr("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert addr("[::1]:9000") == ("::1", 9000)
    assert any("mcpProxy.addr" in p for p in problems_of('{"mcpProxy": {"addr": ":70000"}}'))


def test_default_config_serves_the_demo() -> None:
    config = default_config()
    assert list(config.servers) == ["demo"]
    assert config.servers["demo"].args == ("-m", "mcp_central.demo")
    assert (config.proxy.host, config.proxy.port) == ("127.0.0.1", 9090)


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "missing.json"))
    assert "missing.json: cannot read the file" in str(info.value)


@pytest.fixture
def config_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            body = b'{"mcpServers": {"remote": {"command": "x"}}}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/config.json", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_config_from_a_url_with_headers(config_server: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = config_server
    config = load_config(url, http_headers="X-Token: abc; X-Other:2")
    assert list(config.servers) == ["remote"]
    assert config.source == url
    assert seen[0]["X-Token"] == "abc" and seen[0]["X-Other"] == "2"


GROUPS_CONFIG = """{
  "mcpProxy": {"separator": "--", "aggregateTimeout": "2s", "options": {"authTokens": ["global"]}},
  "mcpServers": {
    "postgres": {"command": "pg"},
    "timescaledb": {"command": "ts", "options": {"promptFilter": {"mode": "allow", "list": ["q*"]}}},
    "off": {"command": "x", "options": {"disabled": true}}
  },
  "groups": {
    "db": {"servers": ["postgres", "timescaledb", "off"], "authTokens": ["db-token"],
           "toolFilter": {"mode": "block", "list": ["*--drop_*"]},
           "resourceFilter": {"mode": "allow", "list": ["postgres://*"]}},
    "all": {"toolFilter": {"mode": "block", "list": ["*--admin"]}}
  }
}"""


def test_groups_filters_and_aggregation_options_load() -> None:
    config = load_config_text(GROUPS_CONFIG, "cfg.json", environ={})
    assert (config.proxy.separator, config.proxy.aggregate_timeout) == ("--", 2.0)
    db = config.group("db")
    assert db is not None
    assert db.servers == ("postgres", "timescaledb")  # a disabled member is not served
    assert db.auth_tokens == ("db-token",)
    assert db.tool_filter is not None and db.tool_filter.patterns == ("*--drop_*",)
    assert db.resource_filter is not None and db.resource_filter.mode == "allow"
    everything = config.group("all")
    assert everything is not None and everything.servers == ("postgres", "timescaledb")
    assert everything.auth_tokens == ("global",)  # inherited
    assert everything.tool_filter is not None
    assert config.servers["timescaledb"].prompt_filter is not None
    assert config.group("nope") is None
    assert config.group_names == ["all", "db"]


def test_group_and_filter_mistakes_are_named() -> None:
    text = """{
      "mcpProxy": {"separator": "::"},
      "mcpServers": {"a": {"command": "a", "options": {"resourceFilter": {"mode": "hide", "list": []}}}},
      "groups": {"g": {"servers": ["a", "ghost"], "colour": "red"}, "empty": {}, "bad name!": {"servers": []}}
    }"""
    problems = problems_of(text)
    assert any("mcpProxy.separator" in p and "'::'" in p for p in problems)
    assert any("mcpServers.a.options.resourceFilter.mode" in p and "'hide'" in p for p in problems)
    assert any("groups.g.servers[1]" in p and "ghost" in p for p in problems)
    assert any("groups.g.colour" in p and "unknown key" in p for p in problems)
    assert any("groups.empty.servers" in p and "required" in p for p in problems)
    assert any("groups.bad name!" in p for p in problems)


def test_protocol_version_pins_are_checked() -> None:
    config = load_config_text(
        '{"mcpServers": {"new": {"url": "http://h/mcp", "type": "http", "protocolVersion": "2026-07-28"}}}',
        "cfg.json",
        environ={},
    )
    assert config.servers["new"].protocol_version == "2026-07-28"
    problems = problems_of('{"mcpServers": {"x": {"command": "x", "protocolVersion": "2030-01-01"}}}')
    assert any("mcpServers.x.protocolVersion" in p and "2026-07-28" in p for p in problems)
