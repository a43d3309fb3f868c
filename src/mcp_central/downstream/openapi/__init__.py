"""The built-in MCP→OpenAPI bridge: every route's tools, prompts and resources as REST endpoints
with an OpenAPI 3.1 document, for Open-WebUI and any HTTP tool client (``/openapi/…``).

    schemas.py    tool JSON Schemas as document components ($ref/$defs rewritten)   sans-IO
    document.py   one route's document from its live lists                            sans-IO
    results.py    MCP answers as HTTP statuses and bodies                             sans-IO
    calls.py      requests on the route's link as an MCP client's (Downstream owner)
    cache.py      documents kept per route and caller's members, until lists change
    docs.py       the Swagger UI page and its packaged assets
    handlers.py   the HTTP endpoints (``OpenAPIBridge``), dispatched by ``downstream.app``
"""
