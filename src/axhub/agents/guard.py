"""Checks on language-model output before anyone reads it: no dosing advice, no diagnosis.

A language model may only rephrase a summary or a patient message; it may never tell a person
how much of a medicine to take or what disease they have (issue 7 §5; reference §1.8: the
agent never diagnoses).  The patterns below are deliberately broad, in Korean and English: a
rejected text falls back to the reviewed template, so a false rejection costs only style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EN_UNITS = r"(mg|mcg|µg|ug|g|ml|units?|iu|tablets?|pills?|puffs?|capsules?|drops?)"
DOSING: tuple[re.Pattern[str], ...] = (
    re.compile(rf"\b\d+(\.\d+)?\s*{_EN_UNITS}\b", re.I),
    re.compile(
        r"\b(take|increase|decrease|reduce|lower|raise|double|halve|skip|stop|start|cut)\b"
        r"[^.!?]{0,40}\b(dose|dosage|doses|medication|medicine|pills?|tablets?|insulin|"
        r"metformin|warfarin|amlodipine|furosemide|diuretic)\b",
        re.I,
    ),
    re.compile(r"\b(extra|additional|another|half|double)\s+(dose|pill|tablet|unit)s?\b", re.I),
    re.compile(r"\d+\s*(밀리그램|mg|정|알|단위|유닛|ml|mL|cc|캡슐)"),
    re.compile(
        r"(용량|복용량|투여량|약|인슐린|이뇨제)[^.!?]{0,15}(늘리|줄이|올리|낮추|두\s?배|반으로|끊|중단|건너뛰|더\s?드|추가로)"
    ),
    re.compile(r"(한\s?알|두\s?알|반\s?알)\s*(더|만)"),
)
DIAGNOSIS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\byou(\s+most\s+likely|\s+probably|\s+might|\s+may)?\s+(have|are\s+having|are\s+"
        r"suffering\s+from|have\s+got)\s+(a|an)?\s*(stroke|heart\s+attack|infection|pneumonia|"
        r"diabetes|heart\s+failure|sepsis|covid|cancer|dementia|hypertension|arrhythmia)\b",
        re.I,
    ),
    re.compile(
        r"\b(diagnos(is|ed|e)|you\s+are\s+diabetic|this\s+is\s+(a|an)\s+\w+\s+attack)\b", re.I
    ),
    re.compile(r"진단"),
    re.compile(
        r"(뇌졸중|심근경색|폐렴|감염|패혈증|당뇨병|심부전|치매|암|부정맥)(입니다|이에요|예요|"
        r"이십니다|이 (맞|확실)|에 걸리셨|이 있으십니다|이 있습니다)"
    ),
)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
MAX_CHARS = 600


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reasons: tuple[str, ...]


def check(text: str, language: str) -> Verdict:
    """Whether a model-written text may be shown; the reasons name each failed check."""
    reasons: list[str] = []
    stripped = text.strip()
    if not stripped:
        reasons.append("empty")
    if len(stripped) > MAX_CHARS:
        reasons.append(f"longer than {MAX_CHARS} characters")
    if language == "ko" and stripped and not HANGUL.search(stripped):
        reasons.append("not Korean")
    if any(p.search(stripped) for p in DOSING):
        reasons.append("dosing advice")
    if any(p.search(stripped) for p in DIAGNOSIS):
        reasons.append("diagnosis")
    return Verdict(not reasons, tuple(reasons))
