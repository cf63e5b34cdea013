"""Device intake: FHIR Observation (HTTP) and axhub reading JSON (MQTT) into the store.

Delivery is at-least-once upstream; here every reading is keyed by its reading id
(``INSERT ... ON CONFLICT (reading_id) DO NOTHING``): a redelivered reading is counted as a
duplicate and changes nothing, a reused id with different content is quarantined.  Late and
out-of-order readings are stored by their effective time and the window rules look at
effective time, so they land where they belong.  Anything that cannot be a reading goes to
the quarantine table with the reason and the raw message: nothing is lost.

The message formats are parsed in ``messages.py``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from axhub.care import monitoring, units
from axhub.care.messages import ParsedReading, Rejected, expand, raw_text
from axhub.care.models import Enrolment, QuarantinedMessage, Reading, utcnow
from axhub.care.rules import symptom_mask
from axhub.care.store import CareStore, one_of

log = logging.getLogger(__name__)

#: clock-skew tolerance before an effective time counts as "in the future" (DESIGN)
FUTURE_SKEW = timedelta(minutes=5)


@dataclass
class IntakeResult:
    """What one batch did; ``alerts`` are the alert changes for the agents and the API."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    implausible: int = 0
    new_reading_ids: list[str] = field(default_factory=list)
    alerts: list[monitoring.AlertChange] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def http_status(self) -> int:
        """201 when something new was stored, 422 when all was quarantined, else 200."""
        if self.stored:
            return 201
        if self.quarantined and not self.duplicates:
            return 422
        return 200

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "implausible": self.implausible,
            "alerts": [a.to_dict() for a in self.alerts],
            "problems": self.problems,
        }


def _hash(r: ParsedReading) -> str:
    canon = orjson.dumps(
        [r.person_id, r.kind, r.value, r.value2, r.unit.lower(),
         int(r.effective_at.timestamp() * 1000), r.device_id, r.context],
        option=orjson.OPT_SORT_KEYS,
    )  # fmt: skip
    return hashlib.sha256(canon).hexdigest()


# --- the batch path -----------------------------------------------------------------------
def ingest_messages(
    store: CareStore,
    messages: Sequence[bytes | str | dict[str, Any] | list[Any]],
    *,
    source: str = "http",
    now: datetime | None = None,
) -> IntakeResult:
    """Parse, de-duplicate, store and evaluate a batch of messages in one transaction."""
    now = now or utcnow()
    res = IntakeResult()
    parsed: list[ParsedReading] = []
    bad: list[tuple[int, Rejected]] = []
    raws: list[str] = []
    for i, msg in enumerate(messages):
        raws.append(raw_text(msg))
        try:
            payload = orjson.loads(msg) if isinstance(msg, bytes | str) else msg
        except orjson.JSONDecodeError as exc:
            bad.append((i, Rejected(f"invalid JSON: {exc}", None)))
            res.received += 1
            continue
        items = payload if isinstance(payload, list) else [payload]
        for j, item in enumerate(items):
            res.received += 1
            try:
                got, rejected = expand(item, i)
                parsed.extend(got)
                bad.extend((i, r) for r in rejected)
            except Rejected as exc:
                if isinstance(payload, list):
                    exc.field = f"[{j}].{exc.field}" if exc.field else f"[{j}]"
                bad.append((i, exc))
            except Exception as exc:  # a message must never block its batch: quarantine it
                where = f"[{j}]" if isinstance(payload, list) else None
                reason = f"unreadable message: {type(exc).__name__}: {exc}"
                bad.append((i, Rejected(reason, where)))
    with store.session() as s:
        rows, dup_bad, in_batch_dups = _dedupe_in_batch(parsed)
        bad.extend(dup_bad)
        rows, not_enrolled = _enrolled_only(s, rows)
        bad.extend(not_enrolled)
        inserted, conflicts = _insert(s, rows, source, now)
        res.stored = len(inserted)
        res.new_reading_ids = [r["reading_id"] for r in inserted]
        res.implausible = sum(1 for r in inserted if r["implausible"])
        res.duplicates = len(rows) - len(inserted) - len(conflicts) + in_batch_dups
        bad.extend(conflicts)
        for i, rej in bad:
            s.add(
                QuarantinedMessage(
                    received_at=now, source=source, reason=rej.reason, field=rej.field,
                    reading_id=rej.reading_id, raw=raws[i],
                )
            )  # fmt: skip
            res.problems.append({"message": i, "reason": rej.reason, "field": rej.field})
        res.quarantined = len(bad)
        plausible = [r for r in inserted if not r["implausible"]]
        if plausible:
            res.alerts = monitoring.evaluate_new(s, plausible, now)
    if res.quarantined:
        log.info("intake: %d message(s) quarantined", res.quarantined)
    return res


def ingest_observation(
    store: CareStore, observation: dict[str, Any] | bytes | str, *, now: datetime | None = None
) -> IntakeResult:
    """The HTTP path: one FHIR Observation (or Bundle, or axhub reading JSON)."""
    return ingest_messages(store, [observation], source="http", now=now)


def _dedupe_in_batch(
    parsed: Sequence[ParsedReading],
) -> tuple[list[ParsedReading], list[tuple[int, Rejected]], int]:
    first: dict[str, tuple[ParsedReading, str]] = {}
    bad: list[tuple[int, Rejected]] = []
    dups = 0
    for r in parsed:
        h = r.content_hash = _hash(r)
        if r.reading_id not in first:
            first[r.reading_id] = (r, h)
        elif first[r.reading_id][1] == h:
            dups += 1
        else:
            bad.append((r.raw_index, Rejected("reading id reused with different content",
                                               "reading_id", r.reading_id)))  # fmt: skip
    return [v[0] for v in first.values()], bad, dups


def _enrolled_only(
    s: Session, rows: list[ParsedReading]
) -> tuple[list[ParsedReading], list[tuple[int, Rejected]]]:
    persons = sorted({r.person_id for r in rows})
    if not persons:
        return rows, []
    known = set(
        s.scalars(
            select(Enrolment.person_id).where(
                one_of(s, Enrolment.person_id, persons), Enrolment.active.is_(True)
            )
        )
    )
    ok = [r for r in rows if r.person_id in known]
    bad = [
        (r.raw_index, Rejected("person not enrolled (or withdrawn)", "person_id", r.reading_id))
        for r in rows
        if r.person_id not in known
    ]
    return ok, bad


def _insert(
    s: Session, rows: list[ParsedReading], source: str, now: datetime
) -> tuple[list[dict[str, Any]], list[tuple[int, Rejected]]]:
    if not rows:
        return [], []
    kinds = [r.kind for r in rows]
    v = np.array([r.value for r in rows], dtype=np.float64)
    v2 = np.array([np.nan if r.value2 is None else r.value2 for r in rows], dtype=np.float64)
    norm = units.normalise(kinds, [r.unit for r in rows], v, v2)
    eff_s = np.array([int(r.effective_at.timestamp()) for r in rows], dtype=np.int64)
    future = eff_s > int((now + FUTURE_SKEW).timestamp())
    values: list[dict[str, Any]] = []
    for i, r in enumerate(rows):
        flags = list(norm.reasons[i])
        if future[i]:
            flags.append("implausible: effective time in the future")
        n2 = norm.value2[i]
        values.append(
            {
                "reading_id": r.reading_id,
                "person_id": r.person_id,
                "kind": r.kind,
                "value": r.value,
                "value2": r.value2,
                "unit": r.unit,
                "norm_value": float(norm.value[i]),
                "norm_value2": None if np.isnan(n2) else float(n2),
                "norm_unit": norm.unit[i],
                "effective_at": r.effective_at,
                "effective_s": int(eff_s[i]),
                "received_at": now,
                "source": source,
                "device_id": r.device_id,
                "implausible": bool(norm.implausible[i] or future[i]),
                "flags": flags,
                "context": r.context,
                "on_oxygen": bool(r.context.get("on_oxygen") is True),
                "content_hash": r.content_hash or _hash(r),
                "_symptoms": symptom_mask(r.context.get("symptoms")),
                "_raw_index": r.raw_index,
            }
        )
    db_rows = [{k: x for k, x in d.items() if not k.startswith("_")} for d in values]
    dialect = s.get_bind().dialect.name
    inserted_ids = _INSERTERS.get(dialect, _insert_values)(s, db_rows)
    inserted = [d for d in values if d["reading_id"] in inserted_ids]
    missed = [d for d in values if d["reading_id"] not in inserted_ids]
    conflicts: list[tuple[int, Rejected]] = []
    if missed:
        stored: dict[str, str] = dict(
            s.execute(
                select(Reading.reading_id, Reading.content_hash).where(
                    one_of(s, Reading.reading_id, [d["reading_id"] for d in missed])
                )
            ).all()
        )
        for d in missed:
            if stored.get(d["reading_id"]) != d["content_hash"]:
                conflicts.append(
                    (d["_raw_index"], Rejected("reading id reused with different content",
                                               "reading_id", d["reading_id"]))
                )  # fmt: skip
    return inserted, conflicts


def _insert_values(s: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (SQLite; any backend)."""
    table = Reading.__table__
    assert isinstance(table, Table)
    ins = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        ins(table)
        .on_conflict_do_nothing(index_elements=["reading_id"])
        .returning(table.c.reading_id)
    )
    out: set[str] = set()
    for start in range(0, len(rows), 500):
        out.update(s.execute(stmt, rows[start : start + 500]).scalars().all())
    return out


#: column -> PostgreSQL array type for the unnest insert
_PG_COLUMNS = {
    "reading_id": "varchar", "person_id": "varchar", "kind": "varchar", "value": "float8",
    "value2": "float8", "unit": "varchar", "norm_value": "float8", "norm_value2": "float8",
    "norm_unit": "varchar", "effective_at": "timestamptz", "effective_s": "int8",
    "received_at": "timestamptz", "source": "varchar", "device_id": "varchar",
    "implausible": "bool", "flags": "jsonb", "context": "jsonb", "on_oxygen": "bool",
    "content_hash": "varchar",
}  # fmt: skip
_PG_INSERT = text(
    f"INSERT INTO readings ({', '.join(_PG_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in _PG_COLUMNS.items())
    + ") ON CONFLICT (reading_id) DO NOTHING RETURNING reading_id"
)


def _pg_element(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        v = v.isoformat()
    elif isinstance(v, dict | list):
        v = orjson.dumps(v).decode()
    elif isinstance(v, float):
        v = repr(v)
    v = str(v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _insert_unnest(s: Session, rows: list[dict[str, Any]]) -> set[str]:
    """PostgreSQL: one array parameter per column through ``unnest`` - a short statement
    whatever the batch size (pg8000 parses parameter markers in Python)."""
    params = {c: "{" + ",".join(_pg_element(r[c]) for r in rows) + "}" for c in _PG_COLUMNS}
    return set(s.execute(_PG_INSERT, params).scalars().all())


_INSERTERS = {"postgresql": _insert_unnest, "sqlite": _insert_values}


def quarantine_raw(store: CareStore, raw: bytes | str, *, source: str, reason: str) -> None:
    """Put one raw message straight into the quarantine (the last resort of the MQTT intake)."""
    with store.session() as s:
        s.add(QuarantinedMessage(received_at=utcnow(), source=source, reason=reason,
                                 raw=raw_text(raw)))  # fmt: skip


def quarantine_count(store: CareStore) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(QuarantinedMessage)) or 0)
