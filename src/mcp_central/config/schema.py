"""The JSON Schema (draft 2020-12) of config.json, generated from the key tables in config/keys.py
that the loader's unknown-key checks use too, so the two cannot drift apart.

Editors use it for completion and inline checks (``"$schema"`` in config.json, or VS Code's
``json.schemas``). It is no substitute for ``mcp-central validate``: checks across keys (a group
naming a server, a token used twice) and ``${VAR}`` values stay the loader's. Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_central import __version__
from mcp_central.config.key_schema import section_schema
from mcp_central.config.keys import TOP_LEVEL

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_schema() -> dict[str, Any]:
    document = section_schema(
        TOP_LEVEL,
        "mcp-central's config.json (TBXark/mcp-proxy compatible). Checks across keys and ${VAR} "
        "values are done by `mcp-central validate`.",
    )
    return {"$schema": DIALECT, "title": f"mcp-central config ({__version__})", **document}


def config_schema_text() -> str:
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"
