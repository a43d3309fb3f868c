"""The supervision and limit keys (issue 6): defaults, inheritance, and precise errors."""

from __future__ import annotations

import pytest

from mcp_central.config.loader import load_config_text
from mcp_central.config.model import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_ROUTE_MAX_SESSIONS,
)
from mcp_central.core.supervision import RestartPolicy
from mcp_central.errors import ConfigError


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "cfg.json", environ={})
    return [str(problem) for problem in info.value.problems]


def test_defaults_when_nothing_is_set() -> None:
    config = load_config_text('{"mcpServers": {"a": {"command": "x"}, "b": {"command": "y", '
                              '"sessionMode": "isolated"}}}', "c.json")  # fmt: skip
    a, b = config.servers["a"], config.servers["b"]
    assert a.timeout == 60 and a.restart == RestartPolicy() and not a.lazy_start and a.idle_stop is None
    assert a.max_body_bytes == DEFAULT_MAX_BODY_BYTES and a.max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES
    assert a.session_cap is None and b.session_cap == 100  # isolated keeps its old default
    assert config.proxy.max_sessions == DEFAULT_ROUTE_MAX_SESSIONS and config.proxy.shutdown_grace == 5


def test_every_new_key_is_read() -> None:
    text = """{
      "mcpProxy": {"options": {"defaultTimeout": "15s", "maxBodyBytes": 65536, "maxMessageBytes": 2097152,
                               "maxSessions": 50, "shutdownGrace": "2s"}},
      "mcpServers": {
        "a": {"command": "x", "restart": {"initialDelay": "100ms", "maxDelay": "10s", "multiplier": 3,
                                          "jitter": 0, "maxAttempts": 5},
              "lazyStart": true, "idleStop": "10m", "maxSessions": 7},
        "b": {"command": "y", "timeout": "3s", "options": {"maxBodyBytes": 4096, "maxMessageBytes": 8192}}
      }
    }"""
    config = load_config_text(text, "c.json")
    a, b = config.servers["a"], config.servers["b"]
    assert a.timeout == 15 and b.timeout == 3  # defaultTimeout fills in only where timeout is absent
    assert a.restart == RestartPolicy(0.1, 10.0, 3.0, 0.0, 5)
    assert a.lazy_start and a.idle_stop == 600 and a.session_cap == 7
    assert (a.max_body_bytes, a.max_message_bytes) == (65536, 2097152)  # inherited
    assert (b.max_body_bytes, b.max_message_bytes) == (4096, 8192)  # overridden per server
    proxy = config.proxy
    assert (proxy.max_sessions, proxy.shutdown_grace, proxy.default_timeout) == (50, 2, 15)


def test_mistakes_name_the_key_and_what_was_expected() -> None:
    text = """{
      "mcpProxy": {"options": {"maxSessions": 0, "shutdownGrace": "soon", "maxBodyBytes": "4MB"}},
      "mcpServers": {
        "a": {"command": "x", "restart": {"initialDelay": "5s", "maxDelay": "1s", "multiplier": 0.5,
                                          "jitter": 2, "maxAttempts": 0, "retries": 3},
              "lazyStart": "yes", "idleStop": -1},
        "b": {"command": "y", "options": {"maxSessions": 3, "maxMessageBytes": 10}}
      }
    }"""
    problems = problems_of(text)
    expected = [
        "cfg.json: mcpProxy.options.maxSessions: expected a whole number ≥ 1, got 0",
        "cfg.json: mcpProxy.options.shutdownGrace: expected a duration",
        "cfg.json: mcpProxy.options.maxBodyBytes: expected a whole number ≥ 1024, got '4MB'",
        "cfg.json: mcpServers.a.restart.maxDelay: must not be shorter than initialDelay (5s)",
        "cfg.json: mcpServers.a.restart.multiplier: expected a number from 1 to 100, got 0.5",
        "cfg.json: mcpServers.a.restart.jitter: expected a fraction from 0 to 1, got 2",
        "cfg.json: mcpServers.a.restart.maxAttempts: expected a whole number ≥ 1, got 0",
        "cfg.json: mcpServers.a.restart.retries: unknown key",
        "cfg.json: mcpServers.a.lazyStart: expected true or false, got a string",
        "cfg.json: mcpServers.a.idleStop: expected a duration",
        "cfg.json: mcpServers.b.options.maxSessions: is a proxy-wide option: set it in mcpProxy.options",
        "cfg.json: mcpServers.b.options.maxMessageBytes: expected a whole number ≥ 1024, got 10",
    ]
    for prefix in expected:
        assert any(problem.startswith(prefix) for problem in problems), (prefix, problems)
    assert len(problems) == len(expected), problems
