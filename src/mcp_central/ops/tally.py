"""Counting refusals and logging them without flooding the log.

A limit that refuses a burst of clients (a full route, a flood of connections, a slow reader) must
be visible to the operator, but one log line per refusal would bury everything else. A ``Tally``
logs the first refusal of a burst at once, then the count of each ``REPORT_SECONDS`` that had
any, and keeps the total for ``/status``.
"""

from __future__ import annotations

import asyncio
import logging

REPORT_SECONDS = 10.0
"""Refusals of one kind are logged at most once per this long, with their count."""


class Tally:
    """Counts one kind of refusal and logs it: the first of a burst at once, then the count of each
    ``REPORT_SECONDS`` that had any, until a quiet period ends the burst."""

    def __init__(self, log: logging.Logger, level: int, message: str) -> None:
        self.log, self.level, self.message = log, level, message
        self.total = 0
        self._since_report = 0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, detail: str) -> None:
        self.total += 1
        if self._timer is None:
            self.log.log(self.level, "%s: %s", self.message, detail)
            self._timer = asyncio.get_running_loop().call_later(REPORT_SECONDS, self._report)
        else:
            self._since_report += 1

    def _report(self) -> None:
        if not self._since_report:
            self._timer = None
            return
        self.log.log(
            self.level,
            "%s: %d more in the last %d s (%d in all)",
            self.message,
            self._since_report,
            REPORT_SECONDS,
            self.total,
        )
        self._since_report = 0
        self._timer = asyncio.get_running_loop().call_later(REPORT_SECONDS, self._report)
