"""The OpenAPI 3.1 document of one route, built from its live lists. Sans-IO, pure.

    POST /{tool}              one per tool: the body is the tool's arguments (its ``inputSchema``);
                              200 is the tool's ``outputSchema`` where it has one
    GET  /prompts             the prompt list             GET /prompts/{name}?arg=…   one per prompt
    GET  /resources           the resource list (and templates); with ``?uri=…``: that resource read

Paths are relative to the route's server URL (``{baseURL path}/openapi/{name}``, given by the
caller). Operation ids are the tool names made safe for OpenAPI clients (``[A-Za-z0-9_-]``, at most
64 characters, as Open-WebUI and function-calling models need), made unique in list order with
``_2``, ``_3``…, so the same lists always give the same ids. Tools come first: a tool keeps its own
name even when one of ours (``list_prompts``) would want it. Schemas move into
``components/schemas`` with their references rewritten (``schemas.SchemaMover``).

No I/O: ``downstream.openapi.cache`` fetches the lists and keeps what this builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from mcp_central.downstream.openapi.schemas import COMPONENTS, SchemaMover, component_key

MAX_OPERATION_ID = 64
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")

ERROR = {
    "type": "object",
    "description": "What went wrong: 'error' names it, 'detail' (where present) says more.",
    "properties": {
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "code": {"type": "integer", "description": "The JSON-RPC error code, when the upstream gave one"},
    },
    "required": ["error"],
}
CONTENT = {
    "description": (
        "The tool's text as one string when it answered with text only; otherwise its MCP content "
        "items (images and audio with base64 'data' and 'mimeType', embedded resources with 'text' "
        "or base64 'blob')"
    ),
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "object", "properties": {"type": {"type": "string"}}}},
    ],
}
OBJECT = {"type": "object"}
_FAILURES = {
    "401": ("missing or wrong bearer token", "Error"),
    "503": ("the upstream is down or starting, or a limit is reached (retry later)", "Error"),
    "504": ("the upstream did not answer within its timeout", "Error"),
}


@dataclass
class Lists:
    """What a route offers, as its MCP lists gave it (``None``: the route has no such capability)."""

    tools: list[dict[str, Any]]
    prompts: list[dict[str, Any]] | None = None
    resources: list[dict[str, Any]] | None = None
    templates: list[dict[str, Any]] | None = None


@dataclass
class Document:
    """One route's document (as JSON bytes) and the index the handlers serve it by."""

    body: bytes
    tools: dict[str, str] = field(default_factory=dict)
    """Tool names by the path segment their ``POST`` uses (the name itself)."""
    prompts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Prompts by name (their arguments give the query parameters)."""
    resources: bool = False
    """Whether ``GET /resources`` is served."""


def operation_id(name: str, taken: set[str]) -> str:
    """``name`` made a safe, unique operation id (recorded in ``taken``)."""
    base = _UNSAFE_ID.sub("_", name)[:MAX_OPERATION_ID] or "_"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        suffix = f"_{n}"
        candidate = base[: MAX_OPERATION_ID - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def _responses(ok: dict[str, Any], ok_text: str, *extra: tuple[str, str]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": ok_text, "content": {"application/json": {"schema": ok}}}
    }
    for status, text in extra:
        responses[status] = _error_response(text)
    for status, (text, _schema) in _FAILURES.items():
        responses[status] = _error_response(text)
    return responses


def _error_response(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": {"$ref": COMPONENTS + "Error"}}}}


def build(
    lists: Lists, *, title: str, version: str, server_url: str, secured: bool, description: str | None = None
) -> Document:
    """The document for ``lists`` served at ``server_url``; ``secured``: the route takes a token."""
    components: dict[str, Any] = {"Error": ERROR, "ToolContent": CONTENT}
    paths: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    document = Document(b"")
    for tool in lists.tools:
        name = tool.get("name")
        if not isinstance(name, str) or not name or name in document.tools:
            continue
        document.tools[name] = name
        key = component_key(name)
        body = SchemaMover(f"{key}.input", components).move(tool.get("inputSchema"))
        output = tool.get("outputSchema")
        ok = (
            SchemaMover(f"{key}.output", components).move(output)
            if isinstance(output, dict)
            else {"$ref": COMPONENTS + "ToolContent"}
        )
        annotations = tool.get("annotations")
        if not isinstance(annotations, dict):
            annotations = {}
        operation: dict[str, Any] = {
            "operationId": operation_id(name, taken),
            "summary": tool.get("title") or annotations.get("title") or name,
            "tags": ["tools"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": _responses(
                ok,
                "the tool's structuredContent, else its text, else its content items",
                ("400", "the tool reported an error (isError), or the arguments were refused"),
                ("404", "no such tool on this route (any more)"),
            ),
        }
        if isinstance(tool.get("description"), str):
            operation["description"] = tool["description"]
        paths.setdefault("/" + quote(name, safe=""), {})["post"] = operation
    if lists.prompts is not None:
        _prompt_paths(lists.prompts, paths, taken, document)
    if lists.resources is not None or lists.templates is not None:
        document.resources = True
        paths.setdefault("/resources", {})["get"] = {
            "operationId": operation_id("resources", taken),
            "summary": "List the resources (and templates); with uri, read one",
            "tags": ["resources"],
            "parameters": [
                {
                    "name": "uri",
                    "in": "query",
                    "required": False,
                    "description": "the resource to read (absent: list them all)",
                    "schema": {"type": "string"},
                }
            ],
            "responses": _responses(
                OBJECT,
                "{resources, resourceTemplates}; with uri: {contents: [{uri, mimeType, text | blob}]}",
                ("400", "the upstream refused the read"),
            ),
        }
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version or "0"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": components},
    }
    if description:
        spec["info"]["description"] = description
    if secured:
        spec["components"]["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "a token of this route"}
        }
        spec["security"] = [{"bearerAuth": []}]
    document.body = orjson.dumps(spec)
    return document


def _prompt_paths(
    prompts: list[dict[str, Any]], paths: dict[str, dict[str, Any]], taken: set[str], document: Document
) -> None:
    paths.setdefault("/prompts", {})["get"] = {
        "operationId": operation_id("list_prompts", taken),
        "summary": "List the prompts",
        "tags": ["prompts"],
        "responses": _responses(OBJECT, "{prompts: [{name, description, arguments}]}"),
    }
    for prompt in prompts:
        name = prompt.get("name")
        if not isinstance(name, str) or not name or name in document.prompts:
            continue
        document.prompts[name] = prompt
        parameters = []
        for argument in prompt.get("arguments") or []:
            if isinstance(argument, dict) and isinstance(argument.get("name"), str):
                parameter: dict[str, Any] = {
                    "name": argument["name"],
                    "in": "query",
                    "required": bool(argument.get("required")),
                    "schema": {"type": "string"},
                }
                if isinstance(argument.get("description"), str):
                    parameter["description"] = argument["description"]
                parameters.append(parameter)
        operation: dict[str, Any] = {
            "operationId": operation_id(f"prompt_{name}", taken),
            "summary": prompt.get("title") or name,
            "tags": ["prompts"],
            "parameters": parameters,
            "responses": _responses(
                OBJECT, "the prompt: {description, messages}", ("400", "the upstream refused the arguments")
            ),
        }
        if isinstance(prompt.get("description"), str):
            operation["description"] = prompt["description"]
        paths["/prompts/" + quote(name, safe="")] = {"get": operation}
