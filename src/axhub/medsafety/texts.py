"""Rendering of clinician and patient texts (Korean and English) from mechanisms.toml.

Korean placeholders may carry a particle (``{other_ko:을}``); the particle is chosen by the
final consonant of the word, so sentences read naturally (자몽을, 우유를, 홍삼과, 술과 ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# particle with final consonant / without
_PARTICLES = {
    "을": ("을", "를"),
    "은": ("은", "는"),
    "이": ("이", "가"),
    "과": ("과", "와"),
    "이나": ("이나", "나"),
    "으로": ("으로", "로"),
}
# Final consonant of Sino-Korean digit readings (영 일 이 삼 사 오 육 칠 팔 구).
_DIGIT_BATCHIM = {"0": 21, "1": 8, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": 8, "8": 8, "9": 0}
_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")

NO_FINDING_NOTE = {
    "en": "No known or predicted interaction was found for the other combinations checked. "
    "This does not mean they are safe: the knowledge base is incomplete, so tell your "
    "doctor or pharmacist about every medicine, food supplement and herbal product you take.",
    "ko": "확인한 나머지 조합에서는 알려지거나 예측된 상호작용을 찾지 못했습니다. 이것이 "
    "안전하다는 뜻은 아닙니다. 자료가 완전하지 않으니, 드시는 약과 건강식품, 한약을 모두 "
    "의사나 약사에게 알려 주세요.",
}


def _batchim(word: str) -> int | None:
    """Index of the final consonant of the last sound (0 none), or None if unknown."""
    for ch in reversed(word.strip()):
        code = ord(ch)
        if 0xAC00 <= code <= 0xD7A3:
            return (code - 0xAC00) % 28
        if ch in _DIGIT_BATCHIM:
            return _DIGIT_BATCHIM[ch]
        if ch in ")]" or ch.isspace():
            continue
        return None
    return None


def particle(word: str, kind: str) -> str:
    """The word followed by the right form of the particle ``kind`` (e.g. "을")."""
    with_final, without = _PARTICLES[kind]
    b = _batchim(word)
    if b is None:
        return f"{word}{with_final}({without})"
    if kind == "으로" and b == 8:  # ㄹ takes 로
        return f"{word}{without}"
    return f"{word}{with_final if b else without}"


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` and ``{name:particle}`` placeholders; unknown names stay visible."""

    def sub(m: re.Match[str]) -> str:
        name, josa = m.group(1), m.group(2)
        if name not in values:
            return m.group(0)
        value = values[name]
        return particle(value, josa) if josa else value

    return _PLACEHOLDER.sub(sub, template)
