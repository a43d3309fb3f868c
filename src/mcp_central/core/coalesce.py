"""Coalescing repeated requests for the same refresh: at most one run in flight, plus one pending.

An upstream may announce ``notifications/tools/list_changed`` thousands of times in a burst; each
announcement only means "what you know is stale", so one refresh that starts after the latest one
answers them all. ``Coalesced`` records whether a run is in flight and whether another was asked
for meanwhile; it never runs, spawns or awaits anything itself (``upstream.link`` does).
"""

from __future__ import annotations


class Coalesced:
    """The bookkeeping of one coalesced refresh (e.g. one list of one upstream link)."""

    def __init__(self) -> None:
        self.running = False
        self.pending = False

    def wanted(self) -> bool:
        """A refresh is asked for. True: start one now. False: one is in flight; it runs once more
        after it ends, however often it is asked for meanwhile."""
        if self.running:
            self.pending = True
            return False
        self.running = True
        return True

    def finished(self) -> bool:
        """The run ended. True: run again now (it was asked for during this run)."""
        if self.pending:
            self.pending = False
            return True
        self.running = False
        return False

    def abandoned(self) -> None:
        """The run was cancelled (the link closes): nothing is in flight or pending any more."""
        self.running = self.pending = False
