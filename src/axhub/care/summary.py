"""A person's recent home readings in one object: the agents' "patient summary" tool.

Per kind over the last ``days``: number of plausible readings, last value and time, mean,
min and max (one SQL aggregate), plus implausible readings kept aside and the open alerts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from axhub.care import alerts
from axhub.care.models import Reading, utcnow
from axhub.care.store import CareStore


@dataclass(frozen=True)
class KindSummary:
    kind: str
    unit: str
    readings: int
    implausible: int
    mean: float | None
    low: float | None
    high: float | None
    last: float | None
    last2: float | None
    last_at: str | None


def person_summary(
    store: CareStore, person_id: str, *, days: int = 7, now: datetime | None = None
) -> dict[str, Any]:
    """Summary of one person's readings and open alerts (no names: pseudonymous id only)."""
    now = now or utcnow()
    enrolment = store.enrolment(person_id)
    lo = int((now - timedelta(days=days)).timestamp())
    hi = int(now.timestamp())
    window = and_(Reading.person_id == person_id, Reading.effective_s.between(lo, hi))
    ok = Reading.implausible.is_(False)
    agg = (
        select(
            Reading.kind,
            Reading.norm_unit,
            func.count().filter(ok),
            func.count().filter(Reading.implausible.is_(True)),
            func.avg(Reading.norm_value).filter(ok),
            func.min(Reading.norm_value).filter(ok),
            func.max(Reading.norm_value).filter(ok),
            func.max(Reading.effective_s).filter(ok),
        )
        .where(window)
        .group_by(Reading.kind, Reading.norm_unit)
        .order_by(Reading.kind)
    )
    kinds: list[KindSummary] = []
    with store.session() as s:
        for kind, unit, n, n_bad, mean, low, high, last_s in s.execute(agg).all():
            last = last2 = None
            if last_s is not None:
                last, last2 = s.execute(
                    select(Reading.norm_value, Reading.norm_value2)
                    .where(window, ok, Reading.kind == kind, Reading.effective_s == last_s)
                    .limit(1)
                ).one()
            kinds.append(
                KindSummary(
                    kind, unit, int(n), int(n_bad),
                    None if mean is None else round(float(mean), 1), low, high, last, last2,
                    None if last_s is None else datetime.fromtimestamp(last_s, UTC).isoformat(),
                )
            )  # fmt: skip
    open_alerts = alerts.worklist(store, person_id=person_id, now=now, include_snoozed=True)
    return {
        "person_id": person_id,
        "care_team": enrolment.care_team,
        "conditions": list(enrolment.conditions),
        "days": days,
        "kinds": [asdict(k) for k in kinds],
        "open_alerts": [
            {
                "id": a.id,
                "rule_id": a.rule_id,
                "severity": a.severity,
                "title_en": a.title_en,
                "title_ko": a.title_ko,
                "status": a.status,
                "fire_count": a.fire_count,
            }
            for a in open_alerts
        ],
    }
