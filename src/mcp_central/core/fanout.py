"""Who should hear what, when many downstream sessions share one upstream session. Sans-IO.

``Subscriptions``: ``resources/subscribe`` per session and URI. Upstream sees one subscription per
URI (the first subscriber's) and one unsubscribe (the last one's); ``notifications/resources/updated``
goes only to the sessions subscribed to that URI.

``LogLevels``: ``logging/setLevel`` per session. Upstream is set to the most verbose level any
session asked for; each session then gets only ``notifications/message`` at or above its own level.
"""

from __future__ import annotations

from typing import Generic, TypeVar

Owner = TypeVar("Owner")

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}


class Subscriptions(Generic[Owner]):
    def __init__(self) -> None:
        self._by_uri: dict[str, set[Owner]] = {}

    def subscribe(self, owner: Owner, uri: str) -> bool:
        """Record it; True if the upstream must be asked (nobody was subscribed to ``uri`` yet)."""
        owners = self._by_uri.setdefault(uri, set())
        first = not owners
        owners.add(owner)
        return first

    def unsubscribe(self, owner: Owner, uri: str) -> bool:
        """Forget it; True if the upstream must be told (``owner`` was the last subscriber)."""
        owners = self._by_uri.get(uri)
        if not owners or owner not in owners:
            return False
        owners.discard(owner)
        if owners:
            return False
        del self._by_uri[uri]
        return True

    def drop(self, owner: Owner) -> list[str]:
        """Forget every subscription of ``owner``; the URIs nobody else subscribes to any more."""
        orphaned = []
        for uri in [uri for uri, owners in self._by_uri.items() if owner in owners]:
            if self.unsubscribe(owner, uri):
                orphaned.append(uri)
        return orphaned

    def subscribers(self, uri: str) -> set[Owner]:
        return set(self._by_uri.get(uri, ()))

    def uris(self) -> list[str]:
        return list(self._by_uri)


class LogLevels(Generic[Owner]):
    def __init__(self) -> None:
        self._levels: dict[Owner, str] = {}

    def set(self, owner: Owner, level: str) -> str | None:
        """Record ``owner``'s level; the new upstream level if it must change, else ``None``."""
        before = self.upstream_level()
        self._levels[owner] = level
        after = self.upstream_level()
        return after if after != before else None

    def drop(self, owner: Owner) -> str | None:
        before = self.upstream_level()
        self._levels.pop(owner, None)
        after = self.upstream_level()
        return after if after is not None and after != before else None

    def level_of(self, owner: Owner) -> str | None:
        return self._levels.get(owner)

    def upstream_level(self) -> str | None:
        if not self._levels:
            return None
        return min(self._levels.values(), key=lambda level: _RANK.get(level, 0))

    def wants(self, owner: Owner, level: object) -> bool:
        """Whether ``owner`` should get a log message at ``level`` (all of them if it set no level)."""
        own = self._levels.get(owner)
        if own is None:
            return True
        return _RANK.get(str(level), len(LEVELS)) >= _RANK.get(own, 0)
