"""``mcpProxy.options.readiness`` (issue 16): what ``/readyz`` waits for, and ``GET /`` naming the
upstreams that are down. Real gateways in-process with real stdio upstreams, some that cannot start."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import echo_stdio, http_client, make_config, serve
from mcp_central.config.loader import load_config
from mcp_central.config.model import ServerConfig
from mcp_central.core.supervision import LinkState
from mcp_central.errors import ConfigError

pytestmark = pytest.mark.anyio

SECRET = "apikey-NOT-FOR-THE-ROOT-PAGE"


def broken(name: str) -> ServerConfig:
    """A stdio upstream that cannot start (its program does not exist); its argument is a secret."""
    return ServerConfig(
        name=name, transport="stdio", command="/nonexistent/mcp-server", args=(f"--key={SECRET}",), timeout=5
    )


async def readyz_and_root(config_servers: list[ServerConfig], readiness: str | None) -> tuple[int, dict, str]:
    proxy = {} if readiness is None else {"readiness": readiness}
    async with serve(make_config(*config_servers, **proxy)) as (base, _app), http_client() as http:
        ready = await http.get(f"{base}/readyz")
        root = await http.get(f"{base}/")
    return ready.status_code, ready.json(), root.text


async def test_the_default_policy_is_required_only_so_none_ready_is_still_ready() -> None:
    code, body, root = await readyz_and_root([broken("a"), broken("b")], None)
    assert (code, body["ready"]) == (200, True)  # today's default, kept: nothing is required
    assert "0/2 upstreams ready" in root


async def test_any_wants_one_upstream_ready() -> None:
    code, body, _ = await readyz_and_root([broken("a"), broken("b"), broken("c"), broken("d")], "any")
    assert code == 503
    assert body["reasons"] == ["none of 4 upstream(s) is ready (readiness: any)"]
    code, body, _ = await readyz_and_root([broken("a"), echo_stdio("up")], "any")
    assert (code, body["reasons"]) == (200, [])


async def test_all_wants_every_upstream_ready_and_names_the_ones_that_are_not() -> None:
    code, body, _ = await readyz_and_root([echo_stdio("up"), broken("down1"), broken("down2")], "all")
    assert code == 503
    assert len(body["reasons"]) == 2
    assert all(
        reason.startswith(("upstream 'down1' is ", "upstream 'down2' is ")) for reason in body["reasons"]
    )
    code, _, _ = await readyz_and_root([echo_stdio("up")], "all")
    assert code == 200


async def test_the_root_page_says_which_upstreams_are_down_without_secrets() -> None:
    config = make_config(echo_stdio("up"), broken("down1"), broken("down2"))
    async with serve(config) as (base, _app), http_client() as http:
        root = (await http.get(f"{base}/")).text
    assert "1/3 upstreams ready" in root
    down = re.search(r"^down: down1 \((\w+)\), down2 \((\w+)\)$", root, re.MULTILINE)
    assert down is not None, root
    assert {down[1], down[2]} <= {state.value for state in LinkState} - {"ready"}
    assert "up (" not in root
    assert SECRET not in root and "/nonexistent" not in root


def test_an_unknown_readiness_policy_is_a_key_path_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"mcpProxy": {"options": {"readiness": "most"}}, "mcpServers": {}}))
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert [str(problem) for problem in caught.value.problems] == [
        f"{path}: mcpProxy.options.readiness: expected one of 'required', 'any', 'all', got 'most'"
    ]
    path.write_text(json.dumps({"mcpProxy": {"options": {"readiness": "all"}}, "mcpServers": {}}))
    assert load_config(str(path)).proxy.readiness == "all"
