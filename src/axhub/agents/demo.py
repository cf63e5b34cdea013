"""The demo's care step: enrol a cohort, replay a week of home readings through intake →
monitoring → agents, and report the alerts, tasks and pending approvals they produced.

The cohort is the synthetic region's device-enrolled subset (``devices/readings.parquet``,
docs/synth.md).  Person ids are the integrated zone's pseudonyms, computed by the caller
(the demo runner holds the keys; this module never does).  Readings are replayed in hourly
batches at their own times, the periodic sweep runs at the end of each hour, and the
home-care agent sends each person a daily summary at 21:00.  Two scripted patient messages
(a dose-change request and a missed dose, marked as scripted) show the approval path.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from axhub.agents import approvals
from axhub.agents.care_agents import CareAgents, Report
from axhub.agents.runtime import AgentRuntime
from axhub.care import alerts, tasks
from axhub.care.intake import ingest_messages
from axhub.care.models import CarePlan
from axhub.care.store import CareStore
from axhub.care.sweep import sweep
from axhub.config import Settings
from axhub.errors import NotFoundError
from axhub.governance.access import GovernedStore

log = logging.getLogger(__name__)

DEMO_TEAM = "phc-home"
DEMO_NURSE = "demo-nurse"
SEOUL = ZoneInfo("Asia/Seoul")
#: scripted inbound messages (not in the synthetic data), to show the approval path
SCRIPTED = (
    ("혈압약을 반만 먹어도 될까요? 줄이고 싶어요", ["amlodipine"]),
    ("어제 저녁 약을 깜빡 잊고 안 먹었어요", ["metformin"]),
)


def _section(title: str, columns: list[str], rows: list[list[Any]], note: str = "") -> Any:
    from axhub.demo import Section

    return Section(title, columns, rows, note)


def _week(table: pa.Table, days: int) -> pa.Table:
    start = pc.min(table.column("effective")).as_py()
    first = start.astimezone(SEOUL).replace(hour=0, minute=0, second=0, microsecond=0)
    end = first + timedelta(days=days)
    mask = pc.less(
        table.column("effective"), pa.scalar(end, type=table.schema.field("effective").type)
    )
    return table.filter(mask).sort_by([("effective", "ascending"), ("patient_id", "ascending")])


def care_demo_sections(
    settings: Settings,
    *,
    region: Path,
    person_ids: Callable[[list[str]], list[str]],
    days: int = 7,
) -> list[Any]:
    """Enrol, replay ``days`` of readings, run the agents; sections for the demo output.

    ``person_ids`` maps phc Patient ids to the integrated zone's pseudonymous person ids.
    """
    path = region / "devices" / "readings.parquet"
    if not path.exists():
        raise NotFoundError("no device readings in the region", path=str(path))
    table = pq.read_table(path)
    if table.num_rows == 0:
        return [
            _section(
                "care at home",
                ["item", "value"],
                [],
                note="the region has no home-device readings: nothing to replay",
            )
        ]
    week = _week(table, days)
    patients = sorted(set(week.column("patient_id").to_pylist()))
    pids = dict(zip(patients, person_ids(patients), strict=True))
    kinds_by_patient: dict[str, set[str]] = {}
    for p, k in zip(
        week.column("patient_id").to_pylist(), week.column("kind").to_pylist(), strict=True
    ):
        kinds_by_patient.setdefault(p, set()).add(k)
    store = CareStore.open(settings)
    governed = GovernedStore(settings)
    for p in patients:
        kinds = kinds_by_patient[p]
        conditions = [c for c, k in (("hypertension", "bp"), ("diabetes", "glucose")) if k in kinds]
        store.enrol(pids[p], care_team=DEMO_TEAM, conditions=conditions, by=DEMO_NURSE)
    rt = AgentRuntime(store, governed, care_team=DEMO_TEAM, on_behalf_of=DEMO_NURSE)
    agents = CareAgents(rt)

    rows = week.to_pylist()
    hours: dict[datetime, list[dict[str, Any]]] = {}
    for i, r in enumerate(rows):
        t = r["effective"].astimezone(SEOUL)
        msg = {
            "reading_id": f"demo/{r['device_id']}/{t.isoformat()}/{r['kind']}/{i}",
            "person_id": pids[r["patient_id"]],
            "kind": r["kind"],
            "value": r["value"],
            "unit": r["unit"],
            "effective_at": t.isoformat(),
            "device_id": r["device_id"],
        }
        if r["value2"] is not None:
            msg["value2"] = r["value2"]
        hours.setdefault(t.replace(minute=0, second=0, microsecond=0), []).append(msg)
    stats: Counter[str] = Counter()
    runs: Counter[str] = Counter()
    first_day = min(hours).replace(hour=0) if hours else datetime.now(SEOUL)
    scripted_at = first_day + timedelta(days=1, hours=10)
    daily = {first_day + timedelta(days=d, hours=21) for d in range(days)}
    for hour in sorted(set(hours) | daily | {scripted_at}):
        now = hour + timedelta(hours=1)
        res = ingest_messages(store, hours.get(hour, []), source="mqtt", now=now)
        stats.update(
            received=res.received,
            stored=res.stored,
            duplicates=res.duplicates,
            quarantined=res.quarantined,
            implausible=res.implausible,
        )
        with store.session() as s:
            changes = sweep(s, now)
        done = agents.on_intake(res.alerts, res.new_reading_ids, now)
        done += agents.on_intake(changes, [], now)
        if hour == scripted_at:
            for (text, meds), p in zip(SCRIPTED, patients, strict=False):
                with store.session() as s:
                    s.add(
                        CarePlan(
                            person_id=pids[p],
                            title="demo plan",
                            author=DEMO_NURSE,
                            activities={"medications": meds},
                        )
                    )
                done.append(agents.home_message(Report(pids[p], hour, text)))
        if hour in daily:
            done += [agents.home_daily(pids[p], hour) for p in patients]
        runs.update("escalations" if r.outcome.get("escalated") else "agent runs" for r in done)
    end = max(set(hours) | daily) + timedelta(hours=1)
    coord, items = agents.coordinate(end, language="en")
    return _sections(store, stats, runs, len(patients), days, end, coord.outcome, items)


def _short(person_id: str) -> str:
    return person_id[:8]


def _sections(
    store: CareStore,
    stats: Counter[str],
    runs: Counter[str],
    people: int,
    days: int,
    end: datetime,
    summary: dict[str, Any],
    items: list[dict[str, Any]],
) -> list[Any]:
    open_alerts = alerts.worklist(store, care_team=DEMO_TEAM, now=end, include_snoozed=True)
    by_rule = Counter((a.rule_id, a.severity) for a in open_alerts)
    open_t = tasks.open_tasks(store, care_team=DEMO_TEAM, now=end + timedelta(days=14))
    by_task = Counter((t.kind, t.priority) for t in open_t)
    pend = approvals.pending(store, care_team=DEMO_TEAM)
    return [
        _section(
            f"care at home: {people} enrolled people, {days} days of home readings replayed",
            ["item", "value"],
            [
                ["readings received", stats["received"]],
                ["stored", stats["stored"]],
                ["duplicates", stats["duplicates"]],
                ["quarantined", stats["quarantined"]],
                ["implausible (kept, not acted on)", stats["implausible"]],
                ["agent runs", runs["agent runs"] + runs["escalations"]],
                ["runs that escalated", runs["escalations"]],
            ],
        ),
        _section(
            "open alerts by rule",
            ["rule", "severity", "alerts"],
            [[r, s, n] for (r, s), n in sorted(by_rule.items())],
            note="" if by_rule else "no open alert",
        ),
        _section(
            "open tasks by kind",
            ["kind", "priority", "tasks"],
            [[k, p, n] for (k, p), n in sorted(by_task.items())],
            note="" if by_task else "no open task",
        ),
        _section(
            "pending approvals (clinician worklist)",
            ["approval", "person", "proposal"],
            [
                [a.id, _short(a.person_id), f"{a.action.get('change')} {a.action.get('drug')}"]
                for a in pend
            ],
            note="from a scripted patient message; nothing is changed until a clinician approves",
        ),
        _section(
            "care-coordinator worklist (top 10)",
            ["rank", "kind", "person", "what", "level"],
            [
                [i + 1, it["kind"], _short(it["person_id"]), it["what"], it["label"]]
                for i, it in enumerate(items[:10])
            ],
            note=str(summary.get("summary", "")),
        ),
    ]
