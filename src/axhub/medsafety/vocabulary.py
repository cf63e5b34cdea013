"""Name resolution for drugs and foods: Korean and English names, brands, ATC codes, typos.

Exact matches (after normalisation) win; otherwise a fuzzy match on Hangul jamo and Latin
letters (rapidfuzz, MIT) is accepted only when it is close and unambiguous, and is reported
as such.  Anything else is *unresolved* with "did you mean" suggestions: never dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from axhub.medsafety.knowledge import Knowledge

# Accept a fuzzy match at this WRatio score or above, when the runner-up (another entity)
# scores at least _MARGIN lower.  Tuned on the bundled vocabulary in tests/medsafety.
_ACCEPT = 90.0
_MARGIN = 4.0
_SUGGEST = 60.0
_DOSE = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|ml|iu|g|단위|밀리그램|그램)(?![a-z])", re.IGNORECASE
)
_PUNCT = re.compile(r"[\s\-_.,'’/()·]+")
# Korean dosage-form words that often trail a product name (…정, …캡슐).
_FORM_SUFFIXES = ("서방정", "장용정", "필름코팅정", "캡슐", "시럽", "정")


def normalise(name: str) -> str:
    """Lower-case, NFKC, no spaces/punctuation, no dose strengths."""
    text = unicodedata.normalize("NFKC", name).lower()
    text = _DOSE.sub("", text)
    return _PUNCT.sub("", text)


def _strip_form(key: str) -> str:
    for suffix in _FORM_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 1:
            return key[: -len(suffix)]
    return key


def _jamo(key: str) -> str:
    """Decompose Hangul syllables into jamo so that one-letter typos cost one letter."""
    return unicodedata.normalize("NFD", key)


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one input name."""

    query: str
    kind: str  # "drug" | "food"
    index: int | None  # None when unresolved
    canonical: str | None
    how: str  # "exact" | "atc" | "fuzzy" | "unresolved"
    score: float
    suggestions: tuple[str, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.index is not None


class Vocabulary:
    """Lookup tables for one knowledge base (build once, reuse)."""

    def __init__(self, kb: Knowledge) -> None:
        self.kb = kb
        self._keys: dict[str, dict[str, int]] = {"drug": {}, "food": {}}
        for i, d in enumerate(kb.drugs):
            for name in (d.drug_id, d.name_en, d.name_ko, *d.aliases):
                self._keys["drug"].setdefault(normalise(name), i)
        for i, f in enumerate(kb.foods):
            for name in (f.food_id, f.name_en, f.name_ko, *f.aliases):
                self._keys["food"].setdefault(normalise(name), i)
        self._atc = {d.atc.lower(): i for i, d in enumerate(kb.drugs)}
        self._choices = {k: list(v) for k, v in self._keys.items()}
        self._jamo = {k: [_jamo(c) for c in v] for k, v in self._choices.items()}

    def label(self, kind: str, index: int) -> str:
        if kind == "drug":
            d = self.kb.drugs[index]
            return f"{d.name_en} ({d.name_ko})"
        f = self.kb.foods[index]
        return f"{f.name_en} ({f.name_ko})"

    def resolve(self, name: str, kind: str) -> Resolution:
        """Resolve a drug or food name; never raises for an unknown name."""
        key = normalise(name)
        keys = self._keys[kind]
        for candidate in (key, _strip_form(key)):
            if candidate in keys:
                i = keys[candidate]
                return Resolution(name, kind, i, self._canonical(kind, i), "exact", 100.0)
        if kind == "drug" and key in self._atc:
            i = self._atc[key]
            return Resolution(name, kind, i, self._canonical(kind, i), "atc", 100.0)
        if len(key) < 2:
            return Resolution(name, kind, None, None, "unresolved", 0.0)
        hits = process.extract(
            _jamo(key), self._jamo[kind], scorer=fuzz.WRatio, limit=8, score_cutoff=_SUGGEST
        )
        ranked: list[tuple[int, float]] = []
        for _, score, pos in hits:
            i = keys[self._choices[kind][pos]]
            if all(i != j for j, _ in ranked):
                ranked.append((i, float(score)))
        suggestions = tuple(self.label(kind, i) for i, _ in ranked[:3])
        if ranked and len(key) >= 3 and ranked[0][1] >= _ACCEPT:
            runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
            if ranked[0][1] - runner_up >= _MARGIN:
                i, score = ranked[0]
                return Resolution(name, kind, i, self._canonical(kind, i), "fuzzy", score)
        best = ranked[0][1] if ranked else 0.0
        return Resolution(name, kind, None, None, "unresolved", best, suggestions)

    def _canonical(self, kind: str, index: int) -> str:
        return self.kb.drugs[index].drug_id if kind == "drug" else self.kb.foods[index].food_id


@lru_cache(maxsize=4)
def vocabulary_for(kb: Knowledge) -> Vocabulary:
    """A cached :class:`Vocabulary` per knowledge-base object."""
    return Vocabulary(kb)
