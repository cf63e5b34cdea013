"""Periodic rules over every active enrolment: device silent and missed scheduled readings.

``device.silent``: no reading received for the person's ``silent_hours`` (one SQL aggregate and
a NumPy comparison).  ``adherence.missed``: fewer readings than the schedule on the last
complete local day (info), two days running (warning).  Both resolve themselves when readings
come back.  Run it every few minutes (``axhub care sweep``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from axhub.care import thresholds
from axhub.care.frames import Firing
from axhub.care.models import Alert, AlertEvent, Enrolment, Reading
from axhub.care.monitoring import AlertChange, apply_firings, change_of
from axhub.care.store import one_of


def sweep(s: Session, now: datetime) -> list[AlertChange]:
    """Missing-data and adherence rules over every active enrolment (SQL aggregates)."""
    enrolled = s.execute(
        select(
            Enrolment.person_id,
            Enrolment.care_team,
            Enrolment.thresholds,
            Enrolment.conditions,
            Enrolment.schedule,
            Enrolment.timezone,
            Enrolment.enrolled_at,
        ).where(Enrolment.active.is_(True))
    ).all()
    if not enrolled:
        return []
    teams = {r[0]: r[1] for r in enrolled}
    firings, quiet = _silent(s, now)
    firings.extend(_adherence(s, enrolled, now))
    changes = apply_firings(s, firings, teams, now)
    fired_adh = {(f.person_id, f.qualifier) for f in firings if f.rule_id == "adherence.missed"}
    changes.extend(_auto_resolve(s, quiet, fired_adh, {r[0] for r in enrolled}, now))
    return changes


def _silent(s: Session, now: datetime) -> tuple[list[Firing], list[str]]:
    """``device.silent``: hours since the last reading received (or since enrolment) against
    each person's ``silent_hours``, as one SQL aggregate and a NumPy comparison."""
    last = (
        select(Reading.person_id, func.max(Reading.received_at).label("last"))
        .group_by(Reading.person_id)
        .subquery()
    )
    default = thresholds.SPECS["silent_hours"].default
    q = (
        select(
            Enrolment.person_id,
            func.coalesce(Enrolment.thresholds["silent_hours"].as_float(), default),
            Enrolment.enrolled_at,
            last.c.last,
        )
        .outerjoin(last, last.c.person_id == Enrolment.person_id)
        .where(Enrolment.active.is_(True))
    )
    rows = s.execute(q).all()
    if not rows:
        return [], []
    pid = np.array([r[0] for r in rows], dtype=object)
    hours = np.array([r[1] for r in rows], dtype=np.float64)
    seen = [r[3] for r in rows]
    since = np.array([(r[3] or r[2]).timestamp() for r in rows], dtype=np.float64)
    gap_h = (now.timestamp() - since) / 3600
    silent = gap_h >= hours
    firings = [
        Firing(str(pid[i]), "device.silent", "warning", None, None,
               {"hours_silent": round(float(gap_h[i]), 1), "threshold_h": float(hours[i]),
                "last_received": seen[i].isoformat() if seen[i] else None})
        for i in np.flatnonzero(silent)
    ]  # fmt: skip
    return firings, pid[~silent].tolist()


def _adherence(s: Session, enrolled: Sequence[Any], now: datetime) -> list[Firing]:
    """Readings per scheduled kind on each of the last two complete local days."""
    by_tz: dict[str, list[Any]] = {}
    for row in enrolled:
        if row[4]:
            by_tz.setdefault(row[5], []).append(row)
    out: list[Firing] = []
    for tz, rows in by_tz.items():
        local_midnight = now.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0,
                                                              microsecond=0)  # fmt: skip
        days = [local_midnight - timedelta(days=d) for d in (1, 2)]
        counts: list[dict[tuple[str, str], int]] = []
        for start in days:
            lo, hi = int(start.timestamp()), int((start + timedelta(days=1)).timestamp())
            q = (
                select(Reading.person_id, Reading.kind, func.count())
                .where(
                    one_of(s, Reading.person_id, [r[0] for r in rows]),
                    Reading.effective_s >= lo,
                    Reading.effective_s < hi,
                )
                .group_by(Reading.person_id, Reading.kind)
            )
            counts.append({(p, k): int(n) for p, k, n in s.execute(q)})
        for pid, _team, _th, _c, sched, _tz, enrolled_at in rows:
            for kind, per_day in sched.items():
                if enrolled_at > days[0]:
                    continue  # the day is not complete since enrolment
                short1 = counts[0].get((pid, kind), 0) < per_day
                short2 = enrolled_at <= days[1] and counts[1].get((pid, kind), 0) < per_day
                if short1:
                    out.append(
                        Firing(pid, "adherence.missed", "warning" if short2 else "info", None,
                               None, {"kind": kind, "expected_per_day": per_day,
                                      "got": counts[0].get((pid, kind), 0),
                                      "days_short": 2 if short2 else 1,
                                      "day": days[0].date().isoformat()}, qualifier=kind)
                    )  # fmt: skip
    return out


def _auto_resolve(
    s: Session,
    quiet: Sequence[str],
    fired_adh: set[tuple[str, str]],
    active: set[str],
    now: datetime,
) -> list[AlertChange]:
    changes: list[AlertChange] = []
    open_alerts = s.scalars(
        select(Alert).where(
            Alert.status != "resolved",
            Alert.rule_id.in_(["device.silent", "adherence.missed"]),
        )
    ).all()
    for a in open_alerts:
        qual = a.dedup_key.split("|", 2)[2] if a.dedup_key.count("|") == 2 else ""
        back = (a.rule_id == "device.silent" and a.person_id in quiet) or (
            a.rule_id == "adherence.missed" and (a.person_id, qual) not in fired_adh
        )
        if back or a.person_id not in active:
            a.status, a.resolved_at, a.resolved_by, a.updated_at = "resolved", now, "system", now
            s.add(AlertEvent(alert_id=a.id, at=now, event="auto_resolved",
                             detail={"reason": "readings resumed"}))  # fmt: skip
            changes.append(change_of(a, "resolved", False, []))
    return changes
