"""Builders for reading messages used by the care tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .conftest import NOON_KST

_counter = iter(range(10**9))


def reading(
    kind: str,
    value: Any,
    *,
    person: str = "p-1",
    unit: str | None = None,
    value2: float | None = None,
    at: datetime | None = None,
    minutes: float = 0,
    rid: str | None = None,
    **context: Any,
) -> dict[str, Any]:
    """One axhub reading JSON object (``minutes`` shifts the time from ``at``/NOON_KST)."""
    when = (at or NOON_KST) + timedelta(minutes=minutes)
    msg: dict[str, Any] = {
        "reading_id": rid or f"r-{next(_counter)}",
        "person_id": person,
        "kind": kind,
        "value": value,
        "effective_at": when.isoformat(),
    }
    if unit is not None:
        msg["unit"] = unit
    if value2 is not None:
        msg["value2"] = value2
    if context:
        msg["context"] = context
    return msg


def observation(
    code: str,
    value: float,
    unit: str,
    *,
    person: str = "p-1",
    ident: str = "obs-1",
    at: datetime | None = None,
) -> dict[str, Any]:
    """A FHIR R4 Observation with one valueQuantity (PHD-style)."""
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:axhub:device:test", "value": ident}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{person}"},
        "effectiveDateTime": (at or NOON_KST).isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }  # fmt: skip


def bp_observation(
    sys_: float, dia: float, *, person: str = "p-1", ident: str = "bp-1", hr: float | None = None
) -> dict[str, Any]:
    comps = [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": sys_, "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": dia, "code": "mm[Hg]"}},
    ]  # fmt: skip
    if hr is not None:
        comps.append(
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
             "valueQuantity": {"value": hr, "code": "/min"}}
        )  # fmt: skip
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:axhub:device:test", "value": ident}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": f"Patient/{person}"},
        "effectiveDateTime": NOON_KST.isoformat(),
        "component": comps,
    }
