"""Whose task is it: experimental tasks (2025-11-25) on a shared link. Sans-IO.

A task-augmented request (``params.task``) makes the upstream answer with a ``CreateTaskResult``
and keep working; the client then polls ``tasks/get``, blocks on ``tasks/result``, may
``tasks/cancel``, and hears ``notifications/tasks/status``. Messages pass through untouched, but on
a link shared by many clients a task belongs to the client that created it: only that client may
poll, fetch or cancel it, ``tasks/list`` shows each client its own tasks, and status notifications
go to the owner alone. A client never learns another client's task ids.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

Owner = TypeVar("Owner")

BY_TASK_ID = frozenset({"tasks/get", "tasks/result", "tasks/cancel"})
"""Requests that name one task in ``params.taskId``."""


def creates_task(message: dict[str, Any]) -> bool:
    params = message.get("params")
    return isinstance(params, dict) and isinstance(params.get("task"), dict)


def task_id_of(value: Any) -> str | None:
    """The ``taskId`` of a ``CreateTaskResult``, a task, or a status notification's params."""
    if not isinstance(value, dict):
        return None
    task = value.get("task")
    if isinstance(task, dict):
        value = task
    task_id = value.get("taskId")
    return task_id if isinstance(task_id, str) else None


class TaskOwners(Generic[Owner]):
    def __init__(self) -> None:
        self._owners: dict[str, Owner] = {}

    def claim(self, owner: Owner, task_id: str) -> None:
        self._owners.setdefault(task_id, owner)

    def owner_of(self, task_id: Any) -> Owner | None:
        return self._owners.get(task_id) if isinstance(task_id, str) else None

    def allows(self, owner: Owner, task_id: Any) -> bool:
        return self.owner_of(task_id) is owner

    def filter_list(self, owner: Owner, result: dict[str, Any]) -> None:
        """Keep only ``owner``'s tasks in a ``tasks/list`` result (in place)."""
        tasks = result.get("tasks")
        if isinstance(tasks, list):
            result["tasks"] = [task for task in tasks if self.allows(owner, task_id_of(task))]

    def drop(self, owner: Owner) -> None:
        for task_id in [task_id for task_id, who in self._owners.items() if who is owner]:
            del self._owners[task_id]
