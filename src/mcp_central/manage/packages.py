"""Does a pinned package version exist? Asked of the registry that ``bridge scaffold``'s Dockerfile
will install from: PyPI's JSON API for python (``uv tool install``), the npm registry for node.

    MCP_CENTRAL_PYPI_URL   PyPI's JSON API base (default https://pypi.org/pypi)
    MCP_CENTRAL_NPM_URL    the npm registry (default https://registry.npmjs.org)

A version the registry does not list is an error naming the package, the version and the latest
one; a registry that cannot be reached (offline, firewalled) is a warning, never a failure: the
scaffold is still right, only unchecked. This module asks and answers; it writes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from mcp_central.errors import ConfigError, ConfigProblem

PYPI_URL_ENV = "MCP_CENTRAL_PYPI_URL"
NPM_URL_ENV = "MCP_CENTRAL_NPM_URL"
DEFAULT_PYPI_URL = "https://pypi.org/pypi"
DEFAULT_NPM_URL = "https://registry.npmjs.org"
DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Published:
    """What a registry lists for one package."""

    versions: frozenset[str]
    latest: str | None


class RegistryUnreachable(Exception):
    """The registry did not answer usefully (network error, timeout, 5xx, not JSON)."""


def registry_url(runtime: str) -> str:
    if runtime == "node":
        return os.environ.get(NPM_URL_ENV) or DEFAULT_NPM_URL
    return os.environ.get(PYPI_URL_ENV) or DEFAULT_PYPI_URL


def published(
    runtime: str, package: str, *, base_url: str | None = None, timeout: float = 10.0
) -> Published | None:
    """The versions ``package`` has on its registry; ``None`` when the registry does not know it."""
    base = (base_url or registry_url(runtime)).rstrip("/")
    if runtime == "node":
        url = f"{base}/{quote(package, safe='@')}"  # a scoped name's '/' is %2F on the registry
    else:
        url = f"{base}/{quote(package.split('[', 1)[0], safe='')}/json"  # extras are not the package
    try:
        response = httpx.get(
            url, timeout=timeout, follow_redirects=True, headers={"Accept": "application/json"}
        )
    except httpx.HTTPError as exc:
        raise RegistryUnreachable(f"{type(exc).__name__}: {exc}") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RegistryUnreachable(f"HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        raise RegistryUnreachable("the answer is not JSON") from None
    if not isinstance(document, dict):
        raise RegistryUnreachable("the answer is not a JSON object")
    if runtime == "node":
        versions, tags = document.get("versions"), document.get("dist-tags")
        latest = tags.get("latest") if isinstance(tags, dict) else None
    else:
        versions, info = document.get("releases"), document.get("info")
        latest = info.get("version") if isinstance(info, dict) else None
    if not isinstance(versions, dict):
        raise RegistryUnreachable("the answer lists no versions")
    return Published(frozenset(versions), latest if isinstance(latest, str) else None)


def check_version(
    runtime: str,
    package: str,
    version: str,
    *,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> str | None:
    """``ConfigError`` when the registry says ``package`` or its ``version`` does not exist; a
    warning (returned) when the registry cannot be asked; ``None`` when the version is listed."""
    base = base_url or registry_url(runtime)
    where = "npm" if runtime == "node" else "PyPI"
    try:
        listed = published(runtime, package, base_url=base, timeout=timeout)
    except RegistryUnreachable as exc:
        return f"could not check {package} {version} on {where} ({base}): {exc}; the version is unchecked"
    if listed is None:
        raise ConfigError([ConfigProblem("--pkg", "", f"{package!r} does not exist on {where} ({base})")])
    if version not in listed.versions:
        latest = f"the latest is {listed.latest}" if listed.latest else "it lists no latest version"
        raise ConfigError(
            [ConfigProblem("--version", "", f"{package} has no version {version} on {where}: {latest}")]
        )
    return None
