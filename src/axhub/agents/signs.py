"""What a patient reports, read from structured symptoms or free text (Korean and English).

BE-FAST stroke signs: Balance, Eyes, Face, Arm, Speech, Time (Aroor S, Singh R, Goldstein LB.
"BE-FAST: Reducing the Proportion of Strokes Missed Using the FAST Mnemonic." Stroke
2017;48:479-481).  The word lists are deliberately broad (a false match escalates; a miss
could cost a stroke); they are recall aids, not a diagnosis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

BEFAST_WORDS: dict[str, tuple[str, ...]] = {
    "balance": ("dizzy", "lost my balance", "lost balance", "unsteady", "can't walk straight",
                "cannot walk", "어지러", "균형", "비틀", "휘청"),
    "eyes": ("blurred vision", "blurry vision", "double vision", "can't see", "cannot see",
             "lost vision", "vision went", "시야", "앞이 안 보", "겹쳐 보", "눈이 안 보"),
    "face": ("face droop", "face is drooping", "face drooping", "mouth droop", "crooked smile",
             "face feels numb", "얼굴이 처", "입이 돌아", "입꼬리", "얼굴 한쪽", "얼굴이 마비"),
    "arm": ("arm is weak", "arm weak", "weak arm", "can't lift my arm", "cannot lift my arm",
            "arm numb", "numb arm", "leg is weak", "one side weak", "팔에 힘", "팔이 저",
            "팔을 못", "한쪽 팔", "다리에 힘", "한쪽이 마비"),
    "speech": ("slurred", "can't speak", "cannot speak", "trouble speaking", "can't talk",
               "words come out wrong", "말이 어눌", "발음이 이상", "말이 안 나", "말이 꼬"),
}  # fmt: skip
#: care-intake symptom names that are BE-FAST signs (docs/care.md §3)
BEFAST_SYMPTOMS: dict[str, str] = {
    "focal_weakness": "arm", "neuro_deficit": "face", "visual_loss": "eyes",
}  # fmt: skip
#: red flags that escalate regardless of numbers (reference §3; care RED_FLAG_SYMPTOMS)
RED_FLAG_WORDS: dict[str, tuple[str, ...]] = {
    "chest_pain": ("chest pain", "chest hurts", "pain in my chest", "가슴이 아파", "가슴 통증",
                   "가슴이 조여"),
    "dyspnoea": ("can't breathe", "cannot breathe", "short of breath", "breathless",
                 "숨이 차", "숨쉬기 힘들", "숨을 못"),
    "confusion": ("confused", "doesn't know where", "혼란", "정신이 없", "횡설수설"),
    "syncope": ("fainted", "passed out", "blacked out", "기절", "쓰러졌", "의식을 잃"),
}  # fmt: skip
DOSE_CHANGE = (
    re.compile(
        r"\b(change|reduce|lower|increase|raise|stop|quit|skip|double|halve|cut|less|"
        r"more)\b[^.?!]{0,40}\b(dose|dosage|pills?|tablets?|medicines?|medications?|"
        r"insulin|meds)\b",
        re.I,
    ),
    re.compile(
        r"\b(dose|dosage|pills?|tablets?|medicines?|medications?|insulin|meds)\b[^.?!]"
        r"{0,30}\b(change|reduce|lower|increase|raise|stop|less|more|double|half)\b",
        re.I,
    ),
    re.compile(
        r"(약|용량|인슐린|혈압약|당뇨약)[^.?!]{0,15}(줄여|줄이|늘려|늘리|끊|바꿔|바꾸|"
        r"그만|반만|두 배|더 먹|덜 먹)"
    ),
)
MISSED = (
    re.compile(
        r"\b(forgot|missed|didn't take|did not take|ran out of)\b[^.?!]{0,30}"
        r"\b(pills?|tablets?|medicines?|medications?|dose|insulin|meds)\b",
        re.I,
    ),
    re.compile(r"(약|인슐린)[^.?!]{0,10}(깜빡|잊어|잊고|못 먹|안 먹|떨어졌)"),
)
STAND_DOWN = (
    re.compile(r"\b(don'?t|do not|no need to|please don'?t)\s+(call|contact|send|bother)\b", re.I),
    re.compile(r"\b(i'?m|i am)\s+(fine|ok|okay|alright)\b", re.I),
    re.compile(r"\bcancel\b", re.I),
    re.compile(r"(연락하지 마|전화하지 마|부르지 마|괜찮아요|괜찮습니다|괜찮으니|취소)"),
)
#: time-critical medicines: a missed dose goes to a nurse (reference §3.7, NHS SPS list)
TIME_CRITICAL = ("insulin", "warfarin", "apixaban", "rivaroxaban", "dabigatran", "edoxaban",
                 "levetiracetam", "valproate", "carbamazepine", "phenytoin", "levodopa",
                 "tacrolimus", "hydrocortisone", "인슐린", "와파린")  # fmt: skip


def _low(text: str) -> str:
    return text.lower().replace("’", "'")


def befast(symptoms: list[str], text: str) -> list[str]:
    """The BE-FAST letters found in structured symptoms or a free-text report."""
    low = _low(text)
    found = {BEFAST_SYMPTOMS[s] for s in symptoms if s in BEFAST_SYMPTOMS}
    found |= {sign for sign, words in BEFAST_WORDS.items() if any(w in low for w in words)}
    found |= {s for s in symptoms if s in BEFAST_WORDS}
    return [s for s in BEFAST_WORDS if s in found]


def red_flags(symptoms: list[str], text: str) -> list[str]:
    low = _low(text)
    found = {s for s in symptoms if s in RED_FLAG_WORDS}
    found |= {k for k, words in RED_FLAG_WORDS.items() if any(w in low for w in words)}
    return sorted(found)


_VERBS = re.compile(
    r"\b(change|reduce|lower|increase|raise|stop|quit|skip|double|halve|cut)\b"
    r"|줄여|줄이|늘려|늘리|끊|바꿔|바꾸|그만",
    re.I,
)


def asks_dose_change(text: str, medicines: Sequence[str] = ()) -> bool:
    """A request to change a medicine: dose words, or a change verb with a listed medicine."""
    if any(p.search(text) for p in DOSE_CHANGE):
        return True
    low = text.lower()
    named = any(m.lower().split()[0] in low for m in medicines if m.strip())
    return named and _VERBS.search(text) is not None


def reports_missed_dose(text: str) -> bool:
    return any(p.search(text) for p in MISSED)


def asks_stand_down(text: str) -> bool:
    return any(p.search(text) for p in STAND_DOWN)


def time_critical(medicines: list[str]) -> list[str]:
    return [m for m in medicines if any(t in m.lower() for t in TIME_CRITICAL)]
