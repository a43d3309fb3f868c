"""The interactive docs page of a route (Swagger UI 5) and its assets, served from the package.

Swagger UI comes from the ``swagger-ui-bundle-v2`` package (it installs the ``swagger_ui_bundle``
module; the older ``swagger-ui-bundle`` ships Swagger UI 4, which refuses OpenAPI 3.1), so the
page works on a LAN with no internet. The page and its assets are public: they hold nothing of the
route. What the page shows comes from ``openapi.json``, which takes the route's token like every
other request: the page asks for the token first (kept in the tab's ``sessionStorage``), sends it
with every request it makes, and fills Swagger's Authorize dialog with it (the document's
``bearerAuth`` scheme), where it can be changed.

No routing or auth here: ``downstream.openapi.handlers`` decides when these are served.
"""

from __future__ import annotations

import functools
import html
import json

from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

ASSETS = {
    "swagger-ui.css": b"text/css; charset=utf-8",
    "swagger-ui-bundle.js": b"text/javascript; charset=utf-8",
    "favicon-32x32.png": b"image/png",
}
"""The files of the bundle the page uses (nothing else of the package is served)."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%(title)s</title>
<link rel="stylesheet" href="%(assets)s/swagger-ui.css">
<link rel="icon" type="image/png" href="%(assets)s/favicon-32x32.png">
<style>
  body { margin: 0; font-family: sans-serif; }
  #token-form { padding: 12px 20px; background: #1b1b1b; color: #fff;
                display: flex; gap: 8px; align-items: center; }
  #token-form input { flex: 1; max-width: 420px; padding: 4px; }
</style>
</head>
<body>
<form id="token-form">
  <label for="token">Bearer token</label>
  <input id="token" type="password" autocomplete="off"
         placeholder="the route's token (empty if it needs none)">
  <button id="use-token" type="submit">Use token</button>
</form>
<div id="swagger-ui"></div>
<script src="%(assets)s/swagger-ui-bundle.js"></script>
<script>
  const specUrl = %(spec)s;
  const storageKey = "mcp-central-token";
  function start(token) {
    window.ui = SwaggerUIBundle({
      url: specUrl,
      dom_id: "#swagger-ui",
      deepLinking: false,
      requestInterceptor: (request) => {
        if (token && !request.headers.Authorization) {
          request.headers.Authorization = "Bearer " + token;
        }
        return request;
      },
      onComplete: () => { if (token) { window.ui.preauthorizeApiKey("bearerAuth", token); } },
    });
  }
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = document.getElementById("token").value.trim();
    sessionStorage.setItem(storageKey, token);
    start(token);
  });
  start(sessionStorage.getItem(storageKey) || "");
</script>
</body>
</html>
"""


def page(title: str, spec_url: str, assets_url: str) -> bytes:
    """The docs page for the document at ``spec_url`` (assets under ``assets_url``)."""
    values = {"title": html.escape(title), "assets": html.escape(assets_url), "spec": json.dumps(spec_url)}
    return (PAGE % values).encode()


@functools.lru_cache(maxsize=len(ASSETS))
def asset(name: str) -> bytes | None:
    """An asset's bytes (read once), or ``None`` if the page uses no such file."""
    if name not in ASSETS:
        return None
    content: bytes = (swagger_ui_path / name).read_bytes()
    return content
