"""Device message formats: FHIR R4 Observation / Bundle and the axhub reading JSON.

Parsing turns one message into readings or a ``Rejected`` naming the field path and the
reason; it never touches the store.  The axhub reading JSON (one object, or a JSON array of
them, per message)::

    {"reading_id": "dev-42/2026-11-26T07:00:00+09:00/bp", "person_id": "p-0001",
     "kind": "bp", "value": 142, "value2": 91, "unit": "mmHg",
     "effective_at": "2026-11-26T07:00:00+09:00", "device_id": "dev-42",
     "context": {"symptoms": [], "on_oxygen": false}}

``kind`` is one of ``units.KINDS``; BP carries systolic in ``value``, diastolic in
``value2``; consciousness carries an ACVPU letter in ``value``.  FHIR Observations follow
the core vital-signs profiles (LOINC code, UCUM unit) as the HL7 PHD IG uploads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from axhub.care import units

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


def bundle_observations(bundle: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """The Observations of a Bundle, each with its entry number.

    Transaction Bundles (PHD IG uploads) may point at the Patient entry by its ``urn:uuid``
    fullUrl; such a subject is rewritten to the entry's ``Type/id``.
    """
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict)]
    local = {
        e["fullUrl"]: f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}"
        for e in entries
        if isinstance(e.get("fullUrl"), str)
        and isinstance(e.get("resource"), dict)
        and e["resource"].get("id")
    }
    out: list[tuple[int, dict[str, Any]]] = []
    for j, entry in enumerate(entries):
        res = entry.get("resource")
        if not (isinstance(res, dict) and res.get("resourceType") == "Observation"):
            continue
        ref = (res.get("subject") or {}).get("reference")
        if isinstance(ref, str) and ref in local:
            res = {**res, "subject": {"reference": local[ref]}}
        out.append((j, res))
    return out


def expand(payload: object, idx: int) -> tuple[list[ParsedReading], list[Rejected]]:
    """Readings in one item; a Bundle's bad entries are rejected one by one, not the Bundle."""
    if isinstance(payload, dict) and payload.get("resourceType") == "Bundle":
        out: list[ParsedReading] = []
        bad: list[Rejected] = []
        for j, res in bundle_observations(payload):
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


def raw_text(msg: object) -> str:
    """The message as text for the quarantine (whatever it is)."""
    if isinstance(msg, bytes):
        return msg.decode("utf-8", "replace")
    if isinstance(msg, str):
        return msg
    try:
        return orjson.dumps(msg).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(msg)[:100_000]
