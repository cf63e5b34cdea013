"""Monitoring thresholds as cited data, and validation of personal thresholds.

Every number here names its source (see ``SOURCES``; the reference is
``shared/reference/care-at-home-and-agents.md`` §3, which gathers them).  Numbers marked
``DESIGN`` are operating defaults with no guideline value behind them; the care team can
change them and docs/care.md says so.

Personal thresholds are set by the care team per enrolment.  Each adjustable threshold has
an allowed range; the side of the range that would make an alert *less* sensitive stops at a
safety limit taken from a source (for example the home-BP threshold cannot be raised to or
beyond the severe-hypertension line of 180/120 mmHg).  The urgent lines themselves
(``FIXED``) cannot be changed per person at all.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from axhub.errors import InputError

SOURCES: dict[str, str] = {
    "KSH": "Korean Society of Hypertension guidelines (2018; 2022 focused update): "
    "mean home BP >= 135/85 mmHg",
    "ESH2023": "ESH 2023 hypertension guideline; NICE NG136 (home BP >= 135/85 mmHg)",
    "ACCAHA2025": "2025 AHA/ACC high blood pressure guideline (HBPM >= 130/80; severe "
    "hypertension > 180 and/or > 120 mmHg; emergency with target-organ damage)",
    "NEWS2": "Royal College of Physicians, National Early Warning Score 2 (2017), "
    "parameter bands and Chart 4 clinical response",
    "ADA6": "ADA Standards of Care section 6 and International Hypoglycaemia Study Group 2017: "
    "level 1 < 70 mg/dL (3.9 mmol/L), level 2 < 54 mg/dL (3.0 mmol/L), level 3 = altered "
    "mental/physical status",
    "TIR2019": "Battelino et al., Diabetes Care 2019 (International Time in Range consensus): "
    "level 1 hyperglycaemia > 180 mg/dL, level 2 > 250 mg/dL",
    "ADA_HHS": "ADA hyperglycaemic crises consensus: > 600 mg/dL with dehydration/confusion "
    "suggests HHS",
    "ADA_PATIENT": "ADA patient guidance: check ketones above 240 mg/dL",
    "NIGHTSCOUT": "Nightscout defaults BG_TARGET_BOTTOM 80 mg/dL; caregiver practice that "
    "lows are never silenced (reference §2.4)",
    "BTS2017": "British Thoracic Society oxygen guideline 2017: target 94-98 %, 88-92 % if at "
    "risk of hypercapnic failure; review on a fall >= 3 % from usual or below target",
    "NHS_OXIMETRY": "NHS England COVID Oximetry @home: 93-94 % same-day clinical advice, "
    "<= 92 % urgent",
    "ESC_HFA2021": "ESC/HFA self-care (Jaarsma et al., EJHF 2021); ESC HF guideline: weight "
    "gain > 2 kg in 3 days -> contact the HF team",
    "AHA_HF_PATIENT": "AHA/HFSA patient materials: > 2-3 lb (about 1-1.4 kg) in a day",
    "IDSA2008": "IDSA 2008 fever in older adults in long-term care: single oral > 37.8 C, "
    "repeated oral > 37.2 C, or a rise > 1.1 C over baseline",
    "REF_3": "reference §3 general note: home readings are noisy; confirm by a repeat "
    "measurement before urgent escalation unless symptoms are present",
    "REF_2_7": "reference §2.7 (missing-data alerts, the most requested caregiver alarm; "
    "acknowledge/snooze with safety floors) and §3.7 (missed doses: one -> reminder, two "
    "consecutive -> care-worker task)",
    "DESIGN": "axhub design default (no guideline value); set by the care team",
}

#: condition flags an enrolment may carry
CONDITIONS: dict[str, str] = {
    "copd": "COPD or other risk of hypercapnic failure with a prescribed 88-92 % SpO2 target "
    "(BTS 2017); switches SpO2 rules and NEWS2 to Scale 2",
    "hf": "heart failure: daily weights, the 3-day weight-gain rule applies",
    "diabetes": "diabetes: glucose readings expected",
    "frail": "frail older adult: IDSA 2008 fever criteria apply",
    "hypertension": "hypertension: home BP readings expected",
    "af": "atrial fibrillation",
}

#: reading kinds a schedule may name
SCHEDULE_KINDS = ("bp", "glucose", "spo2", "weight", "temperature", "heart_rate", "resp_rate")


@dataclass(frozen=True)
class ThresholdSpec:
    """One adjustable threshold: default, allowed personal range, meaning and source."""

    key: str
    default: float
    lower: float
    upper: float
    unit: str
    meaning: str
    source: str
    limit_source: str


SPECS: dict[str, ThresholdSpec] = {
    s.key: s
    for s in (
        ThresholdSpec(
            "bp_home_sys", 135, 130, 179, "mmHg",
            "7-day mean home systolic at or above this -> uncontrolled home BP",
            "KSH, ESH2023", "lower ACCAHA2025 (130); upper below severe 180 (ACCAHA2025)",
        ),
        ThresholdSpec(
            "bp_home_dia", 85, 80, 119, "mmHg",
            "7-day mean home diastolic at or above this -> uncontrolled home BP",
            "KSH, ESH2023", "lower ACCAHA2025 (80); upper below severe 120 (ACCAHA2025)",
        ),
        ThresholdSpec(
            "bp_low_sys", 90, 90, 110, "mmHg",
            "systolic at or below this -> hypotension",
            "NEWS2 (<= 90 scores 3)", "cannot go below 90 (NEWS2 red); up to 110 (NEWS2 1 pt)",
        ),
        ThresholdSpec(
            "glucose_low", 70, 70, 80, "mg/dL",
            "glucose below this -> level 1 hypoglycaemia",
            "ADA6", "cannot go below 70 (ADA6); up to 80 (NIGHTSCOUT)",
        ),
        ThresholdSpec(
            "glucose_high", 180, 180, 250, "mg/dL",
            "glucose above this -> level 1 hyperglycaemia",
            "TIR2019", "180 (TIR2019 level 1) to 250 (TIR2019 level 2)",
        ),
        ThresholdSpec(
            "glucose_very_high", 250, 240, 250, "mg/dL",
            "glucose above this -> level 2 hyperglycaemia (check ketones)",
            "TIR2019", "cannot go above 250 (TIR2019); down to 240 (ADA_PATIENT)",
        ),
        ThresholdSpec(
            "spo2_warn", 94, 92, 95, "%",
            "SpO2 at or below this (and above the urgent line) -> same-day advice",
            "NHS_OXIMETRY, BTS2017", "92 (NHS urgent line) to 95 (NEWS2 Scale 1 94-95 = 1 pt)",
        ),
        ThresholdSpec(
            "spo2_drop", 3, 2, 3, "% points",
            "fall from the person's usual SpO2 of at least this -> clinical review",
            "BTS2017", "cannot exceed 3 (BTS2017)",
        ),
        ThresholdSpec(
            "weight_gain_3d", 2.0, 1.0, 2.0, "kg",
            "heart failure: gain of more than this within 3 days -> contact the HF team",
            "ESC_HFA2021", "cannot exceed 2 kg (ESC_HFA2021); down to 1 kg (AHA_HF_PATIENT)",
        ),
        ThresholdSpec(
            "fever_frail", 37.8, 37.2, 37.8, "Cel",
            "frail elder: single temperature above this -> fever",
            "IDSA2008", "cannot exceed 37.8 (IDSA2008); down to 37.2 (IDSA2008 repeated)",
        ),
        ThresholdSpec(
            "silent_hours", 24, 0.25, 72, "h",
            "no reading at all for this long -> device silent",
            "DESIGN, REF_2_7", "DESIGN (15 min .. 3 days)",
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Fixed:
    """A threshold that no personal setting can move (urgent and emergency lines)."""

    value: float
    unit: str
    source: str


FIXED: dict[str, Fixed] = {
    "bp_severe_sys": Fixed(180, "mmHg", "ACCAHA2025 (> 180)"),
    "bp_severe_dia": Fixed(120, "mmHg", "ACCAHA2025 (> 120)"),
    "bp_extreme_sys": Fixed(220, "mmHg", "NEWS2 (>= 220 scores 3)"),
    "bp_confirm_minutes": Fixed(60, "min", "REF_3 (repeat measurement); window DESIGN"),
    "bp_home_min_readings": Fixed(3, "readings", "DESIGN (readings needed for a 7-day mean)"),
    "glucose_level2": Fixed(54, "mg/dL", "ADA6 (< 54)"),
    "glucose_hhs": Fixed(600, "mg/dL", "ADA_HHS (> 600)"),
    "spo2_urgent": Fixed(92, "%", "NHS_OXIMETRY (<= 92)"),
    "spo2_copd_target_low": Fixed(88, "%", "BTS2017 (target 88-92 %)"),
    "spo2_copd_red": Fixed(83, "%", "NEWS2 Scale 2 (<= 83 scores 3)"),
    "spo2_copd_high_on_o2": Fixed(97, "%", "NEWS2 Scale 2 (>= 97 on oxygen scores 3)"),
    "hr_low": Fixed(40, "/min", "NEWS2 (<= 40 scores 3); reference §3.5 home rule"),
    "hr_high": Fixed(131, "/min", "NEWS2 (>= 131 scores 3); reference §3.5 home rule"),
    "rr_low": Fixed(8, "/min", "NEWS2 (<= 8 scores 3)"),
    "rr_high": Fixed(25, "/min", "NEWS2 (>= 25 scores 3)"),
    "temp_low": Fixed(35.0, "Cel", "NEWS2 (<= 35.0 scores 3)"),
    "temp_high": Fixed(39.1, "Cel", "NEWS2 (>= 39.1 scores 2)"),
    "fever_repeat_frail": Fixed(37.2, "Cel", "IDSA2008 (repeated > 37.2)"),
    "fever_rise_frail": Fixed(1.1, "Cel", "IDSA2008 (rise > 1.1 over baseline)"),
    "news2_urgent": Fixed(5, "points", "NEWS2 Chart 4 (5-6: urgent review)"),
    "news2_emergency": Fixed(7, "points", "NEWS2 Chart 4 (>= 7: emergency assessment)"),
    "news2_window_minutes": Fixed(60, "min", "reference §3.8 (vitals within 1 h)"),
    "baseline_days": Fixed(7, "days", "DESIGN (usual value = mean of the previous 7 days)"),
    "baseline_min_readings": Fixed(3, "readings", "DESIGN"),
}


def defaults() -> dict[str, float]:
    return {k: s.default for k, s in SPECS.items()}


def effective(personal: Mapping[str, float], conditions: Iterable[str]) -> dict[str, float]:
    """Defaults overlaid with the person's own values (already validated)."""
    del conditions  # condition-specific lines are separate FIXED keys, not overrides
    out = defaults()
    out.update({k: float(v) for k, v in personal.items() if k in SPECS})
    return out


def _did_you_mean(name: str, known: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(name, list(known), n=3)


def validate(personal: Mapping[str, object], conditions: Iterable[str]) -> dict[str, float]:
    """Check personal thresholds; raise ``InputError`` naming the key and the allowed range."""
    del conditions
    out: dict[str, float] = {}
    for key, raw in personal.items():
        spec = SPECS.get(key)
        if spec is None:
            hint = _did_you_mean(key, SPECS)
            fixed = " (a safety line that cannot be personalised)" if key in FIXED else ""
            raise InputError(
                f"unknown threshold {key!r}{fixed}",
                field=f"thresholds.{key}",
                reason="did you mean: " + ", ".join(hint) if hint else "not adjustable",
            )
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise InputError("threshold must be a number", field=f"thresholds.{key}")
        value = float(raw)
        if not spec.lower <= value <= spec.upper:
            raise InputError(
                f"threshold {key}={value:g} {spec.unit} is outside the safety limits "
                f"[{spec.lower:g}, {spec.upper:g}]",
                field=f"thresholds.{key}",
                reason=spec.limit_source,
            )
        out[key] = value
    eff = effective(out, ())
    if eff["glucose_high"] > eff["glucose_very_high"]:
        raise InputError(
            "glucose_high must not exceed glucose_very_high",
            field="thresholds.glucose_high",
            reason="level 1 line above level 2 line (TIR2019)",
        )
    return out


def validate_conditions(conditions: Iterable[str]) -> tuple[str, ...]:
    out = []
    for c in conditions:
        if c not in CONDITIONS:
            raise InputError(
                f"unknown condition flag {c!r}",
                field="conditions",
                reason="did you mean: " + ", ".join(_did_you_mean(c, CONDITIONS) or CONDITIONS),
            )
        out.append(c)
    return tuple(sorted(set(out)))


def validate_schedule(schedule: Mapping[str, object]) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind, per_day in schedule.items():
        if kind not in SCHEDULE_KINDS:
            raise InputError(
                f"unknown reading kind {kind!r} in schedule",
                field=f"schedule.{kind}",
                reason="did you mean: "
                + ", ".join(_did_you_mean(kind, SCHEDULE_KINDS) or SCHEDULE_KINDS),
            )
        if isinstance(per_day, bool) or not isinstance(per_day, int) or not 1 <= per_day <= 24:
            raise InputError("readings per day must be 1-24", field=f"schedule.{kind}")
        out[kind] = per_day
    return out
