"""Evaluation: cold-start recovery of cited interactions, controls, precision and recall.

Cold start: for each drug in turn, its cited rows are removed from the knowledge base and the
checker is asked about each removed pair; a pair is *recovered* when the mechanism inference
(which reads only drug and food properties, never interaction rows) alerts on it.  Controls
are cited pairs documented as not interacting: the raw inference must stay silent on them.
Precision is measured on labelled pairs only (cited interactions and controls); predictions
on unlabelled pairs are counted separately because they are neither right nor wrong here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from axhub.medsafety.inference import Predictions, combine, predict
from axhub.medsafety.knowledge import SEVERITIES, SEVERITY_RANK, Knowledge

MAJOR = SEVERITY_RANK["major"]


@dataclass
class PairOutcome:
    kind: str
    drug: str
    other: str
    known: str  # cited severity
    predicted: str  # severity from inference after removal ("none" if missed)
    mechanism: str  # cited mechanism


@dataclass
class EvaluationReport:
    outcomes: list[PairOutcome] = field(default_factory=list)
    control_alerts: list[tuple[str, str, str, str]] = field(default_factory=list)
    n_controls: int = 0
    unlabelled_predictions: dict[str, int] = field(default_factory=dict)

    def recall(
        self, kind: str | None = None, min_rank: int = 1, max_rank: int = 4
    ) -> tuple[int, int]:
        rows = [
            o
            for o in self.outcomes
            if (kind is None or o.kind == kind) and min_rank <= SEVERITY_RANK[o.known] <= max_rank
        ]
        return sum(o.predicted != "none" for o in rows), len(rows)

    def severity_agreement(self) -> tuple[int, int, int]:
        hit = [o for o in self.outcomes if o.predicted != "none"]
        exact = sum(SEVERITY_RANK[o.known] == SEVERITY_RANK[o.predicted] for o in hit)
        within = sum(
            abs(min(SEVERITY_RANK[o.known], MAJOR) - SEVERITY_RANK[o.predicted]) <= 1 for o in hit
        )
        return exact, within, len(hit)

    def precision_by_severity(self) -> dict[str, tuple[int, int]]:
        """Per predicted severity: (true alerts on cited pairs, all alerts on labelled pairs)."""
        out: dict[str, tuple[int, int]] = {}
        for sev in SEVERITIES[1:4]:
            tp = sum(o.predicted == sev for o in self.outcomes)
            fp = sum(c[2] == sev for c in self.control_alerts)
            out[sev] = (tp, tp + fp)
        return out

    def as_dict(self) -> dict[str, Any]:
        def rate(pair: tuple[int, int]) -> float | None:
            return round(pair[0] / pair[1], 3) if pair[1] else None

        major = self.recall(min_rank=MAJOR)
        exact, within, hits = self.severity_agreement()
        return {
            "recall_major_or_contraindicated": {
                "recovered": major[0],
                "of": major[1],
                "rate": rate(major),
            },
            "recall_by_known_severity": {
                sev: dict(
                    zip(("recovered", "of"), self.recall(min_rank=r, max_rank=r), strict=True)
                )
                for r, sev in enumerate(SEVERITIES)
                if r
            },
            "recall_by_kind": {
                k: dict(zip(("recovered", "of"), self.recall(kind=k), strict=True))
                for k in ("food", "drug")
            },
            "severity_agreement": {"exact": exact, "within_one": within, "of_recovered": hits},
            "precision_by_predicted_severity": {
                sev: {"true": tp, "alerts_on_labelled": n, "precision": rate((tp, n))}
                for sev, (tp, n) in self.precision_by_severity().items()
            },
            "controls": {"n": self.n_controls, "alerts": len(self.control_alerts)},
            "unlabelled_predictions": self.unlabelled_predictions,
            "missed_major": [
                f"{o.drug} + {o.other} ({o.mechanism})"
                for o in self.outcomes
                if SEVERITY_RANK[o.known] >= MAJOR and o.predicted == "none"
            ],
        }


def evaluate(kb: Knowledge, pred: Predictions | None = None) -> EvaluationReport:
    """Cold-start recovery per drug, control check, and alert counts on unlabelled pairs."""
    pred = pred or predict(kb)
    report = EvaluationReport(n_controls=len({(c.kind, c.a, c.b) for c in kb.controls}))
    drugs_with_rows = sorted(
        {r.a for r in kb.known_food} | {x for r in kb.known_drug for x in (r.a, r.b)}
    )
    seen: set[tuple[str, int, int]] = set()
    for d in drugs_with_rows:
        t = combine(kb, pred, exclude_drug=d)
        for r in kb.known_food:
            key = ("food", r.a, r.b)
            if r.a != d or key in seen:
                continue
            seen.add(key)
            sev = int(t.food_sev[r.a, r.b]) if t.food_evidence[r.a, r.b] == 2 else 0
            report.outcomes.append(_outcome(kb, "food", r.a, r.b, _best(kb, "food", r.a, r.b), sev))
        for r in kb.known_drug:
            key = ("drug", min(r.a, r.b), max(r.a, r.b))
            if d not in (r.a, r.b) or key in seen:
                continue
            seen.add(key)
            sev = int(t.dd_sev[r.a, r.b]) if t.dd_evidence[r.a, r.b] == 2 else 0
            report.outcomes.append(_outcome(kb, "drug", r.a, r.b, _best(kb, "drug", r.a, r.b), sev))
    sym = np.maximum(pred.dd_sev, pred.dd_sev.T)
    for c in {(c.kind, c.a, c.b): c for c in kb.controls}.values():  # one per pair
        sev = int(pred.food_sev[c.a, c.b] if c.kind == "food" else sym[c.a, c.b])
        if sev:
            other = kb.foods[c.b].food_id if c.kind == "food" else kb.drugs[c.b].drug_id
            report.control_alerts.append((c.kind, kb.drugs[c.a].drug_id, SEVERITIES[sev], other))
    labelled_food = np.zeros_like(pred.food_sev, dtype=bool)
    for r in kb.known_food:
        labelled_food[r.a, r.b] = True
    labelled_dd = np.zeros_like(pred.dd_sev, dtype=bool)
    for r in kb.known_drug:
        labelled_dd[r.a, r.b] = labelled_dd[r.b, r.a] = True
    for c in kb.controls:
        if c.kind == "food":
            labelled_food[c.a, c.b] = True
        else:
            labelled_dd[c.a, c.b] = labelled_dd[c.b, c.a] = True
    upper = np.triu(sym, 1)
    report.unlabelled_predictions = {
        "drug-food": int(((pred.food_sev > 0) & ~labelled_food).sum()),
        "drug-drug": int(((upper > 0) & ~np.triu(labelled_dd, 1)).sum()),
    }
    return report


def _best(kb: Knowledge, kind: str, a: int, b: int) -> tuple[str, str]:
    if kind == "food":
        rows = [r for r in kb.known_food if r.a == a and r.b == b]
    else:
        rows = [r for r in kb.known_drug if {r.a, r.b} == {a, b}]
    best = max(rows, key=lambda r: SEVERITY_RANK[r.severity])
    return best.severity, best.mechanism


def _outcome(
    kb: Knowledge, kind: str, a: int, b: int, known: tuple[str, str], sev: int
) -> PairOutcome:
    other = kb.foods[b].food_id if kind == "food" else kb.drugs[b].drug_id
    return PairOutcome(kind, kb.drugs[a].drug_id, other, known[0], SEVERITIES[sev], known[1])
