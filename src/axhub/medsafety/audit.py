"""Consistency audit of the knowledge base: duplicated and conflicting rows.

* duplicate: the same expanded pair asserted twice with the same mechanism by the same source;
* conflict: the same pair asserted with opposite effects (e.g. exposure up and down), or a
  pair that is both a cited interaction and a cited no-interaction control.

Different sources giving different severities for the same pair is not a conflict: the
checker shows the highest severity and lists every source (docs/medsafety.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from axhub.medsafety.knowledge import OPPOSITE_EFFECT, Knowledge, KnownInteraction


@dataclass(frozen=True)
class Problem:
    kind: str  # "duplicate" | "conflict"
    pair: str
    rows: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.pair} ({self.reason}) rows {', '.join(self.rows)}"


def _pair_key(kb: Knowledge, r: KnownInteraction) -> tuple[str, str, str]:
    if r.kind == "food":
        return ("food", kb.drugs[r.a].drug_id, kb.foods[r.b].food_id)
    a, b = sorted((kb.drugs[r.a].drug_id, kb.drugs[r.b].drug_id))
    return ("drug", a, b)


def audit(kb: Knowledge) -> list[Problem]:
    """Every duplicated or conflicting assertion in the knowledge base."""
    problems: list[Problem] = []
    by_pair: dict[tuple[str, str, str], list[KnownInteraction]] = defaultdict(list)
    for r in (*kb.known_food, *kb.known_drug):
        by_pair[_pair_key(kb, r)].append(r)
    for key, rows in sorted(by_pair.items()):
        label = f"{key[1]} + {key[2]}"
        seen: dict[tuple[str, str], str] = {}
        for r in rows:
            sig = (r.mechanism, r.cited.source_id + "|" + r.cited.locator)
            if sig in seen and seen[sig] != r.cited.row:
                problems.append(
                    Problem(
                        "duplicate", label, (seen[sig], r.cited.row), "same mechanism and source"
                    )
                )
            seen.setdefault(sig, r.cited.row)
        effects = {r.effect: r.cited.row for r in rows}
        for effect, row in effects.items():
            opposite = OPPOSITE_EFFECT.get(effect)
            if opposite in effects and effect < opposite:
                problems.append(
                    Problem("conflict", label, (row, effects[opposite]), f"{effect} vs {opposite}")
                )
    for c in kb.controls:
        other = kb.foods[c.b].food_id if c.kind == "food" else kb.drugs[c.b].drug_id
        drug = kb.drugs[c.a].drug_id
        lo, hi = sorted((drug, other))
        key = ("food", drug, other) if c.kind == "food" else ("drug", lo, hi)
        if key in by_pair:
            rows_ = (c.cited.row, *(r.cited.row for r in by_pair[key]))
            problems.append(
                Problem("conflict", f"{drug} + {other}", rows_, "cited interaction and control")
            )
    return problems
