"""Device intake: FHIR Observation (HTTP) and axhub reading JSON (MQTT) into the store.

Delivery is at-least-once upstream; here every reading is keyed by its reading id
(``INSERT ... ON CONFLICT (reading_id) DO NOTHING``): a redelivered reading is counted as a
duplicate and changes nothing, a reused id with different content is quarantined.  Late and
out-of-order readings are stored by their effective time and the window rules look at
effective time, so they land where they belong.  Anything that cannot be a reading goes to
the quarantine table with the reason and the raw message: nothing is lost.

The axhub reading JSON (one object, or a JSON array of them, per message)::

    {"reading_id": "dev-42/2026-11-26T07:00:00+09:00/bp", "person_id": "p-0001",
     "kind": "bp", "value": 142, "value2": 91, "unit": "mmHg",
     "effective_at": "2026-11-26T07:00:00+09:00", "device_id": "dev-42",
     "context": {"symptoms": ["headache"], "on_oxygen": false}}

``kind`` is one of ``units.KINDS``; BP carries systolic in ``value``, diastolic in
``value2``; consciousness carries an ACVPU letter in ``value``.
"""

from __future__ import annotations

import hashlib
import logging
import math
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
from axhub.care.models import Enrolment, QuarantinedMessage, Reading, utcnow
from axhub.care.rules import symptom_mask
from axhub.care.store import CareStore, one_of

log = logging.getLogger(__name__)

LOINC = "http://loinc.org"
#: LOINC codes accepted per kind (core vital-signs profiles; reference §2.6)
LOINC_KIND: dict[str, str] = {
    "85354-9": "bp",  # Blood pressure panel with all children optional
    "55284-4": "bp",  # Blood pressure systolic and diastolic
    "8867-4": "heart_rate",
    "59408-5": "spo2",  # Oxygen saturation in Arterial blood by Pulse oximetry
    "2708-6": "spo2",  # Oxygen saturation in Arterial blood
    "9279-1": "resp_rate",
    "8310-5": "temperature",  # Body temperature
    "8331-1": "temperature",  # Oral temperature
    "29463-7": "weight",  # Body weight
    "3141-9": "weight",  # Body weight Measured
    "41653-7": "glucose",  # Glucose [Mass/volume] in Capillary blood by Glucometer
    "14743-9": "glucose",  # Glucose [Moles/volume] in Capillary blood by Glucometer
    "2339-0": "glucose",  # Glucose [Mass/volume] in Blood
    "15074-8": "glucose",  # Glucose [Moles/volume] in Blood
    "2345-7": "glucose",  # Glucose [Mass/volume] in Serum or Plasma
    "41950-7": "steps",  # Number of steps in 24 hour Measured
}
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
INHALED_O2 = ("3151-8", "3150-0")  # inhaled oxygen flow rate / concentration
#: clock-skew tolerance before an effective time counts as "in the future" (DESIGN)
FUTURE_SKEW = timedelta(minutes=5)


class Rejected(Exception):
    """A message that cannot be a reading: reason and field path go to quarantine."""

    def __init__(self, reason: str, field: str | None = None, reading_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.reading_id = reading_id


@dataclass
class ParsedReading:
    reading_id: str
    person_id: str
    kind: str
    value: float
    value2: float | None
    unit: str
    effective_at: datetime
    device_id: str | None
    context: dict[str, Any]
    raw_index: int
    content_hash: str = ""


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


# --- parsing ------------------------------------------------------------------------------
def _time(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise Rejected("time missing or not a string", path)
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(f"not an ISO 8601 time: {value[:40]!r}", path) from None
    if t.tzinfo is None:
        raise Rejected("time has no zone offset (FHIR requires one with a time)", path)
    return t


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected("value missing or not a number", path)
    if not math.isfinite(value):
        raise Rejected("value is not finite", path)
    return float(value)


def _text(value: object, path: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Rejected("missing or empty", path)
    if len(value) > limit:
        raise Rejected(f"longer than {limit} characters", path)
    return value.strip()


def parse_reading(obj: dict[str, Any], idx: int) -> ParsedReading:
    """One axhub reading JSON object."""
    rid = obj.get("reading_id")
    rid_s = rid if isinstance(rid, str) else None
    try:
        reading_id = _text(rid, "reading_id", 200)
        person = _text(obj.get("person_id"), "person_id", 64)
        kind = obj.get("kind")
        if kind not in units.KINDS:
            raise Rejected(f"unknown kind {kind!r} (known: {', '.join(units.KINDS)})", "kind")
        unit = obj.get("unit") or units.NORMAL_UNIT[kind]
        if not isinstance(unit, str) or not units.unit_known(kind, unit):
            raise Rejected(
                f"unit {unit!r} not accepted for {kind} "
                f"(accepted: {', '.join(units.accepted_units(kind))})",
                "unit",
            )
        raw_v = obj.get("value")
        if kind == "consciousness":
            if raw_v not in units.ACVPU:
                raise Rejected("consciousness value must be one of A, C, V, P, U", "value")
            value = units.ACVPU[str(raw_v)]
        else:
            value = _number(raw_v, "value")
        value2 = None
        if kind == "bp" and obj.get("value2") is not None:
            value2 = _number(obj.get("value2"), "value2")
        ctx = obj.get("context") or {}
        if not isinstance(ctx, dict):
            raise Rejected("context must be an object", "context")
        try:  # plain JSON only (NaN becomes null), so every backend stores it alike
            ctx = orjson.loads(orjson.dumps(ctx))
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise Rejected(f"context is not plain JSON: {exc}", "context") from None
        dev = obj.get("device_id")
        return ParsedReading(
            reading_id,
            person,
            kind,
            value,
            value2,
            unit,
            _time(obj.get("effective_at"), "effective_at"),
            str(dev)[:120] if dev is not None else None,
            ctx,
            idx,
        )
    except Rejected as exc:
        exc.reading_id = exc.reading_id or rid_s
        raise


def _coding_codes(concept: object) -> list[str]:
    if not isinstance(concept, dict):
        return []
    out = []
    for c in concept.get("coding") or []:
        if isinstance(c, dict) and c.get("system") == LOINC and isinstance(c.get("code"), str):
            out.append(c["code"])
    return out


def _quantity(q: object, path: str) -> tuple[float, str]:
    if not isinstance(q, dict):
        raise Rejected("valueQuantity missing", path)
    value = _number(q.get("value"), f"{path}.value")
    unit = q.get("code") or q.get("unit")
    if not isinstance(unit, str):
        raise Rejected("quantity has no unit", f"{path}.code")
    return value, unit


def parse_observation(obs: dict[str, Any], idx: int) -> list[ParsedReading]:
    """One FHIR R4 Observation (PHD-style vital sign) -> one or two readings."""
    if obs.get("resourceType") != "Observation":
        raise Rejected(
            f"resourceType {obs.get('resourceType')!r} is not Observation", "resourceType"
        )
    ident = obs.get("identifier")
    rid: str | None = None
    if isinstance(ident, list) and ident and isinstance(ident[0], dict) and ident[0].get("value"):
        sys_ = ident[0].get("system") or ""
        rid = f"{sys_}|{ident[0]['value']}" if sys_ else str(ident[0]["value"])
    elif isinstance(obs.get("id"), str):
        rid = f"Observation/{obs['id']}"
    if not rid:
        raise Rejected("no identifier or id: the reading cannot be de-duplicated", "identifier")
    if len(rid) > 190:
        raise Rejected("identifier longer than 190 characters", "identifier[0].value", rid[:190])
    try:
        status = obs.get("status")
        if status in ("entered-in-error", "cancelled"):
            raise Rejected(f"status {status!r}: not a reading", "status")
        ref = (obs.get("subject") or {}).get("reference")
        if not isinstance(ref, str) or not ref.startswith("Patient/") or len(ref) <= 8:
            raise Rejected("subject must reference Patient/<pseudonymous id>", "subject.reference")
        person = ref.split("/", 1)[1]
        codes = _coding_codes(obs.get("code"))
        kinds = [LOINC_KIND[c] for c in codes if c in LOINC_KIND]
        if not kinds:
            raise Rejected(f"no supported LOINC code in code.coding (got {codes})", "code.coding")
        kind = kinds[0]
        eff = obs.get("effectiveDateTime") or obs.get("effectiveInstant")
        eff_path = "effectiveDateTime"
        if eff is None and isinstance(obs.get("effectivePeriod"), dict):
            eff, eff_path = obs["effectivePeriod"].get("start"), "effectivePeriod.start"
        effective = _time(eff, eff_path)
        dev = obs.get("device") or {}
        device_id = dev.get("reference") or dev.get("display") if isinstance(dev, dict) else None
        comps: dict[str, tuple[float, str, int]] = {}
        for j, comp in enumerate(obs.get("component") or []):
            for code in _coding_codes(comp.get("code") if isinstance(comp, dict) else None):
                if isinstance(comp.get("valueQuantity"), dict):
                    v, u = _quantity(comp["valueQuantity"], f"component[{j}].valueQuantity")
                    comps[code] = (v, u, j)
        ctx: dict[str, Any] = {}
        if any(comps.get(c, (0.0, "", 0))[0] > 0 for c in INHALED_O2):
            ctx["on_oxygen"] = True
        out: list[ParsedReading] = []
        if kind == "bp":
            if SYSTOLIC not in comps:
                raise Rejected("BP panel without a systolic component (8480-6)", "component")
            sv, su, _ = comps[SYSTOLIC]
            dv = comps.get(DIASTOLIC, (None, su, 0))[0]
            unit = su
            if not units.unit_known("bp", unit):
                raise Rejected(f"unit {unit!r} not accepted for bp", "component.valueQuantity.code")
            out.append(
                ParsedReading(rid, person, "bp", sv, dv, unit, effective, device_id, ctx, idx)
            )
            if "8867-4" in comps:
                hv, hu, _ = comps["8867-4"]
                if units.unit_known("heart_rate", hu):
                    out.append(
                        ParsedReading(
                            rid + "#hr", person, "heart_rate", hv, None, hu, effective,
                            device_id, {}, idx,
                        )
                    )  # fmt: skip
            return out
        value, unit = _quantity(obs.get("valueQuantity"), "valueQuantity")
        if not units.unit_known(kind, unit):
            raise Rejected(
                f"unit {unit!r} not accepted for {kind} "
                f"(accepted: {', '.join(units.accepted_units(kind))})",
                "valueQuantity.code",
            )
        out.append(
            ParsedReading(rid, person, kind, value, None, unit, effective, device_id, ctx, idx)
        )
        return out
    except Rejected as exc:
        exc.reading_id = exc.reading_id or rid
        raise


def _expand(payload: object, idx: int) -> tuple[list[ParsedReading], list[Rejected]]:
    """Readings in one item; a Bundle's bad entries are rejected one by one, not the Bundle."""
    if isinstance(payload, dict) and payload.get("resourceType") == "Bundle":
        entries = [e for e in payload.get("entry") or [] if isinstance(e, dict)]
        # transaction Bundles (PHD IG uploads) may point at the Patient entry by urn:uuid
        local = {
            e["fullUrl"]: f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}"
            for e in entries
            if isinstance(e.get("fullUrl"), str)
            and isinstance(e.get("resource"), dict)
            and e["resource"].get("id")
        }
        out: list[ParsedReading] = []
        bad: list[Rejected] = []
        for j, entry in enumerate(entries):
            res = entry.get("resource")
            if not (isinstance(res, dict) and res.get("resourceType") == "Observation"):
                continue
            ref = (res.get("subject") or {}).get("reference")
            if isinstance(ref, str) and ref in local:
                res = {**res, "subject": {"reference": local[ref]}}
            try:
                out.extend(parse_observation(res, idx))
            except Rejected as exc:
                exc.field = f"entry[{j}].resource.{exc.field}" if exc.field else f"entry[{j}]"
                bad.append(exc)
        if not out and not bad:
            raise Rejected("Bundle holds no Observation", "entry")
        return out, bad
    if isinstance(payload, dict) and "resourceType" in payload:
        return parse_observation(payload, idx), []
    if isinstance(payload, dict):
        return [parse_reading(payload, idx)], []
    raise Rejected("message is neither a JSON object nor an array of objects", None)


def _raw_text(msg: object) -> str:
    """The message as text for the quarantine (whatever it is)."""
    if isinstance(msg, bytes):
        return msg.decode("utf-8", "replace")
    if isinstance(msg, str):
        return msg
    try:
        return orjson.dumps(msg).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(msg)[:100_000]


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
        raws.append(_raw_text(msg))
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
                got, rejected = _expand(item, i)
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
                                 raw=_raw_text(raw)))  # fmt: skip


def quarantine_count(store: CareStore) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(QuarantinedMessage)) or 0)
