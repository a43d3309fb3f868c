"""Background tasks with an owner: whoever starts one also ends it, and none fails unheard.

A link and its transports start tasks from callbacks (sends, readers, restarts). ``OwnedTasks``
keeps them: ``cancel_all`` ends and awaits every one still running (on close), and a task that
fails is logged with its traceback at once, never left as "Task exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


class OwnedTasks:
    def __init__(self, log: logging.Logger, owner: str) -> None:
        self._log = log
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self._log.error("%s: a background task failed", self._owner, exc_info=error)

    def cancel(self) -> list[asyncio.Task[Any]]:
        """Cancel every task still running (synchronously, e.g. in a ``finally``); they are returned
        for the caller to await."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        return tasks

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait until each has ended."""
        await asyncio.gather(*self.cancel(), return_exceptions=True)  # failures: logged by ``_done``
