"""Local safety rules: the hub's single-reading rules, run on the home gateway offline.

The lines come from :mod:`axhub.care.thresholds` (``FIXED`` and the person's validated
personal values), the rule ids, severities and titles from :mod:`axhub.edge.table`; the
semantics follow ``axhub.care.rules`` rule for rule, and a test runs both over the same
readings and compares the firings.  A home has a handful of devices sending a reading every
few minutes, so this evaluates one reading at a time; the hub's vectorised rules stay the
population path.  Rules that need days of history (7-day home BP, 3-day weight, SpO2 fall
from usual, frail-fever rise, NEWS2, missing data) run only at the hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from axhub.care import thresholds
from axhub.care.thresholds import FIXED
from axhub.edge.table import (
    ALTERED_STATUS,
    EDGE_RULES,
    NIGHT_HOURS,
    RED_FLAG_SYMPTOMS,
    TARGET_ORGAN_SYMPTOMS,
)

DEFAULT_TIMEZONE = "Asia/Seoul"


@dataclass(frozen=True)
class LocalPerson:
    """What the gateway knows of an enrolled person: personal lines, conditions, zone."""

    thresholds: Mapping[str, float]
    conditions: frozenset[str] = frozenset()
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_config(
        cls,
        personal: Mapping[str, object] | None = None,
        conditions: list[str] | tuple[str, ...] = (),
        timezone: str = DEFAULT_TIMEZONE,
    ) -> LocalPerson:
        """Validated like the hub validates an enrolment (same safety limits)."""
        conds = thresholds.validate_conditions(conditions)
        valid = thresholds.validate(personal or {}, conds)
        ZoneInfo(timezone)  # raises for an unknown zone
        return cls(thresholds.effective(valid, conds), frozenset(conds), timezone)


DEFAULT_PERSON = LocalPerson(thresholds.defaults())


@dataclass(frozen=True)
class LocalReading:
    """One normalised, plausible reading (value units as ``axhub.care.units.NORMAL_UNIT``)."""

    reading_id: str
    person_id: str
    kind: str
    value: float
    value2: float | None
    t: int  # effective time, UTC epoch seconds
    on_oxygen: bool = False
    symptoms: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Finding:
    reading_id: str
    person_id: str
    rule_id: str
    severity: str


def bp_severe(sys_: float, dia: float | None) -> bool:
    """Severe hypertension line, > 180 and/or > 120 mmHg (ACCAHA2025)."""
    return sys_ > FIXED["bp_severe_sys"].value or (
        dia is not None and dia > FIXED["bp_severe_dia"].value
    )


def evaluate(
    r: LocalReading, person: LocalPerson, *, severe_bp_in_window: int = 1
) -> list[Finding]:
    """Firings of the edge rules for one reading.

    ``severe_bp_in_window`` counts the person's plausible severe BP readings within
    ``bp_confirm_minutes`` before or after this one, this one included (the hub's
    confirmation by a repeat measurement, REF_3).
    """
    out: list[Finding] = []

    def fire(rule_id: str, severity: str | None = None) -> None:
        out.append(Finding(r.reading_id, r.person_id, rule_id,
                           severity or EDGE_RULES[rule_id].severity))  # fmt: skip

    th, sym, v = person.thresholds, r.symptoms, r.value
    if sym & RED_FLAG_SYMPTOMS:
        fire("symptoms.red_flag")
    if r.kind == "bp":
        if bp_severe(v, r.value2):
            if sym & TARGET_ORGAN_SYMPTOMS:
                fire("bp.emergency")
            elif severe_bp_in_window >= 2:
                fire("bp.severe")
            else:
                fire("bp.severe_unconfirmed")
        if v >= FIXED["bp_extreme_sys"].value:
            fire("bp.extreme")
        if v <= th["bp_low_sys"]:
            fire("bp.low", "urgent" if v <= 90 else "warning")  # NEWS2 SBP <= 90 scores 3
    elif r.kind == "glucose":
        altered = bool(sym & ALTERED_STATUS)
        if v < th["glucose_low"]:
            if altered:
                fire("glucose.hypo_l3")
            elif v < FIXED["glucose_level2"].value:
                fire("glucose.hypo_l2")
            else:
                fire("glucose.hypo_l1", "urgent" if _night(r.t, person.timezone) else "warning")
        if v > FIXED["glucose_hhs"].value:
            fire("glucose.hhs", "emergency" if altered else "urgent")
    elif r.kind == "spo2":
        copd = "copd" in person.conditions
        if copd:
            if v < FIXED["spo2_copd_target_low"].value:
                fire("spo2.low", "urgent" if v <= FIXED["spo2_copd_red"].value else "warning")
            elif r.on_oxygen and v >= FIXED["spo2_copd_high_on_o2"].value:
                fire("spo2.high_on_oxygen")
        elif v <= th["spo2_warn"]:
            fire("spo2.low", "urgent" if v <= FIXED["spo2_urgent"].value else "warning")
    elif r.kind == "temperature":
        if v <= FIXED["temp_low"].value:
            fire("temp.low")
    elif r.kind == "heart_rate":
        if v <= FIXED["hr_low"].value or v >= FIXED["hr_high"].value:
            fire("hr.extreme")
    elif r.kind == "resp_rate":
        if v <= FIXED["rr_low"].value or v >= FIXED["rr_high"].value:
            fire("rr.extreme")
    elif r.kind == "consciousness" and v >= 1:
        fire("consciousness.cvpu")
    return out


def _night(t: int, tz: str) -> bool:
    hour = datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(tz)).hour
    return NIGHT_HOURS[0] <= hour < NIGHT_HOURS[1]
