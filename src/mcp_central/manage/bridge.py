"""``bridge scaffold``: the files of a stdio→HTTP bridge, as the seed's ``add-bridge.sh`` made them.

A bridge is just ``mcp-central serve`` with one stdio upstream, in its own container on the
internal ``mcp-net`` network, so the central proxy reaches it over HTTP (``/NAME/sse`` or
``/NAME/mcp``). Written into ``--out``:

    Dockerfile          FROM the mcp-central image; the pinned package installed at build time
                        (npm -g for node, an isolated ``uv tool`` venv for python): nothing is
                        fetched by npx/uvx when the container starts
    compose.yaml        internal network only (no published port), health check on GET /,
                        256M memory limit, log rotation, 10 s graceful stop
    config/config.json  the bridge's own config: one stdio server, with ``server_args`` as its
                        arguments (before ``/workspace``)
    README.md           how to build it and register it with the central proxy

This module writes files only; it builds and starts nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mcp_central.config.loader import load_config_text
from mcp_central.config.names import name_problem
from mcp_central.errors import ConfigError, ConfigProblem

DEFAULT_BASE_IMAGE = "local/mcp-central:latest"
"""What ``docker build -f deploy/Dockerfile -t local/mcp-central:latest .`` produces."""
# Package names and versions end up in a RUN line: allow what registries allow, nothing a shell reads.
_NPM_NAME = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$")
_PY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]*$")
_BIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@dataclass(frozen=True)
class BridgeSpec:
    service: str
    runtime: str  # "node" or "python"
    package: str
    version: str
    bin_cmd: str
    port: int
    workspace: str | None = None
    base_image: str = DEFAULT_BASE_IMAGE
    add_auth: bool = False
    auth_env: str = "MCP_PROXY_TOKEN"
    server_args: tuple[str, ...] = ()
    """The stdio server's own arguments (e.g. ``--ignore-robots-txt``); JSON in config.json, never shell."""

    @property
    def container(self) -> str:
        return f"mcp-{self.service}-bridge"


def check_spec(spec: BridgeSpec) -> None:
    """``ConfigError`` naming every flag that is wrong."""
    problems = []

    def bad(flag: str, message: str) -> None:
        problems.append(ConfigProblem(flag, "", message))

    name_error = name_problem(spec.service)
    if name_error is not None:
        bad("--service", f"{spec.service!r} cannot be a route name: {name_error}")
    if spec.runtime not in ("node", "python"):
        bad("--runtime", f"expected node or python, got {spec.runtime!r}")
    pattern = _NPM_NAME if spec.runtime == "node" else _PY_NAME
    if not pattern.match(spec.package):
        bad("--pkg", f"{spec.package!r} is not a valid {spec.runtime} package name")
    if not _VERSION.match(spec.version):
        bad("--version", f"expected an exact version like 0.2.3, got {spec.version!r}")
    if not _BIN.match(spec.bin_cmd):
        bad("--bin-cmd", f"expected the package's executable name, got {spec.bin_cmd!r}")
    if not 0 < spec.port < 65536:
        bad("--port", f"expected a port between 1 and 65535, got {spec.port}")
    if spec.workspace is not None and (not spec.workspace or ":" in spec.workspace):
        bad("--workspace", f"expected a host directory without ':', got {spec.workspace!r}")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", spec.auth_env):
        bad("--auth-env", f"expected an environment variable name, got {spec.auth_env!r}")
    if problems:
        raise ConfigError(problems)


def render(spec: BridgeSpec) -> dict[str, str]:
    """File name (relative to the output folder) → content."""
    check_spec(spec)
    config = _config(spec)
    load_config_text(config, "config/config.json", expand_env=False)  # our own output must load
    return {
        "Dockerfile": _dockerfile(spec),
        "compose.yaml": _compose(spec),
        "config/config.json": config,
        "README.md": _readme(spec),
    }


def write(spec: BridgeSpec, out: Path, *, force: bool = False) -> list[Path]:
    files = render(spec)
    targets = [out / name for name in files]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not force:
        raise ConfigError(
            [ConfigProblem(path, "", "already exists (pass --force to overwrite)") for path in existing]
        )
    try:
        for path, text in zip(targets, files.values(), strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(out), "", f"cannot write: {exc.strerror or exc}")]) from None
    return targets


def _install(spec: BridgeSpec) -> str:
    if spec.runtime == "node":
        return (
            f"RUN npm install --global --no-fund --no-audit {spec.package}@{spec.version} \\\n"
            "    && npm cache clean --force"
        )
    # Its own venv: the server's dependencies (an older mcp, say) never meet mcp-central's.
    return (
        "RUN UV_TOOL_DIR=/opt/mcp-tools UV_TOOL_BIN_DIR=/usr/local/bin \\\n"
        f"    uv tool install --no-cache {spec.package}=={spec.version}"
    )


def _dockerfile(spec: BridgeSpec) -> str:
    return f"""# {spec.service} bridge: mcp-central serving one stdio server, {spec.package} {spec.version}.
FROM {spec.base_image}

# Installed now, pinned: the container never runs npx/uvx against a registry when it starts.
USER root
{_install(spec)}
USER mcp

COPY config /config

# Reached by the central proxy over mcp-net only (compose publishes no port).
EXPOSE {spec.port}
CMD ["-config", "/config/config.json"]
"""


def _config(spec: BridgeSpec) -> str:
    options: dict[str, object] = {"logEnabled": True, "panicIfInvalid": True}
    if spec.add_auth:
        options["authTokens"] = [f"${{{spec.auth_env}}}"]
    server: dict[str, object] = {"command": spec.bin_cmd}
    args = [*spec.server_args, *(["/workspace"] if spec.workspace else [])]
    if args:
        server["args"] = args
    document = {
        "mcpProxy": {"addr": f":{spec.port}", "name": f"{spec.service}-bridge", "options": options},
        "mcpServers": {spec.service: server},
    }
    return json.dumps(document, indent=2) + "\n"


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _compose(spec: BridgeSpec) -> str:
    volumes = f"    volumes:\n      - {_q(spec.workspace + ':/workspace:ro')}\n" if spec.workspace else ""
    env = (
        f"    environment:\n      - {_q(f'{spec.auth_env}=${{{spec.auth_env}:?set {spec.auth_env}}}')}\n"
        if spec.add_auth
        else ""
    )
    return f"""services:
  {spec.container}:
    build: .
    image: {_q(f"local/{spec.container}:{spec.version}")}
    container_name: {spec.container}
    restart: unless-stopped
    networks: ["mcp-net"]
    # No published port: the central proxy reaches the bridge over mcp-net.
    # ports: ["{spec.port}:{spec.port}"]   # local debugging only
{volumes}{env}    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:{spec.port}/"]
      interval: 30s
      timeout: 5s
      retries: 3
      start_period: 30s
    stop_grace_period: 10s
    deploy:
      resources:
        limits:
          memory: 256M
    logging:
      driver: "json-file"
      options:
        max-size: "10m"
        max-file: "3"

networks:
  mcp-net:
    external: true
"""


def _readme(spec: BridgeSpec) -> str:
    auth = " --add-auth" if spec.add_auth else ""
    return f"""# {spec.service} bridge

mcp-central serving `{spec.bin_cmd}` ({spec.package} {spec.version}, {spec.runtime}) over HTTP on
port {spec.port} of the `mcp-net` network, at `/{spec.service}/sse` and `/{spec.service}/mcp`.

```sh
docker compose up -d --build          # needs the base image {spec.base_image}
mcp-central server add {spec.service} --port {spec.port}{auth} --config /path/to/central/config.json --test
```
"""
