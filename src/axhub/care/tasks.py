"""Care tasks with due windows (CHT-style: due date, shown from ``start`` to ``end``).

The agents create tasks (re-measure, call the person, home visit) from alerts; care workers
complete or cancel them.  A task whose window has passed while open is overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select

from axhub.care.models import Alert, Task, utcnow
from axhub.care.store import CareStore
from axhub.errors import InputError, NotFoundError

PRIORITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class TaskView:
    id: int
    person_id: str
    care_team: str
    kind: str
    title: str
    priority: str
    status: str
    assignee: str | None
    due_at: datetime | None
    window_end: datetime | None
    alert_id: int | None
    overdue: bool
    detail: dict[str, Any]


def _view(t: Task, now: datetime) -> TaskView:
    overdue = t.status == "open" and t.window_end is not None and t.window_end < now
    return TaskView(
        t.id, t.person_id, t.care_team, t.kind, t.title, t.priority, t.status, t.assignee,
        t.due_at, t.window_end, t.alert_id, overdue, dict(t.detail or {}),
    )  # fmt: skip


def create_task(
    store: CareStore,
    *,
    person_id: str,
    kind: str,
    title: str,
    due_at: datetime,
    care_team: str | None = None,
    priority: str = "medium",
    alert_id: int | None = None,
    assignee: str | None = None,
    start: timedelta = timedelta(0),
    end: timedelta = timedelta(hours=24),
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> TaskView:
    """Create a task shown from ``due_at - start`` until ``due_at + end``."""
    now = now or utcnow()
    if priority not in PRIORITIES:
        raise InputError("unknown priority", field="priority", reason=", ".join(PRIORITIES))
    with store.session() as s:
        team = care_team
        if alert_id is not None:
            alert = s.get(Alert, alert_id)
            if alert is None:
                raise NotFoundError("no such alert", alert_id=alert_id)
            team = team or alert.care_team
        if team is None:
            team = store.enrolment(person_id).care_team
        t = Task(
            person_id=person_id, care_team=team, alert_id=alert_id, kind=kind, title=title,
            priority=priority, assignee=assignee, due_at=due_at, window_start=due_at - start,
            window_end=due_at + end, created_at=now, updated_at=now, detail=detail or {},
        )  # fmt: skip
        s.add(t)
        s.flush()
        return _view(t, now)


def finish_task(
    store: CareStore, task_id: int, *, by: str, status: str = "done", now: datetime | None = None
) -> TaskView:
    if status not in ("done", "cancelled"):
        raise InputError("a task finishes as done or cancelled", field="status", reason=status)
    now = now or utcnow()
    with store.session() as s:
        t = s.get(Task, task_id)
        if t is None:
            raise NotFoundError("no such task", task_id=task_id)
        t.status, t.resolved_at, t.updated_at = status, now, now
        t.detail = {**(t.detail or {}), "finished_by": by}
        return _view(t, now)


def open_tasks(
    store: CareStore, *, care_team: str | None = None, now: datetime | None = None
) -> list[TaskView]:
    """Open tasks whose window has started, high priority and earliest due first."""
    now = now or utcnow()
    rank = case({"high": 0, "medium": 1, "low": 2}, value=Task.priority, else_=3)
    q = select(Task).where(Task.status == "open", Task.window_start <= now)
    if care_team is not None:
        q = q.where(Task.care_team == care_team)
    with store.session() as s:
        return [_view(t, now) for t in s.scalars(q.order_by(rank, Task.due_at, Task.id))]
