"""`mcp-central schema`: the JSON Schema (2020-12) of config.json, generated from the key tables the
loader checks keys with. Every example config in the repo validates against it; a config with an
unknown key or a wrong type is refused by the schema and by `validate` alike; and a config the
loader accepts is never flagged by the schema (property-based, over every key of every section)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from manage_helpers import SEED_DIR, cli, operator_env  # noqa: F401 - autouse fixture
from mcp_central.config import jsonc, keys
from mcp_central.config.key_schema import Key, Section
from mcp_central.config.loader import load_config_text
from mcp_central.errors import ConfigError, ConfigProblem

ROOT = Path(__file__).parent.parent
ENV = {"MCP_PROXY_TOKEN": "t0k", "API_KEY": "k", "GITHUB_TOKEN": "g", "DB_TOKEN": "d"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from mcp_central.config.schema import config_schema

    return config_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


def loader_problems(document: Any) -> list[ConfigProblem]:
    try:
        load_config_text(json.dumps(document), "t.json", environ=ENV)
    except ConfigError as exc:
        return exc.problems
    return []


def test_the_schema_command_prints_a_valid_2020_12_schema(capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "schema")
    assert run.code == 0, run.err
    printed = json.loads(run.out)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(printed)
    assert printed["properties"]["mcpServers"]["additionalProperties"]["properties"]["sessionMode"][
        "default"
    ] == ("shared")


def _readme_configs() -> list[tuple[str, dict[str, Any]]]:
    """The README's config blocks: whole files, and fragments ('"groups": {…}') put where they belong."""
    text = (ROOT / "README.md").read_text()
    found = []
    for number, block in enumerate(re.findall(r"```jsonc?\n(.*?)```", text, re.S)):
        try:
            document = jsonc.loads(block if block.lstrip().startswith("{") else "{" + block + "}")
        except jsonc.JSONCError:
            continue  # elided with "…": not JSON
        if not isinstance(document, dict) or not document:
            continue
        if document.keys() <= keys.PROXY_OPTIONS.names():
            document = {"mcpProxy": {"options": document}}
        if document.keys() <= keys.TOP_LEVEL.names():
            found.append((f"README block {number}", document))
    return found


EXAMPLES = [
    ("deploy/config/config.json", jsonc.loads((ROOT / "deploy/config/config.json").read_text())),
    *((f"seed {path.name}", jsonc.loads(path.read_text())) for path in sorted(SEED_DIR.glob("seed_*.json"))),
    *_readme_configs(),
]


def test_every_example_config_validates(validator: Draft202012Validator) -> None:
    checked = []
    for where, document in EXAMPLES:
        if "mcpServers" not in document and "mcpProxy" not in document:
            continue  # a client's config (seed_claude_code_client.json), not ours
        errors = [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)
        ]
        assert errors == [], where
        checked.append(where)
    assert "deploy/config/config.json" in checked and "seed seed_central.json" in checked
    assert sum(where.startswith("README") for where in checked) >= 5


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"mcpServers": {"a": {"command": "x", "comand": "y"}}}, "mcpServers.a.comand"),
        ({"mcpProxy": {"options": {"authTokns": []}}}, "mcpProxy.options.authTokns"),
        (
            {"mcpServers": {"a": {"url": "http://h/sse", "options": {"maxSessions": 3}}}},
            "mcpServers.a.options",
        ),
        ({"mcpServers": {"a": {"command": "x", "restart": {"delay": "1s"}}}}, "mcpServers.a.restart.delay"),
        ({"mcpProxy": {"options": {"audit": {"path": "a.log"}}}}, "mcpProxy.options.audit.path"),
        ({"groups": {"g": {"server": []}}, "mcpServers": {}}, "groups.g.server"),
        ({"identities": {"i": {"token": ["t"]}}, "mcpServers": {}}, "identities.i.token"),
        ({"mcpServers": {}, "cors": {"origins": ["*"]}}, "cors"),
        ({"mcpServers": {"a": {"command": 5}}}, "mcpServers.a.command"),
        ({"mcpServers": {"a": {"command": "x", "timeout": True}}}, "mcpServers.a.timeout"),
        ({"mcpProxy": {"options": {"maxSessions": "100"}}, "mcpServers": {}}, "mcpProxy.options.maxSessions"),
        ({"mcpProxy": {"options": {"authTokens": "t"}}, "mcpServers": {}}, "mcpProxy.options.authTokens"),
        ({"mcpServers": {"a": {"command": "x", "sessionMode": "private"}}}, "mcpServers.a.sessionMode"),
        ({"mcpServers": {"status": {"command": "x"}}}, "mcpServers.status"),
    ],
)
def test_unknown_keys_and_wrong_types_are_refused_by_both(
    validator: Draft202012Validator, document: dict[str, Any], where: str
) -> None:
    assert not validator.is_valid(document)
    problems = loader_problems(document)
    assert any(problem.path.startswith(where) for problem in problems), problems


def test_dollar_schema_points_editors_at_the_schema(validator: Draft202012Validator) -> None:
    document = {"$schema": "./config.schema.json", "mcpServers": {"a": {"command": "x"}}}
    assert validator.is_valid(document)
    assert loader_problems(document) == []


# --------------------------------------------------------------------------- every key, both ways

BASE: dict[str, Any] = {
    "mcpProxy": {
        "baseURL": "https://mcp.example.com",
        "options": {
            "audit": {},
            "cors": {"origins": ["https://app.example"]},
            "toolFilter": {"mode": "allow"},
            "oauth": {"issuer": "https://auth.example.com", "identities": {"alice@example.com": "i"}},
        },
    },
    "mcpServers": {"a": {"url": "https://upstream.example/sse", "options": {}, "restart": {}}},
    "groups": {"g": {"servers": ["a"]}},
    "identities": {"i": {"tokens": ["tok-i"], "rateLimit": {"requests": 5}}},
}
SECTIONS: list[tuple[tuple[str, ...], Section]] = [
    ((), keys.TOP_LEVEL.without({"server", "clients"})),  # the legacy layout replaces the others
    (("mcpProxy",), keys.PROXY),
    (("mcpProxy", "options"), keys.PROXY_OPTIONS),
    (("mcpProxy", "options", "cors"), keys.CORS),
    (("mcpProxy", "options", "audit"), keys.AUDIT),
    (("mcpProxy", "options", "oauth"), keys.OAUTH),
    (("mcpProxy", "options", "toolFilter"), keys.FILTER),
    (("mcpServers", "a"), keys.SERVER),
    (("mcpServers", "a", "options"), keys.OPTIONS),
    (("mcpServers", "a", "restart"), keys.RESTART),
    (("groups", "g"), keys.GROUP),
    (("identities", "i"), keys.IDENTITY),
    (("identities", "i", "rateLimit"), keys.RATE_LIMIT),
]
SLOTS = [(path, key) for path, section in SECTIONS for key in section.keys]
SCALARS = [
    None, True, False, 0, 1, 2, 3, 100, 1024, 5000, 2_000_000_000, 1.5, 0.5, -1,
    "", "x", " t", "tok-z", "30s", "1m30s", "0s", "500ms", "5", "allow", "block", "ALLOW", "Block",
    "sse", "SSE", "http", "streamable-http", "stdio", "shared", "isolated", "json", "text", "hash", "full",
    "none", "2025-06-18", "https://h.example", "http://h.example/x", "ftp://h", "h:9", ":9091", "__", "::",
    "${UNSET_X:-5s}", "${UNSET_X:-x}", "${MCP_PROXY_TOKEN}", "*", "a", "g", "i",
]  # fmt: skip
VALUES = st.recursive(
    st.sampled_from(SCALARS),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "mode", "list", "x"]), inner, max_size=2)
    ),
    max_leaves=4,
) | st.sampled_from([{"mode": "block", "list": ["*"]}, {"requests": 1}, {"origins": ["*"]}, ["a"], ["tok-z"]])


def with_value(path: tuple[str, ...], key: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    target = document
    for step in path:
        target = target[step]
    target[key] = value
    return document


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def allowed_types(schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a key's schema can accept at all (``None``: any)."""
    if "anyOf" in schema:
        found: set[str] = set()
        for option in schema["anyOf"]:
            types = allowed_types(option)
            if types is None:
                return None
            found |= types
        return found
    if "enum" in schema:
        return {json_type(value) for value in schema["enum"]}
    if "type" not in schema:
        return None
    types = {schema["type"]} if isinstance(schema["type"], str) else set(schema["type"])
    return types | ({"integer"} if "number" in types else set())


def test_the_base_config_is_valid(validator: Draft202012Validator) -> None:
    assert validator.is_valid(BASE)
    assert loader_problems(BASE) == []


def disagreement(validator: Draft202012Validator, path: tuple[str, ...], key: Key, value: Any) -> str | None:
    """What the loader accepts the schema accepts (an editor never flags a good config), and a value
    of a type the key cannot take is refused by both; else what went wrong."""
    document = with_value(path, key.name, value)
    problems = loader_problems(document)
    schema_ok = validator.is_valid(document)
    where = ".".join((*path, key.name))
    if not problems and not schema_ok:
        return f"{where} = {value!r}: the loader accepts it, the schema does not"
    types = allowed_types(key.value)
    if types is not None and json_type(value) not in types:
        if schema_ok:
            return f"{where} = {value!r}: a wrong type, yet the schema accepts it"
        if not any(problem.path.startswith(where) for problem in problems):
            return f"{where} = {value!r}: a wrong type, yet the loader does not say so: {problems}"
    return None


@pytest.mark.parametrize(("path", "section"), SECTIONS, ids=[".".join(p) or "top" for p, _ in SECTIONS])
def test_schema_and_loader_agree_on_every_key_and_value(
    validator: Draft202012Validator, path: tuple[str, ...], section: Section
) -> None:
    """Every key of the section against every value of ``SCALARS``."""
    found = [disagreement(validator, path, key, value) for key in section.keys for value in SCALARS]
    assert [problem for problem in found if problem] == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slot=st.sampled_from(SLOTS), value=VALUES)
def test_schema_and_loader_agree_on_nested_values(
    validator: Draft202012Validator, slot: tuple[tuple[str, ...], Key], value: Any
) -> None:
    """The same with lists and objects of those values (hypothesis)."""
    assert disagreement(validator, *slot, value) is None


@pytest.mark.parametrize(("path", "section"), SECTIONS, ids=[".".join(p) or "top" for p, _ in SECTIONS])
def test_the_schema_knows_exactly_the_keys_the_loader_accepts(
    schema: dict[str, Any], path: tuple[str, ...], section: Section
) -> None:
    """Each key the schema lists is known to the loader (no 'unknown key'), one it does not list is
    unknown to both: the two cannot drift apart."""
    node = schema
    for step in path:
        node = node["properties"][step] if step in node.get("properties", {}) else node
        node = next((o for o in node.get("anyOf", [node]) if o.get("type") == "object"), node)
        if (
            "additionalProperties" in node
            and isinstance(node["additionalProperties"], dict)
            and "properties" not in node
        ):
            node = node["additionalProperties"]  # a name: mcpServers.a, groups.g, identities.i
    node = next((o for o in node.get("anyOf", [node]) if o.get("type") == "object"), node)
    listed = set(node["properties"])
    assert listed >= section.names()
    for name in sorted(listed):
        problems = loader_problems(with_value(path, name, copy.deepcopy(navigate(BASE, path).get(name))))
        unknown = [p for p in problems if p.path == ".".join((*path, name)) and "unknown key" in p.message]
        assert unknown == [], name
    where = ".".join((*path, "notAKey"))
    problems = loader_problems(with_value(path, "notAKey", 1))
    assert any(p.path == where and "unknown key" in p.message for p in problems), problems
    assert not Draft202012Validator(schema).is_valid(with_value(path, "notAKey", 1))


def navigate(document: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for step in path:
        document = document[step]
    return document
