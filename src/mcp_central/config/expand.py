"""``${VAR}`` and ``${VAR:-default}`` in config string values, as TBXark's ``-expand-env`` does.

Expansion runs on parsed values, so a variable's content never needs JSON escaping. Unlike Go's
``os.ExpandEnv``, an unset variable without a default is reported (with its key path) instead of
becoming an empty string: an empty ``authTokens`` entry would silently open a route.

Every string that had a variable in it comes back as ``Expanded``: a ``str`` equal to the value
that also remembers the text as written (``raw``), so messages, logs and ``/status`` can show
``--api-key=${API_KEY}`` instead of the secret (``shown``). It never prints values itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Report = Callable[[str, str], None]


class Expanded(str):
    """A string that came from expanding ``${VAR}``s: compares and hashes as its value."""

    raw: str
    """The text as written in the file, variables unexpanded (safe to print)."""
    variables: tuple[str, ...]
    """The names of the variables it used, in order."""

    def __new__(cls, value: str, raw: str, variables: tuple[str, ...]) -> Expanded:
        made = super().__new__(cls, value)
        made.raw = raw
        made.variables = variables
        return made

    def __reduce__(self) -> tuple[object, ...]:
        return (Expanded, (str(self), self.raw, self.variables))


def written(value: str) -> str:
    """``value`` as the file wrote it: the unexpanded text of an ``Expanded``, else ``value``."""
    return value.raw if isinstance(value, Expanded) else value


def expand(value: Any, environ: Mapping[str, str], report: Report, path: str = "") -> Any:
    """A copy of ``value`` with variables replaced in every string; ``report(path, message)`` on misses."""
    if isinstance(value, str):
        return _expand_string(value, environ, report, path)
    if isinstance(value, list):
        return [expand(item, environ, report, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            key: expand(item, environ, report, f"{path}.{key}" if path else key)
            for key, item in value.items()
        }
    return value


def _expand_string(text: str, environ: Mapping[str, str], report: Report, path: str) -> str:
    if "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = environ.get(name)
        if default is not None:
            return value if value else default
        if value is None:
            report(
                path,
                f"environment variable {name} is not set (give it a value or write ${{{name}:-default}})",
            )
            return ""
        return value

    expanded, count = _VARIABLE.subn(replace, text)
    if not count:
        return text
    names = tuple(match.group(1) for match in _VARIABLE.finditer(text))
    return Expanded(expanded, text, names)
