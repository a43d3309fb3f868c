"""Durations as TBXark configs write them: Go strings ("30s", "1m30s", "500ms") or numbers.

A number is seconds, except that one of 1e6 or more is read as nanoseconds: that is how Go's
``time.Duration`` appears when TBXark writes it to JSON (``30000000000`` for 30 s).
"""

from __future__ import annotations

import re
from typing import Any

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
NANOSECOND_THRESHOLD = 1e6


def parse_duration(value: Any) -> float | None:
    """Seconds (> 0) for ``value``, or ``None`` if it is not a valid positive duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1e9 if value >= NANOSECOND_THRESHOLD else float(value)
        return seconds if seconds > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        seconds = float(text)  # "30" is 30 seconds
    except ValueError:
        position, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != position:
                return None
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            position = match.end()
        if position != len(text) or not text:
            return None
    return seconds if seconds > 0 else None
