"""Monitoring rules, evaluated vectorised (NumPy) over a batch of readings.

Each rule has an id, a severity (or a severity that depends on the value), and the source
of its threshold (ids of ``thresholds.SOURCES``).  ``evaluate`` takes the new readings of a
batch (the *targets*) plus the person's recent plausible history and returns the firings;
it never loops over readings in Python except to build the (few) firings that fired.

Severities: ``info`` (review at the next routine contact), ``warning`` (same-day review by
a nurse), ``urgent`` (clinical contact within hours; never snoozable), ``emergency``
(call 119 now; never snoozable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from axhub.care.frames import (
    DAY,
    Emitter,
    Firing,
    Frame,
    History,
    Person,
    column,
    flag,
    local_hour,
    num,
)
from axhub.care.thresholds import FIXED
from axhub.clinical.scores import news2 as N2

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
Obj = npt.NDArray[np.object_]

SEVERITY_RANK = {"info": 0, "warning": 1, "urgent": 2, "emergency": 3}


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # default / lowest severity; some rules raise it by value
    title_en: str
    title_ko: str
    source: str
    version: int = 1


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("bp.severe_unconfirmed", "warning", "Severe BP reading: repeat the measurement",
             "고혈압 위기 수치: 재측정 필요", "ACCAHA2025 > 180/120; REF_3 confirm by repeat"),
        Rule("bp.severe", "urgent", "Severe hypertension confirmed by a repeat reading",
             "재측정으로 확인된 중증 고혈압", "ACCAHA2025 > 180 and/or > 120; REF_3"),
        Rule("bp.emergency", "emergency", "Severe BP with target-organ symptoms: call 119",
             "표적장기 증상을 동반한 중증 고혈압: 119", "ACCAHA2025 hypertensive emergency"),
        Rule("bp.extreme", "urgent", "Systolic BP 220 mmHg or more", "수축기 혈압 220 이상",
             "NEWS2 SBP >= 220 scores 3"),
        Rule("bp.low", "warning", "Low blood pressure", "저혈압",
             "NEWS2 SBP <= 90 scores 3 (urgent); personal line up to 110"),
        Rule("bp.home_uncontrolled", "info", "7-day mean home BP above target",
             "7일 평균 가정혈압 목표 초과", "KSH / ESH2023 mean home BP >= 135/85"),
        Rule("glucose.hypo_l1", "warning", "Level 1 hypoglycaemia (urgent at night)",
             "1단계 저혈당(야간에는 긴급)", "ADA6 < 70 mg/dL; night severity DESIGN/NIGHTSCOUT"),
        Rule("glucose.hypo_l2", "urgent", "Level 2 hypoglycaemia", "2단계 저혈당",
             "ADA6 < 54 mg/dL"),
        Rule("glucose.hypo_l3", "emergency", "Hypoglycaemia with altered status: call 119",
             "의식 변화를 동반한 저혈당: 119", "ADA6 level 3"),
        Rule("glucose.hyper_l1", "info", "Level 1 hyperglycaemia", "1단계 고혈당",
             "TIR2019 > 180 mg/dL"),
        Rule("glucose.hyper_l2", "warning", "Level 2 hyperglycaemia: check ketones",
             "2단계 고혈당: 케톤 확인", "TIR2019 > 250 mg/dL; ADA_PATIENT"),
        Rule("glucose.hhs", "urgent", "Glucose above 600 mg/dL (emergency with confusion)",
             "혈당 600 초과(의식 변화 시 응급)", "ADA_HHS > 600 mg/dL"),
        Rule("spo2.low", "warning", "SpO2 below target", "산소포화도 목표 미만",
             "NHS_OXIMETRY 93-94 same day, <= 92 urgent; BTS2017 COPD 88-92; NEWS2 Scale 2"),
        Rule("spo2.high_on_oxygen", "urgent", "SpO2 97 % or more on oxygen with a 88-92 % target",
             "산소 투여 중 산소포화도 97% 이상(목표 88-92%)", "NEWS2 Scale 2; BTS2017"),
        Rule("spo2.drop", "warning", "SpO2 fell from the person's usual value",
             "평소보다 산소포화도 저하", "BTS2017 fall >= 3 % from usual"),
        Rule("weight.hf_gain", "warning", "Heart failure: weight gain over 3 days",
             "심부전: 3일간 체중 증가", "ESC_HFA2021 > 2 kg in 3 days"),
        Rule("temp.fever_frail", "warning", "Fever in a frail older adult", "허약 노인 발열",
             "IDSA2008"),
        Rule("temp.high", "warning", "Temperature 39.1 °C or more", "체온 39.1°C 이상",
             "NEWS2 >= 39.1 scores 2"),
        Rule("temp.low", "urgent", "Temperature 35.0 °C or less", "체온 35.0°C 이하",
             "NEWS2 <= 35.0 scores 3"),
        Rule("hr.extreme", "urgent", "Heart rate 40 or less, or 131 or more",
             "심박수 40 이하 또는 131 이상", "NEWS2 pulse scores 3; reference §3.5"),
        Rule("rr.extreme", "urgent", "Respiratory rate 8 or less, or 25 or more",
             "호흡수 8 이하 또는 25 이상", "NEWS2 respiration scores 3"),
        Rule("consciousness.cvpu", "urgent", "New confusion or reduced consciousness",
             "새로운 혼돈 또는 의식 저하", "NEWS2 CVPU scores 3; reference §3 symptoms"),
        Rule("symptoms.red_flag", "urgent", "Red-flag symptoms reported",
             "위험 증상 보고", "reference §3: symptoms escalate regardless of numbers"),
        Rule("news2.score", "urgent", "NEWS2 5 or more (7 or more: emergency)",
             "NEWS2 5점 이상(7점 이상 응급)", "NEWS2 Chart 4"),
        Rule("device.silent", "warning", "No readings received", "측정값 수신 없음",
             "REF_2_7; silent_hours DESIGN"),
        Rule("adherence.missed", "info", "Scheduled readings missed (2 days: warning)",
             "예정된 측정 누락(2일 연속: 경고)", "REF_2_7 (§3.7 pattern); DESIGN"),
    )
}  # fmt: skip

#: symptoms (context.symptoms) that mark target-organ damage with severe BP (ACCAHA2025)
TARGET_ORGAN_SYMPTOMS = frozenset(
    {"chest_pain", "dyspnoea", "neuro_deficit", "focal_weakness", "confusion", "visual_loss"}
)
#: symptoms that escalate regardless of numbers (reference §3 general note)
RED_FLAG_SYMPTOMS = frozenset({"chest_pain", "dyspnoea", "confusion", "focal_weakness", "syncope"})
#: altered mental/physical status (ADA level 3; ADA_HHS confusion)
ALTERED_STATUS = frozenset({"confusion", "unresponsive", "needs_assistance"})
#: every symptom name the rules look at, as a bit in ``Frame.symptoms``
SYMPTOM_BITS: dict[str, int] = {
    name: 1 << i
    for i, name in enumerate(sorted(TARGET_ORGAN_SYMPTOMS | RED_FLAG_SYMPTOMS | ALTERED_STATUS))
}


def symptom_mask(names: object) -> int:
    """Bit mask of the known symptom names in a list (unknown names are ignored here)."""
    if not isinstance(names, list | tuple | set | frozenset):
        return 0
    m = 0
    for n in names:
        m |= SYMPTOM_BITS.get(str(n), 0)
    return m


#: local hours counted as night for hypoglycaemia (DESIGN; the care team may move them)
NIGHT_HOURS = (0, 6)


def evaluate(
    targets: Frame, history: Frame, people: Mapping[str, Person], now: datetime
) -> list[Firing]:
    """All firings for the target readings (history must include the targets)."""
    del now
    em = Emitter(targets)
    if not len(targets):
        return em.out
    allp = np.concatenate([targets.person, history.person]).astype(str)
    _, inv = np.unique(allp, return_inverse=True)
    targets.pcode = inv[: len(targets)].astype(np.int64)
    history.pcode = inv[len(targets) :].astype(np.int64)
    if len(targets.symptoms) != len(targets):
        targets.symptoms = np.zeros(len(targets), dtype=np.int64)
    base = int(min(targets.t.min(), history.t.min() if len(history) else targets.t.min()))
    base -= 8 * DAY
    hists = {k: History(history, k, base) for k in set(history.kind.tolist())}
    _symptom_rule(targets, em)
    _bp(targets.take(targets.kind == "bp"), hists.get("bp"), people, em)
    _glucose(targets.take(targets.kind == "glucose"), people, em)
    _spo2(targets.take(targets.kind == "spo2"), hists.get("spo2"), people, em)
    _weight(targets.take(targets.kind == "weight"), hists.get("weight"), people, em)
    _temperature(targets.take(targets.kind == "temperature"), hists.get("temperature"), people, em)
    _simple(targets, em)
    _news2(targets, hists, people, em)
    return em.out


def _sub(parent: Emitter, frame: Frame) -> Emitter:
    e = Emitter(frame)
    e.out = parent.out
    return e


def _has(frame: Frame, wanted: frozenset[str]) -> B:
    return (frame.symptoms & symptom_mask(wanted)) != 0


def symptom_names(mask: int) -> list[str]:
    return sorted(n for n, b in SYMPTOM_BITS.items() if mask & b)


def _symptom_rule(tg: Frame, em: Emitter) -> None:
    m = _has(tg, RED_FLAG_SYMPTOMS)
    em.emit(m, "symptoms.red_flag", "urgent",
            lambda i: {"symptoms": symptom_names(int(tg.symptoms[i]))})  # fmt: skip


def _bp(tg: Frame, hist: History | None, people: Mapping[str, Person], parent: Emitter) -> None:
    if not len(tg) or hist is None:
        return
    em = _sub(parent, tg)
    sys_, dia = tg.v, tg.v2
    severe = (sys_ > FIXED["bp_severe_sys"].value) | (dia > FIXED["bp_severe_dia"].value)
    organ = _has(tg, TARGET_ORGAN_SYMPTOMS)
    # confirmation: another severe reading of the same person within the window before/after
    win = int(FIXED["bp_confirm_minutes"].value * 60)
    start, end = hist.window(tg.pcode, tg.t - win, tg.t + win, right=True)
    hv, hv2 = hist.v, hist.v2
    sev_hist = (hv > FIXED["bp_severe_sys"].value) | (hv2 > FIXED["bp_severe_dia"].value)
    n_severe = hist.sums(sev_hist.astype(np.float64), start, end)
    confirmed = severe & (n_severe >= 2)
    em.emit(severe & organ, "bp.emergency", "emergency", lambda i: {"confirmed": True})
    em.emit(severe & ~organ & confirmed, "bp.severe", "urgent", lambda i: {"confirmed": True})
    em.emit(
        severe & ~organ & ~confirmed,
        "bp.severe_unconfirmed",
        "warning",
        lambda i: {"action": "repeat measurement", "confirm_minutes": win // 60},
    )
    em.emit(sys_ >= FIXED["bp_extreme_sys"].value, "bp.extreme", "urgent")
    low_line = column(people, tg.person, "bp_low_sys")
    low = sys_ <= low_line
    low_sev = np.where(sys_ <= 90, "urgent", "warning").astype(object)
    em.emit(low, "bp.low", low_sev, lambda i: {"threshold": float(low_line[i])})
    # 7-day mean home BP (KSH): mean of readings in the 7 days up to the reading
    s7, e7 = hist.window(tg.pcode, tg.t - 7 * DAY, tg.t, right=True)
    n7 = (e7 - s7).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_sys = hist.sums(hv, s7, e7) / n7
        has_dia = (~np.isnan(hv2)).astype(np.float64)
        mean_dia = hist.sums(hv2, s7, e7) / hist.sums(has_dia, s7, e7)
    t_sys = column(people, tg.person, "bp_home_sys")
    t_dia = column(people, tg.person, "bp_home_dia")
    enough = n7 >= FIXED["bp_home_min_readings"].value
    uncontrolled = enough & ((mean_sys >= t_sys) | (mean_dia >= t_dia))
    # the week before, for the trend the nurse sees (no guideline slope: no rule of its own)
    s14, e14 = hist.window(tg.pcode, tg.t - 14 * DAY, tg.t - 7 * DAY, right=False)
    n14 = (e14 - s14).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        prev_sys = hist.sums(hv, s14, e14) / n14
    prev_ok = n14 >= FIXED["bp_home_min_readings"].value

    def detail(i: int) -> dict[str, Any]:
        d: dict[str, Any] = {
            "mean_sys_7d": round(float(mean_sys[i]), 1),
            "mean_dia_7d": num(round(float(mean_dia[i]), 1)),
            "readings_7d": int(n7[i]),
            "threshold": [float(t_sys[i]), float(t_dia[i])],
        }
        if prev_ok[i]:
            d["mean_sys_prev_7d"] = round(float(prev_sys[i]), 1)
            d["trend"] = "rising" if mean_sys[i] > prev_sys[i] else "not rising"
        return d

    em.emit(uncontrolled, "bp.home_uncontrolled", "info", detail)


def _glucose(tg: Frame, people: Mapping[str, Person], parent: Emitter) -> None:
    if not len(tg):
        return
    em = _sub(parent, tg)
    g = tg.v
    altered = _has(tg, ALTERED_STATUS)
    low = column(people, tg.person, "glucose_low")
    l2 = FIXED["glucose_level2"].value
    hour = local_hour(people, tg.person, tg.t)
    night = (hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])
    hypo = g < low
    em.emit(hypo & altered, "glucose.hypo_l3", "emergency", lambda i: {"night": bool(night[i])})
    em.emit(hypo & ~altered & (g < l2), "glucose.hypo_l2", "urgent",
            lambda i: {"night": bool(night[i]), "threshold": l2})  # fmt: skip
    l1_sev = np.where(night, "urgent", "warning").astype(object)
    em.emit(hypo & ~altered & (g >= l2), "glucose.hypo_l1", l1_sev,
            lambda i: {"night": bool(night[i]), "threshold": float(low[i])})  # fmt: skip
    hi1 = column(people, tg.person, "glucose_high")
    hi2 = column(people, tg.person, "glucose_very_high")
    hhs = g > FIXED["glucose_hhs"].value
    em.emit(hhs, "glucose.hhs", np.where(altered, "emergency", "urgent").astype(object))
    em.emit(~hhs & (g > hi2), "glucose.hyper_l2", "warning", lambda i: {"threshold": hi2[i]})
    em.emit((g > hi1) & (g <= hi2), "glucose.hyper_l1", "info", lambda i: {"threshold": hi1[i]})


def _baseline(
    tg: Frame, hist: History, vals: F64
) -> tuple[F64, F64]:  # mean of previous 7 days (excluding the reading), count
    start, end = hist.window(tg.pcode, tg.t - int(FIXED["baseline_days"].value) * DAY, tg.t,
                             right=False)  # fmt: skip
    n = (end - start).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = hist.sums(vals, start, end) / n
    return mean, n


def _spo2(tg: Frame, hist: History | None, people: Mapping[str, Person], parent: Emitter) -> None:
    if not len(tg) or hist is None:
        return
    em = _sub(parent, tg)
    s = tg.v
    copd = flag(people, tg.person, "copd")
    warn = column(people, tg.person, "spo2_warn")
    urgent_line = FIXED["spo2_urgent"].value
    low_s1 = ~copd & (s <= warn)
    sev_s1 = np.where(s <= urgent_line, "urgent", "warning")
    low_s2 = copd & (s < FIXED["spo2_copd_target_low"].value)
    sev_s2 = np.where(s <= FIXED["spo2_copd_red"].value, "urgent", "warning")
    sev = np.where(copd, sev_s2, sev_s1).astype(object)
    low = low_s1 | low_s2
    em.emit(low, "spo2.low", sev, lambda i: {"scale": 2 if copd[i] else 1})
    high_o2 = copd & tg.on_oxygen & (s >= FIXED["spo2_copd_high_on_o2"].value)
    em.emit(high_o2, "spo2.high_on_oxygen", "urgent", lambda i: {"scale": 2})
    mean, n = _baseline(tg, hist, hist.v)
    drop = column(people, tg.person, "spo2_drop")
    fell = (n >= FIXED["baseline_min_readings"].value) & (mean - s >= drop) & ~low & ~high_o2
    em.emit(fell, "spo2.drop", "warning",
            lambda i: {"usual": round(float(mean[i]), 1), "drop": float(drop[i])})  # fmt: skip


def _weight(tg: Frame, hist: History | None, people: Mapping[str, Person], parent: Emitter) -> None:
    if not len(tg) or hist is None:
        return
    em = _sub(parent, tg)
    hf = flag(people, tg.person, "hf")
    start, end = hist.window(tg.pcode, tg.t - 3 * DAY, tg.t, right=False)
    lowest = hist.mins(hist.v, start, end)
    gain_line = column(people, tg.person, "weight_gain_3d")
    with np.errstate(invalid="ignore"):
        gain = np.round(tg.v - lowest, 3)
        fired = hf & ~np.isnan(lowest) & (gain > gain_line)
    em.emit(fired, "weight.hf_gain", "warning",
            lambda i: {"gain_kg_3d": float(gain[i]), "threshold": float(gain_line[i])})  # fmt: skip


def _temperature(
    tg: Frame, hist: History | None, people: Mapping[str, Person], parent: Emitter
) -> None:
    if not len(tg) or hist is None:
        return
    em = _sub(parent, tg)
    x = tg.v
    frail = flag(people, tg.person, "frail")
    single = x > column(people, tg.person, "fever_frail")
    rep_line = FIXED["fever_repeat_frail"].value
    start, end = hist.window(tg.pcode, tg.t - DAY, tg.t, right=False)
    n_prev_high = hist.sums((hist.v > rep_line).astype(np.float64), start, end)
    repeated = (x > rep_line) & (n_prev_high >= 1)
    mean, n = _baseline(tg, hist, hist.v)
    with np.errstate(invalid="ignore"):
        rise = (n >= FIXED["baseline_min_readings"].value) & (
            np.round(x - mean, 2) > FIXED["fever_rise_frail"].value
        )
    fever = frail & (single | repeated | rise)

    def why(i: int) -> dict[str, Any]:
        return {
            "criteria": [
                c for c, m in (("single", single), ("repeated", repeated), ("rise", rise)) if m[i]
            ]
        }

    em.emit(fever, "temp.fever_frail", "warning", why)
    em.emit(~frail & (x >= FIXED["temp_high"].value), "temp.high", "warning")
    em.emit(x <= FIXED["temp_low"].value, "temp.low", "urgent")


def _simple(tg: Frame, em: Emitter) -> None:
    hr = tg.kind == "heart_rate"
    em.emit(hr & ((tg.v <= FIXED["hr_low"].value) | (tg.v >= FIXED["hr_high"].value)),
            "hr.extreme", "urgent")  # fmt: skip
    rr = tg.kind == "resp_rate"
    em.emit(rr & ((tg.v <= FIXED["rr_low"].value) | (tg.v >= FIXED["rr_high"].value)),
            "rr.extreme", "urgent")  # fmt: skip
    em.emit((tg.kind == "consciousness") & (tg.v >= 1), "consciousness.cvpu", "urgent")


# --- NEWS2 (RCP 2017) ---------------------------------------------------------------------
def _band(values: F64, bands: tuple[tuple[float, int], ...]) -> F64:
    uppers = np.array([b[0] for b in bands], dtype=np.float64)
    pts = np.array([b[1] for b in bands], dtype=np.float64)
    idx = np.searchsorted(uppers, np.nan_to_num(values), side="left")
    return pts[np.clip(idx, 0, len(pts) - 1)]


def _half_up(v: F64, digits: int = 0) -> F64:
    scale = 10.0**digits
    return np.floor(v * scale + 0.5) / scale


def news2_points(kind: str, v: F64, scale2: B | None = None, on_o2: B | None = None) -> F64:
    """NEWS2 points of one parameter, vectorised.

    The bands are the project's one NEWS2 table, ``axhub.clinical.scores.news2`` (RCP 2017
    Chart 1; reference §3.8), with its rounding to the chart's resolution (decision 0046).
    """
    if kind == "resp_rate":
        return _band(_half_up(v), N2.RESP)
    if kind == "heart_rate":
        return _band(_half_up(v), N2.PULSE)
    if kind == "bp":
        return _band(_half_up(v), N2.SBP)
    if kind == "temperature":
        return _band(_half_up(v, 1), N2.TEMP)
    if kind == "consciousness":
        return np.where(v >= 1, float(N2.CONSCIOUSNESS), 0.0)
    if kind == "spo2":
        s = _half_up(v)
        s1 = _band(s, N2.SPO2_SCALE1)
        if scale2 is None:
            return s1
        o2 = on_o2 if on_o2 is not None else np.zeros(len(v), dtype=bool)
        s2 = np.where(s <= 92, _band(s, N2.SPO2_SCALE2_LOW),
                      np.where(o2, _band(s, N2.SPO2_SCALE2_ON_O2), 0.0))  # fmt: skip
        return np.where(scale2, s2, s1)
    raise ValueError(kind)


NEWS2_KINDS = ("resp_rate", "spo2", "bp", "heart_rate", "consciousness", "temperature")


def _news2(
    tg: Frame, hists: Mapping[str, History], people: Mapping[str, Person], parent: Emitter
) -> None:
    t = tg.take(np.isin(tg.kind, NEWS2_KINDS))
    if not len(t):
        return
    em = _sub(parent, t)
    win = int(FIXED["news2_window_minutes"].value * 60)
    total = np.zeros(len(t))
    present = np.zeros(len(t), dtype=np.int64)
    missing: list[list[str]] = [[] for _ in range(len(t))]
    scale2 = flag(people, t.person, "copd")
    for kind in NEWS2_KINDS:
        h = hists.get(kind)
        if h is None:
            for m in missing:
                m.append(kind)
            continue
        start, end = h.window(t.pcode, t.t - win, t.t, right=True)
        ok = end > start
        last = np.clip(end - 1, 0, max(len(h.v) - 1, 0))
        vals = h.v[last] if len(h.v) else np.zeros(len(t))
        pts = news2_points(kind, vals, scale2, h.on_oxygen[last] if len(h.v) else None)
        if kind == "spo2" and len(h.v):  # "Air or oxygen?": oxygen scores 2
            pts = pts + np.where(h.on_oxygen[last], float(N2.OXYGEN), 0.0)
        total += np.where(ok, pts, 0.0)
        present += ok
        for i in np.flatnonzero(~ok):
            missing[i].append(kind)
    # a partial score is a lower bound of the full score, so it may alert; missing listed
    fired = total >= FIXED["news2_urgent"].value
    sev = np.where(total >= FIXED["news2_emergency"].value, "emergency", "urgent").astype(object)
    em.emit(fired, "news2.score", sev,
            lambda i: {"news2": int(total[i]), "parameters": int(present[i]),
                       "missing": missing[i]})  # fmt: skip
