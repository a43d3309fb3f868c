"""Configs that would validate but do something else are refused (issue 11, finding 6), and no
validation message shows a secret that came from ``${VAR}`` (finding 2, the config half).

Each test feeds the exact shape the audit used: a later duplicate ``authTokens: []``, ``null`` and
``[0]`` tokens, tokens with spaces, ``.``/``..`` names, secrets in ``timeout`` and URLs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manage_helpers import BACKUPS, cli, operator_env, snapshot  # noqa: F401 - autouse fixture
from mcp_central.config import redact
from mcp_central.config.edit import validate_text
from mcp_central.config.loader import load_config, load_config_text
from mcp_central.errors import ConfigError

SECRET = "apikey-DDDD4444"
PASSWORD = "pa55word"


def with_group(tokens: str) -> str:
    """A config with server ``s`` and group ``g`` whose ``authTokens`` is the JSON text ``tokens``."""
    group = f'{{"servers": ["s"], "authTokens": {tokens}}}'
    return f'{{"mcpServers": {{"s": {{"command": "x"}}}}, "groups": {{"g": {group}}}}}'


def problems_of(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "config.json", environ=environ or {})
    return [str(problem) for problem in info.value.problems]


# --------------------------------------------------------------------------- duplicate keys

DUPLICATE_TOKENS = """{
  "mcpServers": {
    "s": {
      "command": "srv",
      "options": {"authTokens": ["${S_TOKEN}"],
        "logEnabled": true,
        "authTokens": []}
    }
  }
}
"""


def test_a_later_duplicate_key_cannot_open_a_route() -> None:
    # Before: JSON's last-one-wins loaded authTokens = [] and served the route to anyone.
    [problem] = problems_of(DUPLICATE_TOKENS, {"S_TOKEN": "tok"})
    assert problem == (
        "config.json: mcpServers.s.options.authTokens: duplicate key (line 7; first at line 5): keep only one"
    )


def test_duplicates_are_found_at_every_depth_and_all_reported() -> None:
    text = '{"mcpServers": {"a": {"command": "x", "args": [{"k": 1, "k": 2}]}},\n"mcpServers": {}}'
    problems = problems_of(text)
    assert problems == [
        "config.json: mcpServers.a.args[0].k: duplicate key (line 1; first at line 1): keep only one",
        "config.json: mcpServers: duplicate key (line 2; first at line 1): keep only one",
    ]


SERVER_TWICE = """{
  "mcpServers": {
    "x": {"command": "first"},
    "keep": {"command": "other"},
    "x": {"command": "second"}
  }
}
"""


def test_a_server_defined_twice_is_refused_and_server_remove_will_not_half_remove_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.json"
    path.write_text(SERVER_TWICE)
    before = snapshot(tmp_path)
    where = "mcpServers.x: duplicate key (line 5; first at line 3)"
    run = cli(capsys, "server", "remove", "x", "-c", str(path))
    assert run.code == 1 and "nothing changed" in run.err and where in run.err
    run = cli(capsys, "server", "add", "y", "-c", str(path), "--command", "y")
    assert run.code == 1 and where in run.err
    assert snapshot(tmp_path) == before  # no edit, no backup
    run = cli(capsys, "validate", "--config", str(path))
    assert run.code == 1 and where in run.err


def test_edit_validation_refuses_duplicates_even_where_a_variable_is_unset() -> None:
    # validate_text downgrades problems next to an unset ${VAR} to warnings (the proxy's environment
    # may set it); a duplicate at that very key must still be an error.
    with pytest.raises(ConfigError) as info:
        validate_text(DUPLICATE_TOKENS, "config.json")
    assert [p.path for p in info.value.problems] == ["mcpServers.s.options.authTokens"]


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"mcpProxy": {"options": {"authTokens": null}}, "mcpServers": {}}', "mcpProxy.options.authTokens"),
        (
            '{"mcpServers": {"s": {"command": "x", "options": {"authTokens": null}}}}',
            "mcpServers.s.options.authTokens",
        ),
        (with_group("null"), "groups.g.authTokens"),
        ('{"server": {"globalAuthTokens": null}, "clients": {}}', "server.globalAuthTokens"),
        (
            '{"clients": {"c": {"type": "stdio", "config": {"command": "x"}, "authTokens": null}}}',
            "clients.c.authTokens",
        ),
    ],
)
def test_null_tokens_are_an_error_not_an_open_route(text: str, path: str) -> None:
    [problem] = problems_of(text)
    assert problem.startswith(f"config.json: {path}: expected a list of token strings")
    assert "got null" in problem


@pytest.mark.parametrize("where", ["mcpProxy", "server", "group"])
def test_tokens_are_strings_only(where: str) -> None:
    tokens = '[0, "ok", true]'
    text = {
        "mcpProxy": f'{{"mcpProxy": {{"options": {{"authTokens": {tokens}}}}}}}',
        "server": f'{{"mcpServers": {{"s": {{"command": "x", "options": {{"authTokens": {tokens}}}}}}}}}',
        "group": with_group(tokens),
    }[where]
    prefix = {
        "mcpProxy": "mcpProxy.options.authTokens",
        "server": "mcpServers.s.options.authTokens",
        "group": "groups.g.authTokens",
    }[where]
    assert problems_of(text) == [
        f"config.json: {prefix}[0]: expected a token string, got a number",
        f"config.json: {prefix}[2]: expected a token string, got a boolean",
    ]


def test_a_token_with_surrounding_whitespace_is_refused_without_printing_it() -> None:
    text = (
        '{"mcpServers": {"s": {"command": "x", "options": {"authTokens": ["${S_TOKEN}", " literal-tok"]}}}}'
    )
    problems = problems_of(text, {"S_TOKEN": f"{SECRET}\n"})
    never = "clients cannot send that, so it would never match: remove the whitespace"
    assert problems == [
        "config.json: mcpServers.s.options.authTokens[0]: has whitespace at its start or end "
        f"(it comes from ${{S_TOKEN}}); {never}",
        f"config.json: mcpServers.s.options.authTokens[1]: has whitespace at its start or end; {never}",
    ]
    [problem] = problems_of(with_group('["${G} "]'), {"G": SECRET})
    assert problem.startswith("config.json: groups.g.authTokens[0]: has whitespace") and "${G}" in problem
    assert not any(SECRET in p or "literal-tok" in p for p in [*problems, problem])


def test_an_empty_token_is_refused_and_names_its_variable() -> None:
    text = '{"mcpProxy": {"options": {"authTokens": ["", "${EMPTY:-}"]}}}'
    assert problems_of(text) == [
        "config.json: mcpProxy.options.authTokens[0]: is empty: an empty token would match nothing useful",
        "config.json: mcpProxy.options.authTokens[1]: is empty (it comes from ${EMPTY}): "
        "an empty token would match nothing useful",
    ]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", [".", "..", ".hidden", "trailing.", "a/b", "a b", ""])
def test_names_that_could_escape_their_url_segment_are_refused(name: str) -> None:
    server = json.dumps({"mcpServers": {name: {"command": "x"}}})
    [problem] = problems_of(server)
    assert problem.startswith(f"config.json: mcpServers.{name}: server names may use only letters")
    group = json.dumps({"mcpServers": {"s": {"command": "x"}}, "groups": {name: {"servers": ["s"]}}})
    [problem] = problems_of(group)
    assert problem.startswith(f"config.json: groups.{name}: group names may use only letters")


def test_tbxark_style_names_with_inner_dots_load() -> None:
    text = (
        '{"mcpServers": {"mcp.server": {"command": "x"}, "a..b": {"command": "y"}, "_x-1": {"command": "z"}}}'
    )
    config = load_config_text(text, "config.json", environ={})
    assert list(config.servers) == ["mcp.server", "a..b", "_x-1"]


def test_the_cli_refuses_dot_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"mcpServers": {"s": {"command": "x"}}}\n')
    before = snapshot(tmp_path)
    run = cli(capsys, "server", "add", "..", "-c", str(path), "--command", "x")
    assert run.code == 1 and "mcpServers...: server names may use only" in run.err
    assert snapshot(tmp_path) == before
    # check and clients refuse the name itself, before reaching for a proxy (none runs here).
    for verb in (["check", "--url", "http://127.0.0.1:9"], ["clients", "--client", "claude-code"]):
        run = cli(capsys, *verb, "--server", "..")
        assert run.code == 1 and "--server: ..: server names may use only" in run.err, run.err
    run = cli(capsys, "check", "--config", str(path), "--server", ".")
    assert run.code == 1 and "--server: .: server names may use only" in run.err


# --------------------------------------------------------------------------- secrets in messages


BAD_VALUES = """{
  "mcpProxy": {"baseURL": "ftp://admin:%(pw)s@gw.example/?key=%(secret)s", "addr": "${ADDR}"},
  "mcpServers": {
    "a": {"command": "x", "timeout": "${API_KEY}", "maxSessions": "${API_KEY}"},
    "b": {"url": "ftp://user:%(pw)s@host/mcp?apikey=${API_KEY}&x=1",
          "headers": {"Authorization": ["Bearer %(secret)s"]}, "sessionMode": "--key=${API_KEY}"},
    "c": {"command": "x", "env": {"TOKEN": {"v": "%(secret)s"}}, "restart": {"jitter": "${API_KEY}"}}
  }
}
""" % {"pw": PASSWORD, "secret": SECRET}


def test_validation_messages_show_variables_as_written_and_redact_urls() -> None:
    problems = problems_of(BAD_VALUES, {"API_KEY": SECRET, "ADDR": SECRET})
    text = "\n".join(problems)
    assert SECRET not in text and PASSWORD not in text
    assert "mcpServers.a.timeout: expected a duration" in text and "got '${API_KEY}'" in text
    assert "mcpServers.a.maxSessions: expected a whole number ≥ 1, got '${API_KEY}'" in text
    assert "got 'ftp://***@host/mcp?apikey=***&x=***'" in text
    assert (
        "mcpProxy.baseURL: expected an http(s) URL with a host, got 'ftp://***@gw.example/?key=***'" in text
    )
    assert "mcpProxy.addr: expected 'host:port' or ':port', got '${ADDR}'" in text
    assert "mcpServers.b.sessionMode: expected 'shared' or 'isolated', got '--key=${API_KEY}'" in text
    assert "mcpServers.c.restart.jitter: expected a fraction from 0 to 1, got '${API_KEY}'" in text
    assert "mcpServers.b.headers.Authorization: expected a string, got a list" in text
    assert "mcpServers.c.env.TOKEN: expected a string, got an object" in text


def test_serve_and_validate_print_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_KEY", SECRET)
    monkeypatch.setenv("ADDR", SECRET)
    path = tmp_path / "config.json"
    path.write_text(BAD_VALUES)
    for verb in ("validate", "serve"):
        run = cli(capsys, verb, "--config", str(path))
        assert run.code == 1 and "invalid config" in run.err
        assert "got '${API_KEY}'" in run.err
        assert SECRET not in run.err + run.out and PASSWORD not in run.err + run.out


def test_display_describes_an_upstream_without_its_secrets() -> None:
    text = json.dumps(
        {
            "mcpServers": {
                "stdio": {
                    "command": "npx",
                    "args": ["srv", "--api-key=${API_KEY}", "${URL}", "https://u:p@h/x?k=v"],
                    "env": {"TOKEN": "${API_KEY}"},
                },
                "remote": {
                    "url": "https://user:${PW}@h.example/mcp?apikey=${API_KEY}",
                    "headers": {"A": "b"},
                },
                "plain": {"url": f"http://user:{PASSWORD}@h.example/sse?apikey={SECRET}#frag"},
            }
        }
    )
    environ = {"API_KEY": SECRET, "URL": f"http://h/?t={SECRET}", "PW": PASSWORD}
    servers = load_config_text(text, "config.json", environ=environ).servers
    assert servers["stdio"].args[1] == f"--api-key={SECRET}"  # what runs is the expanded value
    assert servers["stdio"].display == "npx srv --api-key=${API_KEY} ${URL} https://***@h/x?k=***"
    assert servers["remote"].display == "https://***@h.example/mcp?apikey=***"
    assert servers["plain"].display == "http://***@h.example/sse?apikey=***#***"


def test_redaction_helpers() -> None:
    assert redact.url("http://h:1/mcp") == "http://h:1/mcp"
    assert redact.url("http://u:p@h/mcp?a=1&b=&c") == "http://***@h/mcp?a=***&b=&***"
    assert redact.url("http://h/p@x") == "http://h/p@x"  # an @ in the path is not userinfo
    assert redact.urls_in("see http://u:p@h/?k=v, then") == "see http://***@h/?k=***, then"
    assert redact.headers({"Authorization": "Bearer x"}) == {"Authorization": "***"}
    assert redact.env({"K": "v"}) == {"K": "***"}
    assert redact.session_id("0123456789abcdef") == "01234567…"


def test_a_config_url_is_named_without_its_credentials() -> None:
    # Nothing listens on port 9 of loopback (discard): the fetch fails at once.
    url = f"http://admin:{PASSWORD}@127.0.0.1:9/config.json?token={SECRET}"
    with pytest.raises(ConfigError) as info:
        load_config(url, http_timeout=5)
    assert str(info.value).startswith("http://***@127.0.0.1:9/config.json?token=***: cannot fetch")
    with pytest.raises(ConfigError) as info:
        load_config_text('{"mcpServers": {"..": {"command": "x"}}}', url, environ={})
    assert str(info.value).startswith("http://***@127.0.0.1:9/config.json?token=***: mcpServers...:")
    assert SECRET not in str(info.value) and PASSWORD not in str(info.value)


def test_an_empty_group_token_list_still_opens_the_group_on_purpose() -> None:
    text = '{"mcpProxy": {"options": {"authTokens": ["g"]}}, "mcpServers": {"s": {"command": "x"}},'
    text += ' "groups": {"open": {"servers": ["s"], "authTokens": []}, "own": {"servers": ["s"]}}}'
    config = load_config_text(text, "config.json", environ={})
    assert config.groups["open"].auth_tokens == () and config.groups["own"].auth_tokens == ("g",)
