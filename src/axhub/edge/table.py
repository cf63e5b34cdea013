"""The on-device rule table: the hub's rule ids, severities and titles for the rules the
gateway runs without the hub, and what the person at home is told.

The thresholds themselves are not copied: :mod:`axhub.edge.rules` reads them from
:mod:`axhub.care.thresholds` (standard library only), the single source of truth.  The rule
titles and severities below are a copy of the hub's ``axhub.care.rules.RULES`` entries,
because that module pulls the clinical-score stack (pyarrow, DuckDB) that a home gateway
does not carry; ``tests/edge/test_gateway_rules.py`` fails when the two differ
(decision 0131).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EdgeRule:
    id: str
    severity: str
    title_en: str
    title_ko: str
    source: str


#: the hub rules that need at most the person's own last hour of readings, so the gateway
#: can run them offline (copied from ``axhub.care.rules.RULES``; a test keeps them equal)
EDGE_RULES: dict[str, EdgeRule] = {
    r.id: r
    for r in (
        EdgeRule("bp.severe_unconfirmed", "warning", "Severe BP reading: repeat the measurement",
                 "고혈압 위기 수치: 재측정 필요", "ACCAHA2025 > 180/120; REF_3 confirm by repeat"),
        EdgeRule("bp.severe", "urgent", "Severe hypertension confirmed by a repeat reading",
                 "재측정으로 확인된 중증 고혈압", "ACCAHA2025 > 180 and/or > 120; REF_3"),
        EdgeRule("bp.emergency", "emergency", "Severe BP with target-organ symptoms: call 119",
                 "표적장기 증상을 동반한 중증 고혈압: 119", "ACCAHA2025 hypertensive emergency"),
        EdgeRule("bp.extreme", "urgent", "Systolic BP 220 mmHg or more", "수축기 혈압 220 이상",
                 "NEWS2 SBP >= 220 scores 3"),
        EdgeRule("bp.low", "warning", "Low blood pressure", "저혈압",
                 "NEWS2 SBP <= 90 scores 3 (urgent); personal line up to 110"),
        EdgeRule("glucose.hypo_l1", "warning", "Level 1 hypoglycaemia (urgent at night)",
                 "1단계 저혈당(야간에는 긴급)",
                 "ADA6 < 70 mg/dL; night severity DESIGN/NIGHTSCOUT"),
        EdgeRule("glucose.hypo_l2", "urgent", "Level 2 hypoglycaemia", "2단계 저혈당",
                 "ADA6 < 54 mg/dL"),
        EdgeRule("glucose.hypo_l3", "emergency", "Hypoglycaemia with altered status: call 119",
                 "의식 변화를 동반한 저혈당: 119", "ADA6 level 3"),
        EdgeRule("glucose.hhs", "urgent", "Glucose above 600 mg/dL (emergency with confusion)",
                 "혈당 600 초과(의식 변화 시 응급)", "ADA_HHS > 600 mg/dL"),
        EdgeRule("spo2.low", "warning", "SpO2 below target", "산소포화도 목표 미만",
                 "NHS_OXIMETRY 93-94 same day, <= 92 urgent; BTS2017 COPD 88-92; "
                 "NEWS2 Scale 2"),
        EdgeRule("spo2.high_on_oxygen", "urgent",
                 "SpO2 97 % or more on oxygen with a 88-92 % target",
                 "산소 투여 중 산소포화도 97% 이상(목표 88-92%)", "NEWS2 Scale 2; BTS2017"),
        EdgeRule("temp.low", "urgent", "Temperature 35.0 °C or less", "체온 35.0°C 이하",
                 "NEWS2 <= 35.0 scores 3"),
        EdgeRule("hr.extreme", "urgent", "Heart rate 40 or less, or 131 or more",
                 "심박수 40 이하 또는 131 이상", "NEWS2 pulse scores 3; reference §3.5"),
        EdgeRule("rr.extreme", "urgent", "Respiratory rate 8 or less, or 25 or more",
                 "호흡수 8 이하 또는 25 이상", "NEWS2 respiration scores 3"),
        EdgeRule("consciousness.cvpu", "urgent", "New confusion or reduced consciousness",
                 "새로운 혼돈 또는 의식 저하", "NEWS2 CVPU scores 3; reference §3 symptoms"),
        EdgeRule("symptoms.red_flag", "urgent", "Red-flag symptoms reported",
                 "위험 증상 보고", "reference §3: symptoms escalate regardless of numbers"),
    )
}  # fmt: skip

#: severities the gateway raises a local alert for (the rest waits for the hub)
LOCAL_SEVERITIES = ("urgent", "emergency")

#: what the person at home is told, by severity (en, ko).  The actions are those of the
#: reference: §3 "confirm by a repeat measurement", the hypertensive-emergency and ADA
#: level-3 rows "call 119", §2.5 escalation chain (care worker -> nurse -> 119).
ADVICE: dict[str, tuple[str, str]] = {
    "repeat": (
        "Sit and rest, then measure again.",
        "앉아서 안정을 취한 뒤 다시 측정하세요.",
    ),
    "urgent": (
        "Call your care nurse now.",
        "지금 담당 간호사에게 연락하세요.",
    ),
    "emergency": (
        "Call 119 now.",
        "지금 119에 전화하세요.",
    ),
}
#: added while the hub cannot be reached: nobody at the hub has seen the alert yet
OFFLINE_NOTE = (
    "The care centre cannot be reached right now and has not been told yet.",
    "지금은 돌봄센터와 연결되지 않아 아직 전달되지 않았습니다.",
)


def local_message(rule_id: str, severity: str, *, offline: bool) -> tuple[str, str]:
    """The English and Korean message shown or spoken to the person at home."""
    rule = EDGE_RULES[rule_id]
    key = "repeat" if rule_id == "bp.severe_unconfirmed" else severity
    action_en, action_ko = ADVICE.get(key, ADVICE["urgent"])
    en = f"{rule.title_en}. {action_en}"
    ko = f"{rule.title_ko}. {action_ko}"
    if offline and severity in LOCAL_SEVERITIES:
        en, ko = f"{en} {OFFLINE_NOTE[0]}", f"{ko} {OFFLINE_NOTE[1]}"
    return en, ko


#: symptom groups, as in ``axhub.care.rules`` (a test keeps them equal)
TARGET_ORGAN_SYMPTOMS = frozenset(
    {"chest_pain", "dyspnoea", "neuro_deficit", "focal_weakness", "confusion", "visual_loss"}
)
RED_FLAG_SYMPTOMS = frozenset({"chest_pain", "dyspnoea", "confusion", "focal_weakness", "syncope"})
ALTERED_STATUS = frozenset({"confusion", "unresponsive", "needs_assistance"})
#: local hours counted as night for hypoglycaemia, as in ``axhub.care.rules.NIGHT_HOURS``
NIGHT_HOURS = (0, 6)
