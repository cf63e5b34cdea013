"""Korean names: surname frequencies, given names by birth cohort, and romanisation.

Names are drawn from small vocabularies (indices into string tables), so every string
operation runs once per vocabulary entry, never once per person.
"""

from __future__ import annotations

import numpy as np

# Surname shares (%) from Statistics Korea (KOSTAT) 2015 Population and Housing Census surname
# tabulation, as reproduced in secondary sources (e.g. Wikipedia "List of Korean surnames").
# Not re-verified against the KOSIS table here: treat as approximate.  Surnames beyond this list
# (about 7 % of people) are omitted and the shares renormalised.
# Columns: Hangul, common passport spelling, other romanised spellings seen in records.
SURNAMES: tuple[tuple[str, float, str, tuple[str, ...]], ...] = (
    ("김", 21.5, "Kim", ("Gim",)),
    ("이", 14.7, "Lee", ("Yi", "Rhee", "I")),
    ("박", 8.4, "Park", ("Pak", "Bak")),
    ("최", 4.7, "Choi", ("Choe",)),
    ("정", 4.3, "Jung", ("Jeong", "Chung")),
    ("강", 2.4, "Kang", ("Gang",)),
    ("조", 2.1, "Cho", ("Jo",)),
    ("윤", 2.1, "Yoon", ("Yun",)),
    ("장", 2.0, "Jang", ("Chang",)),
    ("임", 1.7, "Lim", ("Im", "Rim")),
    ("한", 1.5, "Han", ()),
    ("오", 1.5, "Oh", ("O",)),
    ("서", 1.5, "Seo", ("Suh",)),
    ("신", 1.4, "Shin", ("Sin",)),
    ("권", 1.4, "Kwon", ("Gwon",)),
    ("황", 1.4, "Hwang", ()),
    ("안", 1.4, "Ahn", ("An",)),
    ("송", 1.3, "Song", ()),
    ("전", 1.1, "Jeon", ("Jun", "Chun")),
    ("홍", 1.1, "Hong", ()),
    ("유", 1.1, "Yoo", ("Yu",)),
    ("고", 0.9, "Ko", ("Go",)),
    ("문", 0.9, "Moon", ("Mun",)),
    ("양", 0.9, "Yang", ()),
    ("손", 0.9, "Son", ("Sohn",)),
    ("배", 0.8, "Bae", ("Pae",)),
    ("백", 0.8, "Baek", ("Paik",)),
    ("허", 0.6, "Heo", ("Huh",)),
    ("남", 0.6, "Nam", ()),
    ("노", 0.6, "Noh", ("Roh", "No")),
    ("심", 0.5, "Shim", ("Sim",)),
    ("하", 0.5, "Ha", ()),
    ("곽", 0.4, "Kwak", ("Gwak",)),
    ("성", 0.4, "Sung", ("Seong",)),
    ("차", 0.4, "Cha", ()),
    ("주", 0.4, "Joo", ("Ju",)),
    ("우", 0.4, "Woo", ("U",)),
    ("구", 0.4, "Koo", ("Gu",)),
    ("민", 0.3, "Min", ()),
    ("류", 0.3, "Ryu", ("Yu", "Ryoo")),
)

# Given names by birth cohort and sex: two syllables, each drawn from a list of syllables
# common in that generation's names (ILLUSTRATIVE lists, not a frequency table; none was
# available offline).  20 x 20 = 400 names per cohort and sex keeps same-name collisions
# plausible (a frequency table would make them rarer for the young and commoner for the old).
GIVEN_SYLLABLES: dict[tuple[str, str], tuple[str, str]] = {
    ("old", "male"): ("영정상종병광성만재용진순동기명춘창경태석",
                      "수호철식길남근환석섭웅배구만복덕국태원기"),
    ("old", "female"): ("순영정옥말명경춘금미숙복점분귀길봉을연화",
                        "자숙순희례옥녀분임이선애덕향연남화심매단"),
    ("mid", "male"): ("성정상동준재민영지현진승태종경우세창형용",
                      "민호훈현수진우석욱환철규일준영식원배열기"),
    ("mid", "female"): ("미은지현수혜선민정유경윤소보희진주연다향",
                        "영정경주진희숙미선은아연현실란옥화나랑애"),
    ("young", "male"): ("민서도예시하지주현준건우선연유정승은재태",
                        "준우윤호원훈서현진민빈재율찬혁성규환결겸"),
    ("young", "female"): ("서지민하윤수채다예소유은가나시아연혜주세",
                          "연윤우현서은원아린율빈희영진나유민하인정"),
}  # fmt: skip
GIVEN: dict[tuple[str, str], tuple[str, ...]] = {
    key: tuple(a + b for a in first for b in second if a != b)
    for key, (first, second) in GIVEN_SYLLABLES.items()
}
COHORTS = ("old", "mid", "young")  # born < 1960, 1960-1989, >= 1990

# Look-alike syllables used for data-entry typos (one syllable of the given name replaced).
TYPO_SYLLABLES: dict[str, str] = {
    "영": "용",
    "정": "종",
    "수": "숙",
    "희": "히",
    "숙": "속",
    "민": "문",
    "준": "중",
    "현": "헌",
    "혜": "해",
    "은": "온",
    "진": "지",
    "호": "효",
    "성": "선",
    "자": "지",
    "순": "슨",
    "철": "첼",
    "서": "세",
    "윤": "융",
    "지": "치",
    "우": "유",
    "연": "염",
    "경": "겅",
    "미": "마",
    "재": "제",
    "훈": "휸",
    "석": "삭",
    "태": "테",
    "동": "둥",
}

_INITIAL = [
    "g",
    "kk",
    "n",
    "d",
    "tt",
    "r",
    "m",
    "b",
    "pp",
    "s",
    "ss",
    "",
    "j",
    "jj",
    "ch",
    "k",
    "t",
    "p",
    "h",
]
_VOWEL = [
    "a",
    "ae",
    "ya",
    "yae",
    "eo",
    "e",
    "yeo",
    "ye",
    "o",
    "wa",
    "wae",
    "oe",
    "yo",
    "u",
    "wo",
    "we",
    "wi",
    "yu",
    "eu",
    "ui",
    "i",
]
_FINAL = [
    "",
    "k",
    "k",
    "k",
    "n",
    "n",
    "n",
    "t",
    "l",
    "k",
    "m",
    "l",
    "l",
    "l",
    "p",
    "l",
    "m",
    "p",
    "p",
    "t",
    "t",
    "ng",
    "t",
    "t",
    "k",
    "t",
    "p",
    "t",
]


def romanise_syllable(ch: str) -> str:
    """Revised Romanization of one Hangul syllable, letter by letter (no sound-change rules)."""
    code = ord(ch) - 0xAC00
    if not 0 <= code < 11172:
        return ch
    initial, rest = divmod(code, 21 * 28)
    vowel, final = divmod(rest, 28)
    return _INITIAL[initial] + _VOWEL[vowel] + _FINAL[final]


def romanise_given(name: str, style: int = 0) -> str:
    """Romanised given name: style 0 "Min-jun", 1 "Minjun", 2 "Min Jun"."""
    parts = [romanise_syllable(c) for c in name]
    if style == 1:
        return "".join(parts).capitalize()
    if style == 2:
        return " ".join(p.capitalize() for p in parts)
    return "-".join(parts).capitalize()


def typo_variant(name: str) -> str:
    """The name with its last replaceable syllable swapped for a look-alike syllable."""
    chars = list(name)
    for i in range(len(chars) - 1, -1, -1):
        if chars[i] in TYPO_SYLLABLES:
            chars[i] = TYPO_SYLLABLES[chars[i]]
            return "".join(chars)
    return name + name[-1]


class NameTables:
    """String tables (NumPy object arrays) indexed by surname / given-name vocabulary ids."""

    def __init__(self) -> None:
        self.surname_ko = np.array([s[0] for s in SURNAMES], dtype=object)
        self.surname_en = np.array([s[2] for s in SURNAMES], dtype=object)
        self.surname_alt = np.array([s[3][0] if s[3] else s[2] for s in SURNAMES], dtype=object)
        shares = np.array([s[1] for s in SURNAMES], dtype=float)
        self.surname_p = shares / shares.sum()
        given: list[str] = []
        self.given_ranges: dict[tuple[str, str], tuple[int, int]] = {}
        for key, names in GIVEN.items():
            self.given_ranges[key] = (len(given), len(given) + len(names))
            given.extend(names)
        self.given_ko = np.array(given, dtype=object)
        self.given_typo = np.array([typo_variant(g) for g in given], dtype=object)
        self.given_en = np.array(
            [[romanise_given(g, s) for s in range(3)] for g in given], dtype=object
        )

    def draw_surnames(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.surname_p), size=n, p=self.surname_p)

    def draw_given(
        self, rng: np.random.Generator, birth_year: np.ndarray, male: np.ndarray
    ) -> np.ndarray:
        cohort = np.where(birth_year < 1960, 0, np.where(birth_year < 1990, 1, 2))
        out = np.zeros(len(birth_year), dtype=np.int64)
        u = rng.random(len(birth_year))
        for ci, cname in enumerate(COHORTS):
            for sex, flag in (("male", True), ("female", False)):
                lo, hi = self.given_ranges[(cname, sex)]
                mask = (cohort == ci) & (male == flag)
                out[mask] = lo + np.floor(u[mask] * (hi - lo)).astype(np.int64)
        return out
