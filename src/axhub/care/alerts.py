"""Alert life cycle for care workers and agents: worklist, acknowledge, snooze, resolve.

Snoozing has safety floors (reference §2.7 item 4; Nightguard#66 "mandatory alarm at LOW"):

- ``urgent`` and ``emergency`` alerts can never be snoozed; the refusal is recorded in the
  alert's trail and raised as ``PolicyDenied``;
- ``warning`` alerts snooze for at most 12 hours (xDrip PR #2406: 12 h night snooze for
  followers), ``info`` alerts for at most 72 hours (DESIGN);
- a snooze covers one alert (one person and rule): snoozing a high never hides a low;
- a snoozed alert that escalates to a higher severity is un-snoozed at once (monitoring).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select

from axhub.care.models import Alert, AlertEvent, utcnow
from axhub.care.rules import RULES, SEVERITY_RANK
from axhub.care.store import CareStore
from axhub.errors import InputError, NotFoundError, PolicyDenied

#: longest snooze per severity; absent = never snoozable
MAX_SNOOZE: dict[str, timedelta] = {
    "info": timedelta(hours=72),
    "warning": timedelta(hours=12),
}


@dataclass(frozen=True)
class AlertView:
    id: int
    person_id: str
    care_team: str
    rule_id: str
    title_en: str
    title_ko: str
    severity: str
    status: str
    snoozed_until: datetime | None
    created_at: datetime
    last_fired_at: datetime
    fire_count: int
    reading_ids: tuple[str, ...]
    detail: dict[str, Any]
    source: str

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("snoozed_until", "created_at", "last_fired_at"):
            d[k] = d[k].isoformat() if d[k] is not None else None
        d["reading_ids"] = list(self.reading_ids)
        return d


def _view(a: Alert) -> AlertView:
    rule = RULES[a.rule_id]
    return AlertView(
        a.id, a.person_id, a.care_team, a.rule_id, rule.title_en, rule.title_ko, a.severity,
        a.status, a.snoozed_until, a.created_at, a.last_fired_at, a.fire_count,
        tuple(a.reading_ids or ()), dict(a.detail or {}), a.source,
    )  # fmt: skip


def worklist(
    store: CareStore,
    *,
    care_team: str | None = None,
    person_id: str | None = None,
    now: datetime | None = None,
    include_snoozed: bool = False,
    include_resolved: bool = False,
    limit: int = 500,
) -> list[AlertView]:
    """Alerts most severe first, then oldest first; snoozed ones hidden until they wake."""
    now = now or utcnow()
    rank = case({k: v for k, v in SEVERITY_RANK.items()}, value=Alert.severity, else_=0)
    q = select(Alert)
    if not include_resolved:
        q = q.where(Alert.status != "resolved")
    if care_team is not None:
        q = q.where(Alert.care_team == care_team)
    if person_id is not None:
        q = q.where(Alert.person_id == person_id)
    if not include_snoozed:
        q = q.where((Alert.snoozed_until.is_(None)) | (Alert.snoozed_until <= now))
    q = q.order_by(rank.desc(), Alert.created_at, Alert.id).limit(limit)
    with store.session() as s:
        return [_view(a) for a in s.scalars(q)]


def get(store: CareStore, alert_id: int) -> AlertView:
    with store.session() as s:
        return _view(_load(s, alert_id))


def _load(s: Any, alert_id: int) -> Alert:
    a = s.get(Alert, alert_id)
    if a is None:
        raise NotFoundError("no such alert", alert_id=alert_id)
    return a


def acknowledge(
    store: CareStore, alert_id: int, *, by: str, now: datetime | None = None
) -> AlertView:
    now = now or utcnow()
    with store.session() as s:
        a = _load(s, alert_id)
        if a.status == "resolved":
            raise InputError("alert is already resolved", field="alert_id", reason=str(alert_id))
        a.status, a.acknowledged_by, a.acknowledged_at, a.updated_at = "acknowledged", by, now, now
        s.add(AlertEvent(alert_id=a.id, at=now, event="acknowledged", actor=by))
        return _view(a)


def snooze(
    store: CareStore,
    alert_id: int,
    *,
    minutes: float,
    by: str,
    reason: str = "",
    now: datetime | None = None,
) -> AlertView:
    """Snooze within the safety floors; urgent and emergency alerts are refused."""
    now = now or utcnow()
    if minutes <= 0:
        raise InputError("snooze minutes must be positive", field="minutes")
    refusal: str | None = None
    with store.session() as s:
        a = _load(s, alert_id)
        limit = MAX_SNOOZE.get(a.severity)
        if a.status == "resolved":
            raise InputError("alert is already resolved", field="alert_id", reason=str(alert_id))
        if limit is None:
            refusal = f"{a.severity} alerts can never be snoozed"
        elif timedelta(minutes=minutes) > limit:
            refusal = (
                f"{a.severity} alerts snooze for at most {limit.total_seconds() / 3600:g} h "
                f"(asked {minutes:g} min)"
            )
        if refusal is not None:
            s.add(AlertEvent(alert_id=a.id, at=now, event="snooze_refused", actor=by,
                             detail={"minutes": minutes, "reason": refusal}))  # fmt: skip
        else:
            a.snoozed_until = now + timedelta(minutes=minutes)
            a.updated_at = now
            s.add(AlertEvent(alert_id=a.id, at=now, event="snoozed", actor=by,
                             detail={"minutes": minutes, "reason": reason}))  # fmt: skip
            return _view(a)
    raise PolicyDenied(
        "snooze refused by the safety floor", decision=refusal, alert_id=alert_id, reason=refusal
    )


def resolve(
    store: CareStore, alert_id: int, *, by: str, reason: str = "", now: datetime | None = None
) -> AlertView:
    now = now or utcnow()
    with store.session() as s:
        a = _load(s, alert_id)
        if a.status != "resolved":
            a.status, a.resolved_by, a.resolved_at, a.updated_at = "resolved", by, now, now
            s.add(AlertEvent(alert_id=a.id, at=now, event="resolved", actor=by,
                             detail={"reason": reason}))  # fmt: skip
        return _view(a)


def events(store: CareStore, alert_id: int) -> list[dict[str, Any]]:
    """The alert's life-cycle trail, oldest first."""
    with store.session() as s:
        _load(s, alert_id)
        q = select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
        return [
            {"at": e.at.isoformat(), "event": e.event, "actor": e.actor, "detail": e.detail}
            for e in s.scalars(q)
        ]
