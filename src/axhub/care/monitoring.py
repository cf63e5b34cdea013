"""Run the rules on new readings, de-duplicate alerts, and sweep for silence and adherence.

``evaluate_new`` is called by intake inside the transaction that stored the readings, so a
reading and the alert it raised commit together.  It loads the persons' plausible history
with one query, adds the readings a late arrival can change (look-ahead windows), runs
``rules.evaluate`` vectorised, and folds the firings into alerts:

- one alert per de-duplication key (person, rule[, qualifier]) while not resolved; a new
  firing of an open alert adds its reading ids and does not notify again;
- a firing of higher severity escalates the alert, clears any snooze and re-opens an
  acknowledged alert (notify);
- a firing of a snoozed alert after the snooze ran out resurfaces it (notify).

The periodic rules (device silent, adherence) are in ``sweep.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from axhub.care import rules, thresholds
from axhub.care.frames import DAY, Firing, Frame, Person
from axhub.care.models import Alert, AlertEvent, Enrolment, Reading
from axhub.care.rules import RULES, SEVERITY_RANK
from axhub.care.store import one_of

log = logging.getLogger(__name__)

#: readings after a late arrival whose windows it can change, per kind
LOOKAHEAD_S = {"weight": 3 * DAY, "bp": 3600, "temperature": DAY}
#: reading ids kept on an alert (the count goes on)
MAX_REFS = 100
#: a firing of the key rule resolves open alerts of these rules for the same person
SUPERSEDES = {
    "bp.severe": ("bp.severe_unconfirmed",),
    "bp.emergency": ("bp.severe_unconfirmed",),
}


@dataclass
class AlertChange:
    """An alert that was created, escalated, resurfaced or refired by this evaluation."""

    alert_id: int
    person_id: str
    care_team: str
    rule_id: str
    severity: str
    change: str  # created | escalated | resurfaced | refired | resolved
    notify: bool
    reading_ids: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "person_id": self.person_id,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "change": self.change,
            "notify": self.notify,
            "reading_ids": self.reading_ids,
            "detail": self.detail,
        }


def load_people(s: Session, persons: Sequence[str]) -> tuple[dict[str, Person], dict[str, str]]:
    people: dict[str, Person] = {}
    teams: dict[str, str] = {}
    q = select(
        Enrolment.person_id,
        Enrolment.thresholds,
        Enrolment.conditions,
        Enrolment.timezone,
        Enrolment.care_team,
    ).where(one_of(s, Enrolment.person_id, persons))
    for pid, th, conds, tz, team in s.execute(q):
        people[pid] = Person(
            thresholds.effective(th or {}, conds or ()), frozenset(conds or ()), tz
        )
        teams[pid] = team
    return people, teams


def _frame_from_dicts(rows: Sequence[Mapping[str, Any]]) -> Frame:
    return Frame(
        person=np.array([r["person_id"] for r in rows], dtype=object),
        kind=np.array([r["kind"] for r in rows], dtype=object),
        t=np.array([r["effective_s"] for r in rows], dtype=np.int64),
        v=np.array([r["norm_value"] for r in rows], dtype=np.float64),
        v2=np.array(
            [np.nan if r["norm_value2"] is None else r["norm_value2"] for r in rows],
            dtype=np.float64,
        ),
        on_oxygen=np.array([bool(r["on_oxygen"]) for r in rows], dtype=bool),
        rid=np.array([r["reading_id"] for r in rows], dtype=object),
        symptoms=np.array([int(r.get("_symptoms", 0)) for r in rows], dtype=np.int64),
    )


#: history each kind's rules need around the batch: (seconds before, seconds after)
HISTORY_NEEDS: dict[str, tuple[int, int]] = {
    "bp": (14 * DAY + 2 * 3600, 2 * 3600),  # 7-day mean and the week before; confirmation
    "weight": (3 * DAY + 3600, 3 * DAY),  # 3-day gain (and look-ahead)
    "spo2": (7 * DAY + 3600, 3600),  # usual value over 7 days
    "temperature": (7 * DAY + 3600, DAY),  # baseline 7 days; repeated within 24 h
}
#: NEWS2 reads the latest of each vital within 1 h (look-ahead targets up to a day later)
NEWS2_NEEDS = (3600, DAY)


def _empty_frame() -> Frame:
    return Frame(
        np.empty(0, dtype=object),
        np.empty(0, dtype=object),
        np.empty(0, dtype=np.int64),
        np.empty(0),
        np.empty(0),
        np.empty(0, dtype=bool),
        np.empty(0, dtype=object),
    )


def load_history(s: Session, new: Frame) -> Frame:
    """The plausible readings the rules need for a batch: per kind, only the persons with a
    new reading of that kind and only the time around the batch (``HISTORY_NEEDS``)."""
    clauses = []
    for kind, (back, ahead) in HISTORY_NEEDS.items():
        m = new.kind == kind
        if m.any():
            clauses.append(
                and_(
                    Reading.kind == kind,
                    one_of(s, Reading.person_id, sorted(set(new.person[m].tolist()))),
                    Reading.effective_s.between(int(new.t[m].min()) - back,
                                                int(new.t[m].max()) + ahead),
                )
            )  # fmt: skip
    m = np.isin(new.kind, rules.NEWS2_KINDS)
    if m.any():
        clauses.append(
            and_(
                Reading.kind.in_(rules.NEWS2_KINDS),
                one_of(s, Reading.person_id, sorted(set(new.person[m].tolist()))),
                Reading.effective_s.between(int(new.t[m].min()) - NEWS2_NEEDS[0],
                                            int(new.t[m].max()) + NEWS2_NEEDS[1]),
            )
        )  # fmt: skip
    if not clauses:
        return _empty_frame()
    q = select(
        Reading.person_id,
        Reading.kind,
        Reading.effective_s,
        Reading.norm_value,
        Reading.norm_value2,
        Reading.on_oxygen,
        Reading.reading_id,
    ).where(Reading.implausible.is_(False), or_(*clauses))
    rows = s.connection().execute(q).all()
    if not rows:
        return _empty_frame()
    cols = list(zip(*rows, strict=True))
    return Frame(
        person=np.array(cols[0], dtype=object),
        kind=np.array(cols[1], dtype=object),
        t=np.array(cols[2], dtype=np.int64),
        v=np.array(cols[3], dtype=np.float64),
        v2=np.array(cols[4], dtype=np.float64),  # None becomes NaN
        on_oxygen=np.array(cols[5], dtype=bool),
        rid=np.array(cols[6], dtype=object),
    )


def _lookahead_targets(new: Frame, hist: Frame) -> Frame:
    """History readings a late new reading can change (same person and kind, shortly after)."""
    if not len(hist):
        return hist
    allp = np.concatenate([new.person, hist.person]).astype(str)
    _, inv = np.unique(allp, return_inverse=True)
    npc, hpc = inv[: len(new)].astype(np.int64), inv[len(new) :].astype(np.int64)
    take = np.zeros(len(hist), dtype=bool)
    is_new = np.isin(hist.rid.astype(str), new.rid.astype(str))
    for kind, ahead in LOOKAHEAD_S.items():
        nm, hm = new.kind == kind, hist.kind == kind
        if not nm.any() or not hm.any():
            continue
        span = 1 << 34
        nkey = np.sort(npc[nm] * span + new.t[nm])
        hidx = np.flatnonzero(hm)
        hkey = hpc[hidx] * span + hist.t[hidx]
        j = np.searchsorted(nkey, hkey, side="left") - 1
        ok = j >= 0
        prev = np.where(ok, nkey[np.clip(j, 0, None)], 0)
        same = ok & (prev // span == hkey // span)
        gap = hkey - prev
        take[hidx[same & (gap > 0) & (gap <= ahead)]] = True
    return hist.take(take & ~is_new)


def _concat(a: Frame, b: Frame) -> Frame:
    if not len(b):
        return a
    return Frame(
        np.concatenate([a.person, b.person]),
        np.concatenate([a.kind, b.kind]),
        np.concatenate([a.t, b.t]),
        np.concatenate([a.v, b.v]),
        np.concatenate([a.v2, b.v2]),
        np.concatenate([a.on_oxygen, b.on_oxygen]),
        np.concatenate([a.rid, b.rid]),
        np.concatenate([a.symptoms, np.zeros(len(b), dtype=np.int64)]),
    )


def evaluate_new(
    s: Session, new_rows: Sequence[Mapping[str, Any]], now: datetime
) -> list[AlertChange]:
    """Evaluate the rules for newly stored plausible readings; returns the alert changes."""
    if not new_rows:
        return []
    new = _frame_from_dicts(new_rows)
    persons = sorted(set(new.person.tolist()))
    people, teams = load_people(s, persons)
    hist = load_history(s, new)
    targets = _concat(new, _lookahead_targets(new, hist))
    firings = rules.evaluate(targets, hist, people, now)
    return apply_firings(s, firings, teams, now)


def _group(firings: Iterable[Firing]) -> dict[str, list[Firing]]:
    out: dict[str, list[Firing]] = {}
    for f in firings:
        out.setdefault(f.dedup_key, []).append(f)
    return out


def apply_firings(
    s: Session, firings: Sequence[Firing], teams: Mapping[str, str], now: datetime
) -> list[AlertChange]:
    """Fold firings into alerts (de-duplication, escalation, snooze); one query for all keys."""
    groups = _group(firings)
    if not groups:
        return []
    existing = {
        a.dedup_key: a
        for a in s.scalars(
            select(Alert).where(one_of(s, Alert.dedup_key, groups), Alert.status != "resolved")
        )
    }
    changes: list[AlertChange] = []
    fresh_keys: list[tuple[str, Firing, list[str], list[int]]] = []
    for key, fs in groups.items():
        top = max(fs, key=lambda f: (SEVERITY_RANK[f.severity], f.effective_t or 0))
        rids = [f.reading_id for f in sorted(fs, key=lambda f: f.effective_t or 0) if f.reading_id]
        eff = [f.effective_t for f in fs if f.effective_t is not None]
        alert = existing.get(key)
        if alert is None:
            fresh_keys.append((key, top, rids, eff))
            continue
        change = _refire(s, alert, top, rids, eff, now)
        if change is not None:
            changes.append(change)
    new_alerts = [_new_alert(key, top, rids, eff, teams, now) for key, top, rids, eff in fresh_keys]
    try:  # the common case: nobody else created these keys meanwhile, one flush for all
        with s.begin_nested():
            s.add_all(new_alerts)
            s.flush()
        created = new_alerts
    except IntegrityError:  # lost a race with another writer: one by one, fold into theirs
        created = []
        for (key, top, rids, eff), alert in zip(fresh_keys, new_alerts, strict=True):
            try:
                with s.begin_nested():
                    s.add(alert)
                    s.flush()
                created.append(alert)
            except IntegrityError:
                theirs = s.scalars(
                    select(Alert).where(Alert.dedup_key == key, Alert.status != "resolved")
                ).one()
                change = _refire(s, theirs, top, rids, eff, now)
                if change is not None:
                    changes.append(change)
    for alert in created:
        s.add(AlertEvent(alert_id=alert.id, at=now, event="created",
                         detail={"severity": alert.severity}))  # fmt: skip
        changes.append(change_of(alert, "created", True, list(alert.reading_ids)))
    changes.extend(_supersede(s, firings, now))
    return changes


def _supersede(s: Session, firings: Sequence[Firing], now: datetime) -> list[AlertChange]:
    keys = {
        f"{f.person_id}|{old}"
        for f in firings
        if f.rule_id in SUPERSEDES
        for old in SUPERSEDES[f.rule_id]
    }
    if not keys:
        return []
    out = []
    for a in s.scalars(
        select(Alert).where(one_of(s, Alert.dedup_key, sorted(keys)), Alert.status != "resolved")
    ):
        a.status, a.resolved_at, a.resolved_by, a.updated_at = "resolved", now, "system", now
        s.add(AlertEvent(alert_id=a.id, at=now, event="superseded", detail={}))
        out.append(change_of(a, "resolved", False, []))
    return out


def _ts(t: int | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _new_alert(
    key: str, top: Firing, rids: list[str], eff: list[int], teams: Mapping[str, str], now: datetime
) -> Alert:
    rule = RULES[top.rule_id]
    return Alert(
        person_id=top.person_id,
        care_team=teams.get(top.person_id, ""),
        rule_id=top.rule_id,
        rule_version=rule.version,
        severity=top.severity,
        status="open",
        dedup_key=key,
        created_at=now,
        updated_at=now,
        last_fired_at=now,
        fire_count=max(len(rids), 1),
        first_effective_at=_ts(min(eff)) if eff else None,
        last_effective_at=_ts(max(eff)) if eff else None,
        reading_ids=rids[-MAX_REFS:],
        detail=top.detail,
        source=rule.source,
    )


def _refire(
    s: Session, alert: Alert, top: Firing, rids: list[str], eff: list[int], now: datetime
) -> AlertChange | None:
    known = set(alert.reading_ids or [])
    fresh = [r for r in rids if r not in known]
    if rids and not fresh:
        return None  # re-evaluation of readings already counted
    alert.reading_ids = [*list(alert.reading_ids or []), *fresh][-MAX_REFS:]
    alert.fire_count += max(len(fresh), 1)
    alert.last_fired_at = now
    alert.updated_at = now
    if eff:
        last = _ts(max(eff))
        if alert.last_effective_at is None or (last and last > alert.last_effective_at):
            alert.last_effective_at = last
    if SEVERITY_RANK[top.severity] > SEVERITY_RANK[alert.severity]:
        old = alert.severity
        alert.severity = top.severity
        alert.detail = top.detail
        alert.snoozed_until = None
        alert.status = "open"
        s.add(AlertEvent(alert_id=alert.id, at=now, event="escalated",
                         detail={"from": old, "to": top.severity}))  # fmt: skip
        return change_of(alert, "escalated", True, fresh)
    if alert.snoozed_until is not None and alert.snoozed_until <= now:
        alert.snoozed_until = None
        s.add(AlertEvent(alert_id=alert.id, at=now, event="resurfaced", detail={}))
        return change_of(alert, "resurfaced", alert.status == "open", fresh)
    return change_of(alert, "refired", False, fresh)


def change_of(alert: Alert, change: str, notify: bool, rids: list[str]) -> AlertChange:
    return AlertChange(
        alert_id=alert.id,
        person_id=alert.person_id,
        care_team=alert.care_team,
        rule_id=alert.rule_id,
        severity=alert.severity,
        change=change,
        notify=notify,
        reading_ids=list(rids),
        detail=dict(alert.detail or {}),
    )
