"""Tasks with due windows, linked to alerts; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from axhub.care import alerts
from axhub.care.intake import ingest_messages
from axhub.care.store import CareStore
from axhub.care.tasks import create_task, finish_task, open_tasks
from axhub.errors import InputError

from .conftest import NOON_KST
from .readings import reading


def test_task_window_overdue_and_finish(store: CareStore) -> None:
    store.enrol("p-1", care_team="north")
    ingest_messages(store, [reading("bp", 185, value2=100)], now=NOON_KST)
    [alert] = alerts.worklist(store)
    t = create_task(store, person_id="p-1", kind="remeasure", title="Repeat BP in 5 minutes",
                    due_at=NOON_KST + timedelta(hours=2), priority="high", alert_id=alert.id,
                    start=timedelta(hours=1), end=timedelta(hours=1), now=NOON_KST)  # fmt: skip
    assert t.care_team == "north"
    assert open_tasks(store, now=NOON_KST) == []  # window not started
    [shown] = open_tasks(store, care_team="north", now=NOON_KST + timedelta(hours=1, minutes=5))
    assert shown.id == t.id and not shown.overdue
    assert open_tasks(store, now=NOON_KST + timedelta(hours=4))[0].overdue
    done = finish_task(store, t.id, by="worker-choi")
    assert done.status == "done" and open_tasks(store, now=NOON_KST + timedelta(hours=4)) == []
    with pytest.raises(InputError):
        finish_task(store, t.id, by="x", status="maybe")
