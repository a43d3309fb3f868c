"""The MCP→OpenAPI bridge (/openapi/…): documents that validate, faithful schemas, results, prompts,
resources, live documents, upstream failures and call records — against real SDK upstreams."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from openapi_spec_validator import validate

from conftest import TESTS, fixture_stdio, http_client, make_config, mcp_client, serve
from mcp_central.config.loader import load_config
from mcp_central.config.model import GroupConfig, ServerConfig
from mcp_central.core.calls import CallRecord
from mcp_central.downstream.openapi.document import Lists, build

SCHEMA_SERVER = TESTS / "servers" / "schema_server.py"


def schema_stdio(name: str = "schemas", **overrides: Any) -> ServerConfig:
    return ServerConfig(
        name=name,
        transport="stdio",
        command=sys.executable,
        args=(str(SCHEMA_SERVER),),
        timeout=30,
        **overrides,
    )


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    """Follow a ``#/…`` reference inside ``document`` (as any OpenAPI tool would)."""
    node: Any = document
    for token in ref.removeprefix("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    assert isinstance(node, dict)
    return node


async def document(http: httpx2.AsyncClient, url: str) -> dict[str, Any]:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    spec = response.json()
    validate(spec)  # openapi-spec-validator: OpenAPI 3.1, every $ref resolvable
    return dict(spec)


@pytest.mark.anyio
async def test_every_route_serves_a_valid_document_with_its_own_tools() -> None:
    groups = {"pair": GroupConfig("pair", ("schemas", "fixture"))}
    async with (
        serve(make_config(schema_stdio(), fixture_stdio(), groups=groups)) as (base, _app),
        http_client() as http,
    ):
        server = await document(http, f"{base}/openapi/schemas/openapi.json")
        assert server["openapi"] == "3.1.0" and server["servers"] == [{"url": "/openapi/schemas"}]
        assert {
            "/tree_summary",
            "/paint",
            "/pixel",
            "/fail",
            "/prompts",
            "/prompts/review",
            "/resources",
        } <= set(server["paths"])
        group = await document(http, f"{base}/openapi/groups/pair/openapi.json")
        assert group["servers"] == [{"url": "/openapi/groups/pair"}]
        assert {"/schemas__tree_summary", "/fixture__echo"} <= set(group["paths"])
        everything = await document(http, f"{base}/openapi/openapi.json")
        assert everything["servers"] == [{"url": "/openapi"}]
        assert {"/schemas__paint", "/fixture__add"} <= set(everything["paths"])
        assert (await http.get(f"{base}/openapi/groups/all/openapi.json")).json() == everything
        ids = [op["operationId"] for item in everything["paths"].values() for op in item.values()]
        assert len(ids) == len(set(ids))
        assert (await http.get(f"{base}/openapi/nosuch/openapi.json")).status_code == 404
        assert (await http.get(f"{base}/openapi/groups/nosuch/openapi.json")).status_code == 404


@pytest.mark.anyio
async def test_schemas_are_kept_refs_and_recursion_included_and_round_trip() -> None:
    async with serve(make_config(schema_stdio())) as (base, _app), http_client() as http:
        spec = await document(http, f"{base}/openapi/schemas/openapi.json")
        operation = spec["paths"]["/tree_summary"]["post"]
        body = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        node = resolve(spec, body["properties"]["tree"]["$ref"])
        # Recursive: the child items refer back to the node schema itself, not an inlined copy.
        assert node["properties"]["children"]["items"]["$ref"] == body["properties"]["tree"]["$ref"]
        output = resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
        assert output["required"] == ["nodes", "depth", "names"]
        paint = resolve(
            spec,
            spec["paths"]["/paint"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        )
        assert paint["properties"]["color"] == {
            "default": "red", "enum": ["red", "green", "blue"], "title": "Color", "type": "string"
        }  # fmt: skip
        assert {"type": "null"} in paint["properties"]["note"]["anyOf"]
        assert spec["paths"]["/paint"]["post"]["description"].startswith("Describe a brush stroke")

        tree = {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}, {"name": "d"}]}
        response = await http.post(f"{base}/openapi/schemas/tree_summary", json={"tree": tree})
        assert response.status_code == 200
        assert response.json() == {"nodes": 4, "depth": 3, "names": ["a", "b", "c", "d"]}


@pytest.mark.anyio
async def test_results_map_to_json_and_http_statuses() -> None:
    async with serve(make_config(schema_stdio())) as (base, _app), http_client() as http:
        url = f"{base}/openapi/schemas"
        assert (await http.post(f"{url}/paint", json={"color": "blue", "note": "thin"})).json() == {
            "result": "blue stroke of size 1 (thin)"
        }
        image = (await http.post(f"{url}/pixel", json={})).json()
        assert image[0]["type"] == "image" and image[0]["mimeType"] == "image/png"
        assert base64.b64decode(image[0]["data"]).startswith(b"\x89PNG")
        both = (await http.post(f"{url}/bundle")).json()
        assert both[0] == {"type": "text", "text": "two things"}
        assert both[1]["resource"]["mimeType"] == "application/octet-stream"
        assert base64.b64decode(both[1]["resource"]["blob"]) == b"\x00\x01"
        failed = await http.post(f"{url}/fail", json={"reason": "nope"})
        assert failed.status_code == 400 and "fail" in failed.json()["error"]
        assert (await http.post(f"{url}/nosuch", json={})).status_code == 404
        assert (await http.post(f"{url}/paint", content=b"[1, 2]")).status_code == 400
        assert (await http.post(f"{url}/paint", content=b"{not json")).status_code == 400
        wrong = await http.post(f"{url}/tree_summary", json={"tree": {"children": "x"}})
        assert wrong.status_code == 400
        # A call that reports progress still answers with its result (and says how much it heard).
        crawled = await http.post(f"{url}/crawl", json={"steps": 4})
        assert crawled.json() == {"result": "crawled 4"} and crawled.headers["mcp-progress"] == "4"


@pytest.mark.anyio
async def test_prompts_and_resources() -> None:
    groups = {"one": GroupConfig("one", ("schemas",))}
    async with serve(make_config(schema_stdio(), groups=groups)) as (base, _app), http_client() as http:
        url = f"{base}/openapi/schemas"
        listed = (await http.get(f"{url}/prompts")).json()["prompts"]
        assert [p["name"] for p in listed] == ["review"]
        prompt = (await http.get(f"{url}/prompts/review", params={"language": "Go", "focus": "style"})).json()
        assert prompt["messages"][0]["content"]["text"] == "Review this Go code, looking for style."
        assert (await http.get(f"{url}/prompts/review")).status_code == 400  # a required argument missing
        resources = (await http.get(f"{url}/resources")).json()
        assert [r["uri"] for r in resources["resources"]] == ["schemas://readme"]
        assert [t["uriTemplate"] for t in resources["resourceTemplates"]] == ["schemas://items/{item}"]
        read = (await http.get(f"{url}/resources", params={"uri": "schemas://items/7"})).json()
        assert read["contents"] == [{"uri": "schemas://items/7", "mimeType": "text/plain", "text": "item 7"}]
        # On a group: the group's names and URIs.
        grouped = f"{base}/openapi/groups/one"
        assert (
            await http.get(f"{grouped}/prompts/schemas__review", params={"language": "C"})
        ).status_code == 200
        uri = (await http.get(f"{grouped}/resources")).json()["resources"][0]["uri"]
        assert uri.startswith("mcp-central://schemas/")
        assert (await http.get(f"{grouped}/resources", params={"uri": uri})).json()["contents"][0][
            "text"
        ] == "read me"


@pytest.mark.anyio
async def test_concurrent_callers_each_get_their_own_answer() -> None:
    async with serve(make_config(fixture_stdio())) as (base, _app), http_client() as http:
        answers: dict[int, Any] = {}

        async def call(n: int) -> None:
            route = f"{base}/openapi/fixture/add" if n % 2 else f"{base}/openapi/fixture__add"
            answers[n] = (await http.post(route, json={"a": n, "b": 1000})).json()

        async with asyncio.TaskGroup() as tasks:
            for n in range(24):
                tasks.create_task(call(n))
        assert answers == {n: {"result": n + 1000} for n in range(24)}


@pytest.mark.anyio
async def test_upstream_down_is_503_and_deadline_is_504() -> None:
    broken = ServerConfig(
        name="broken", transport="stdio", command=sys.executable, args=("-c", "raise SystemExit(3)")
    )
    config = make_config(dataclasses.replace(fixture_stdio(), timeout=1.0), broken)
    async with serve(config) as (base, _app), http_client() as http:
        down = await http.get(f"{base}/openapi/broken/openapi.json")
        assert down.status_code == 503 and down.headers["retry-after"] == "1"
        assert "broken" in down.json()["detail"]
        late = await http.post(f"{base}/openapi/fixture/slow", json={"seconds": 5})
        assert late.status_code == 504 and late.json()["error"] == "timeout"


@pytest.mark.anyio
async def test_the_document_follows_list_changed_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "config.json"

    def write(servers: dict[str, Any]) -> None:
        path.write_text(json.dumps({"mcpServers": servers}))

    entry = {
        "command": sys.executable,
        "args": [str(TESTS / "servers" / "fixture_server.py")],
        "timeout": "30s",
    }
    write({"fx": entry})
    async with (
        serve(load_config(str(path)), load=lambda: load_config(str(path))) as (base, app),
        http_client() as http,
    ):
        url = f"{base}/openapi/fx/openapi.json"
        first = (await http.get(url)).json()
        assert "/sprout" not in first["paths"]
        assert (await http.get(url)).content == (await http.get(url)).content  # kept, not rebuilt
        assert (await http.post(f"{base}/openapi/fx/grow", json={"name": "sprout"})).status_code == 200
        with anyio.fail_after(20):  # the upstream's list_changed reaches the cache
            while "/sprout" not in (await http.get(url)).json()["paths"]:  # noqa: ASYNC110
                await anyio.sleep(0.02)
        assert (await http.post(f"{base}/openapi/fx/sprout", json={})).json() == "I am sprout"

        write({"fx": {**entry, "options": {"toolFilter": {"mode": "block", "list": ["echo"]}}}, "tm": {
            "command": sys.executable, "args": ["-m", "mcp_server_time"], "timeout": "30s"}})  # fmt: skip
        assert app.reloader is not None
        await app.reloader.reload("test")
        with anyio.fail_after(30):
            while (await http.get(url)).status_code != 200:  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the restarted upstream is starting
        assert "/echo" not in (await http.get(url)).json()["paths"]
        assert (await http.post(f"{base}/openapi/fx/echo", json={"text": "x"})).status_code == 404
        assert "/tm__get_current_time" in (await http.get(f"{base}/openapi/openapi.json")).json()["paths"]


@pytest.mark.anyio
async def test_calls_are_recorded_like_mcp_calls() -> None:
    records: list[CallRecord] = []

    class Recorder:
        def call_finished(self, record: CallRecord) -> None:
            records.append(record)

    async with serve(make_config(fixture_stdio())) as (base, app), http_client() as http:
        app.observers.add(Recorder())
        assert (await http.post(f"{base}/openapi/fixture/echo", json={"text": "hi"})).json() == {
            "result": "hi"
        }
        assert (await http.post(f"{base}/openapi/fixture__echo", json={"text": "ho"})).json() == {
            "result": "ho"
        }
    calls = [r for r in records if r.method == "tools/call"]
    assert [(r.context.route, r.context.transport, r.server, r.target, r.outcome) for r in calls] == [
        ("fixture", "openapi", "fixture", "echo", "ok"),
        ("all", "openapi", "fixture", "echo", "ok"),
    ]


def test_references_of_every_local_form_point_where_their_target_moved() -> None:
    """Draft-07 ``definitions``, a root self-reference (``#``), pointers into the root, escaped
    names and tuple ``items``: the document validates and every reference resolves."""
    tree = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "urn:example:tree",
        "type": "object",
        "properties": {
            "label": {"$ref": "#/definitions/a~1b label"},
            "children": {"type": "array", "items": {"$ref": "#"}},
            "same_label": {"$ref": "#/properties/label"},
            "pair": {
                "type": "array",
                "items": [{"type": "string"}, {"type": "integer"}],
                "additionalItems": False,
            },
        },
        "definitions": {"a/b label": {"type": ["string", "null"], "default": None}},
    }
    built = build(Lists(tools=[{"name": "tree", "inputSchema": tree}, {"name": "tree", "inputSchema": {}}]),
                  title="t", version="1", server_url="/openapi/x", secured=True)  # fmt: skip
    spec = json.loads(built.body)
    validate(spec)
    body = resolve(
        spec, spec["paths"]["/tree"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert "$id" not in body and "$schema" not in body and "definitions" not in body
    assert resolve(spec, body["properties"]["children"]["items"]["$ref"]) is body
    assert resolve(spec, body["properties"]["label"]["$ref"]) == {"type": ["string", "null"], "default": None}
    assert resolve(spec, body["properties"]["same_label"]["$ref"]) == body["properties"]["label"]
    assert body["properties"]["pair"]["prefixItems"] == [{"type": "string"}, {"type": "integer"}]
    assert body["properties"]["pair"]["items"] is False
    assert built.tools == {"tree": "tree"}  # a duplicate name is served once
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "a token of this route"
    }  # fmt: skip


@pytest.mark.anyio
async def test_a_document_built_does_not_take_a_session_of_a_capped_server() -> None:
    """The document cache listens on the link for list changes, but is nobody's session: a server
    with ``maxSessions: 1`` still takes its one MCP client after its document was built."""
    capped = dataclasses.replace(fixture_stdio("capped"), max_sessions=1)
    async with serve(make_config(capped)) as (base, _app), http_client() as http:
        assert "/echo" in (await document(http, f"{base}/openapi/capped/openapi.json"))["paths"]
        async with mcp_client(f"{base}/capped/mcp", "streamable-http") as client:
            assert "echo" in {tool.name for tool in (await client.list_tools()).tools}
