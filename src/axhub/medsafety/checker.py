"""The checker: active medicines + diet/supplement profile (+ age) -> ranked findings.

Every finding says whether it is *known* (a cited row), *predicted* (mechanism rule, with
confidence and the property rows it rests on) or an elderly *criterion*.  Unknown names
become ``unresolved`` findings with suggestions (or a NotFoundError when ``strict``).
Absence of findings is never worded as "safe" (see :data:`texts.NO_FINDING_NOTE`).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from axhub.errors import InputError, NotFoundError
from axhub.medsafety.inference import (
    DRUG_RULES,
    FOOD_RULES,
    SafetyTables,
    rule_citations,
    tables_for,
)
from axhub.medsafety.knowledge import SEVERITIES, Cited, Knowledge, default_knowledge
from axhub.medsafety.texts import render
from axhub.medsafety.vocabulary import Resolution, vocabulary_for

log = logging.getLogger(__name__)

EVIDENCE_ORDER = {"known": 0, "criterion": 1, "predicted": 2, "unresolved": 3}
ANTICHOLINERGIC_THRESHOLD = 3  # ARS total >= 3: the highest-risk group in Rudolph et al. 2008
ELDERLY_CHECK_AGE = 65
_PAREN = re.compile(r"\s*\([^)]*\)$")  # "grapefruit (incl. juice)" reads as "grapefruit"


@dataclass(frozen=True)
class Finding:
    """One alert.  ``other`` is a food id (other_kind "food") or a drug id ("drug")."""

    kind: str  # drug-food | drug-drug | elderly | duplicate | anticholinergic | unresolved
    drug: str
    other: str | None
    other_kind: str | None
    severity: str
    evidence: str  # known | predicted | criterion | unresolved
    mechanism: str
    effect: str | None
    title: dict[str, str]
    explanation: dict[str, str]
    action: dict[str, str]
    advice: dict[str, str]
    sources: tuple[str, ...]
    confidence: float | None = None
    suggestions: tuple[str, ...] = ()
    input_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def severity_rank(self) -> int:
        return SEVERITIES.index(self.severity) if self.severity in SEVERITIES else -1

    def to_dict(self) -> dict[str, Any]:
        """JSON shape: one object per finding (drug, food or second_drug, ...)."""
        d = asdict(self)
        d["food"] = self.other if self.other_kind == "food" else None
        d["second_drug"] = self.other if self.other_kind == "drug" else None
        d["sources"] = list(self.sources)
        d["suggestions"] = list(self.suggestions)
        return d


def _sort_key(f: Finding) -> tuple[int, int, str, str]:
    return (-f.severity_rank, EVIDENCE_ORDER[f.evidence], f.drug, f.other or "")


@lru_cache(maxsize=4)
def _rows_by_pair(
    kb: Knowledge,
) -> tuple[dict[tuple[int, int], list[int]], dict[tuple[int, int], list[int]]]:
    food: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, r in enumerate(kb.known_food):
        food[(r.a, r.b)].append(i)
    drug: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, r in enumerate(kb.known_drug):
        drug[(min(r.a, r.b), max(r.a, r.b))].append(i)
    return dict(food), dict(drug)


def _texts(kb: Knowledge, mechanism: str, values: dict[str, str]) -> dict[str, dict[str, str]]:
    spec = kb.mechanisms[mechanism]
    return {
        part: {lang: render(spec[f"{part}_{lang}"], values) for lang in ("en", "ko")}
        for part in ("title", "explain", "action", "advice")
    }


def _values(kb: Knowledge, drug: int, other: int | None, other_kind: str | None) -> dict[str, str]:
    d = kb.drugs[drug]
    values = {"drug": d.name_en, "drug_ko": d.name_ko}
    if other is not None:
        o = kb.foods[other] if other_kind == "food" else kb.drugs[other]
        values.update(other=_PAREN.sub("", o.name_en), other_ko=o.name_ko)
    return values


def _finding(
    kb: Knowledge,
    kind: str,
    drug: int,
    other: int | None,
    other_kind: str | None,
    severity: str,
    evidence: str,
    mechanism: str,
    effect: str | None,
    cited: Iterable[Cited],
    values: dict[str, str],
    confidence: float | None = None,
    extra: dict[str, Any] | None = None,
) -> Finding:
    t = _texts(kb, mechanism, values)
    cited = list(cited)
    statuses = {c.verified for c in cited}
    extra = dict(extra or {})
    if statuses:  # best verification status of the rows behind the finding (decision 0059)
        extra["verified"] = next(v for v in ("V", "S", "U") if v in statuses)
    other_id = None
    if other is not None:
        other_id = kb.foods[other].food_id if other_kind == "food" else kb.drugs[other].drug_id
    return Finding(
        kind=kind,
        drug=kb.drugs[drug].drug_id,
        other=other_id,
        other_kind=other_kind,
        severity=severity,
        evidence=evidence,
        mechanism=mechanism,
        effect=effect,
        title=t["title"],
        explanation=t["explain"],
        action=t["action"],
        advice=t["advice"],
        sources=tuple(dict.fromkeys(kb.cite(c) for c in cited)),
        confidence=None if confidence is None else round(float(confidence), 2),
        extra=extra,
    )


def food_finding(kb: Knowledge, t: SafetyTables, d: int, f: int) -> Finding | None:
    """The finding for one drug-food pair from the merged tables, or None."""
    sev = int(t.food_sev[d, f])
    if sev == 0:
        return None
    values = _values(kb, d, f, "food")
    if t.food_evidence[d, f] == 1:
        rows = [kb.known_food[i] for i in _rows_by_pair(kb)[0][(d, f)]]
        best = max(rows, key=lambda r: SEVERITIES.index(r.severity))
        rule = next((r for r in FOOD_RULES if r.mechanism == best.mechanism), None)
        values["enzyme"] = rule.enzyme if rule else ""
        return _finding(
            kb,
            "drug-food",
            d,
            f,
            "food",
            SEVERITIES[sev],
            "known",
            best.mechanism,
            best.effect,
            [r.cited for r in rows],
            values,
        )
    rule = FOOD_RULES[int(t.predictions.food_rule[d, f])]
    values["enzyme"] = rule.enzyme
    return _finding(
        kb,
        "drug-food",
        d,
        f,
        "food",
        SEVERITIES[sev],
        "predicted",
        rule.mechanism,
        rule.effect,
        rule_citations(kb, rule, d, f, "food"),
        values,
        float(t.predictions.food_conf[d, f]),
    )


def drug_finding(kb: Knowledge, t: SafetyTables, a: int, b: int) -> Finding | None:
    """The finding for one unordered drug pair, or None."""
    sev = int(t.dd_sev[a, b])
    if sev == 0:
        return None
    if t.dd_evidence[a, b] == 1:
        rows = [kb.known_drug[i] for i in _rows_by_pair(kb)[1][(min(a, b), max(a, b))]]
        best = max(rows, key=lambda r: SEVERITIES.index(r.severity))
        victim, perp = best.a, best.b
        values = _values(kb, victim, perp, "drug")
        values.update(consequence=best.consequence, consequence_ko=best.consequence_ko)
        rule = next((r for r in DRUG_RULES if r.mechanism == best.mechanism), None)
        values["enzyme"] = rule.enzyme if rule else ""
        return _finding(
            kb,
            "drug-drug",
            victim,
            perp,
            "drug",
            SEVERITIES[sev],
            "known",
            best.mechanism,
            best.effect,
            [r.cited for r in rows],
            values,
        )
    victim, perp = (a, b) if t.dd_victim_first[a, b] else (b, a)
    rule = DRUG_RULES[int(t.predictions.dd_rule[victim, perp])]
    values = _values(kb, victim, perp, "drug")
    values["enzyme"] = rule.enzyme
    return _finding(
        kb,
        "drug-drug",
        victim,
        perp,
        "drug",
        SEVERITIES[sev],
        "predicted",
        rule.mechanism,
        rule.effect,
        rule_citations(kb, rule, victim, perp, "drug"),
        values,
        float(t.predictions.dd_conf[victim, perp]),
    )


def _unresolved(kb: Knowledge, r: Resolution) -> Finding:
    other_kind = "food" if r.kind == "drug" else "drug"
    crossed = vocabulary_for(kb).resolve(r.query, other_kind)
    if crossed.resolved and crossed.how in {"exact", "atc"}:
        hint = f"{crossed.canonical} (a {other_kind}, not a {r.kind})"
        r = dataclasses.replace(r, suggestions=(hint, *r.suggestions))
    suggestions = ", ".join(r.suggestions) or "none"
    values = {"drug": r.query, "suggestions": suggestions}
    t = _texts(kb, "unresolved", values)
    return Finding(
        kind="unresolved",
        drug=r.query,
        other=None,
        other_kind=r.kind,
        severity="unknown",
        evidence="unresolved",
        mechanism="unresolved",
        effect=None,
        title=t["title"],
        explanation=t["explain"],
        action=t["action"],
        advice=t["advice"],
        sources=(),
        suggestions=r.suggestions,
        input_name=r.query,
    )


def elderly_findings(kb: Knowledge, drugs: Sequence[int], age: int) -> list[Finding]:
    """Potentially inappropriate medicines (cited criteria) and anticholinergic burden."""
    out: list[Finding] = []
    present = set(drugs)
    for c in kb.criteria:
        if age < c.min_age:
            continue
        for d in sorted(present.intersection(c.drugs)):
            values = _values(kb, d, None, None)
            values.update(criterion=c.summary_en, criterion_ko=c.summary_ko)
            out.append(
                _finding(
                    kb,
                    "elderly",
                    d,
                    None,
                    None,
                    c.severity,
                    "criterion",
                    "pim",
                    None,
                    [c.cited],
                    values,
                    extra={"criterion": c.criterion_id},
                )
            )
    if age >= ELDERLY_CHECK_AGE:
        ac = [d for d in sorted(set(drugs)) if kb.anticholinergic[d] > 0]
        # reported under the highest-scoring drug (ties: vocabulary order), as in the population
        top = max(ac, key=lambda d: (int(kb.anticholinergic[d]), d)) if ac else -1
        score = int(sum(int(kb.anticholinergic[d]) for d in ac))
        if score >= ANTICHOLINERGIC_THRESHOLD:
            names_en = ", ".join(f"{kb.drugs[d].name_en} {kb.anticholinergic[d]}" for d in ac)
            names_ko = ", ".join(f"{kb.drugs[d].name_ko} {kb.anticholinergic[d]}점" for d in ac)
            values = {"drug": names_en, "drug_ko": names_ko, "score": str(score)}
            t = _texts(kb, "anticholinergic", values)
            out.append(
                Finding(
                    kind="anticholinergic",
                    drug=kb.drugs[top].drug_id,
                    other=None,
                    other_kind=None,
                    severity="moderate",
                    evidence="criterion",
                    mechanism="anticholinergic",
                    effect=None,
                    title=t["title"],
                    explanation=t["explain"],
                    action=t["action"],
                    advice=t["advice"],
                    sources=tuple(dict.fromkeys(kb.cite(kb.anticholinergic_cited[d]) for d in ac)),
                    extra={"score": score, "drugs": [kb.drugs[d].drug_id for d in ac]},
                )
            )
    return out


def duplicate_findings(kb: Knowledge, drugs: Sequence[int]) -> list[Finding]:
    """Two or more drugs of the same ATC level-4 class (first five characters)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for d in sorted(drugs):  # vocabulary order, as in the population check
        groups[kb.drugs[d].atc[:5]].append(d)
    out: list[Finding] = []
    for atc4, members in sorted(groups.items()):
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                values = _values(kb, a, b, "drug")
                values["enzyme"] = f"ATC {atc4}"
                cited = [
                    Cited("who_atc", f"ATC level 4 {atc4}", "checker"),
                    Cited("stopp3", "duplicate drug class prescription criterion", "checker"),
                ]
                out.append(
                    _finding(
                        kb,
                        "duplicate",
                        a,
                        b,
                        "drug",
                        "moderate",
                        "criterion",
                        "duplicate",
                        None,
                        cited,
                        values,
                        extra={"atc4": atc4},
                    )
                )
    return out


def check(
    drugs: Sequence[str],
    foods: Sequence[str] = (),
    age: int | None = None,
    *,
    knowledge: Knowledge | None = None,
    strict: bool = False,
) -> list[Finding]:
    """Check one person's medicines against each other, their diet, and (65+) age criteria.

    Returns findings ranked by severity (known before criterion before predicted).  Unknown
    names give ``unresolved`` findings with suggestions, or raise NotFoundError if ``strict``.
    """
    kb = knowledge or default_knowledge()
    if age is not None and not 0 <= age <= 130:
        raise InputError("age out of range", field="age", reason="expected 0-130")
    vocab = vocabulary_for(kb)
    t = tables_for(kb)
    resolved_d = [vocab.resolve(n, "drug") for n in drugs if n.strip()]
    resolved_f = [vocab.resolve(n, "food") for n in foods if n.strip()]
    missing = [r for r in (*resolved_d, *resolved_f) if not r.resolved]
    if missing and strict:
        first = _unresolved(kb, missing[0])
        raise NotFoundError(
            f"unknown {missing[0].kind} name(s): {', '.join(repr(r.query) for r in missing)}",
            suggestions=list(first.suggestions),
            field=missing[0].kind,
        )
    findings = [_unresolved(kb, r) for r in missing]
    di = list(dict.fromkeys(r.index for r in resolved_d if r.index is not None))
    fi = list(dict.fromkeys(r.index for r in resolved_f if r.index is not None))
    if di and fi:
        sub = t.food_sev[np.ix_(di, fi)]
        for x, y in zip(*np.nonzero(sub), strict=True):
            f = food_finding(kb, t, di[x], fi[y])
            if f is not None:
                findings.append(f)
    if len(di) > 1:
        sub = np.triu(t.dd_sev[np.ix_(di, di)], 1)
        for x, y in zip(*np.nonzero(sub), strict=True):
            f = drug_finding(kb, t, di[x], di[y])
            if f is not None:
                findings.append(f)
    findings.extend(duplicate_findings(kb, di))
    if age is not None:
        findings.extend(elderly_findings(kb, di, age))
    fuzzy = [r for r in (*resolved_d, *resolved_f) if r.how == "fuzzy"]
    for r in fuzzy:
        log.info("interpreted %r as %s (score %.0f)", r.query, r.canonical, r.score)
    return sorted(findings, key=_sort_key)


def resolve_names(
    names: Sequence[str], kind: str, knowledge: Knowledge | None = None
) -> list[Resolution]:
    """Resolve names without checking (for the CLI's "interpreted as" lines)."""
    kb = knowledge or default_knowledge()
    vocab = vocabulary_for(kb)
    return [vocab.resolve(n, kind) for n in names if n.strip()]
