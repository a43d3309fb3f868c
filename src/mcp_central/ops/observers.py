"""Who hears about calls: the gateway's one ``CallObserver``, fanning each ``CallRecord`` out to
the observers registered with it (metrics, the audit trail, call log lines, the dashboard's
recent calls).

An observer that raises is logged once and kept: one broken consumer must not cost a client its
answer or silence the others. It records nothing itself.
"""

from __future__ import annotations

import logging

from mcp_central.core.calls import CallObserver, CallRecord

log = logging.getLogger("mcp_central.ops")


class Observers:
    """A ``CallObserver`` that tells every registered observer, in registration order."""

    __slots__ = ("_failed", "_observers")

    def __init__(self) -> None:
        self._observers: list[CallObserver] = []
        self._failed: set[int] = set()

    def add(self, observer: CallObserver) -> None:
        self._observers.append(observer)

    def remove(self, observer: CallObserver) -> None:
        self._observers.remove(observer)

    def call_finished(self, record: CallRecord) -> None:
        for observer in self._observers:
            try:
                observer.call_finished(record)
            except Exception:
                if id(observer) not in self._failed:
                    self._failed.add(id(observer))
                    log.exception("call observer %r failed (logged once)", observer)
