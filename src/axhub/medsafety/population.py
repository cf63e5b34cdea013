"""Population checks in one vectorised pass (NumPy + Arrow; no Python loop per person).

``check_population`` takes long tables (person_id, drug), optionally (person_id, food) and
(person_id, age), and returns one row per finding.  Names are resolved once per *distinct*
name; pairs are formed with sort/offset tricks over whole arrays; severities come from the
precomputed vocabulary-wide tables, so the cost is linear in the number of pairs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from axhub.errors import InputError
from axhub.medsafety.checker import ANTICHOLINERGIC_THRESHOLD, ELDERLY_CHECK_AGE
from axhub.medsafety.inference import DRUG_RULES, FOOD_RULES, SafetyTables, tables_for
from axhub.medsafety.knowledge import SEVERITIES, Knowledge, default_knowledge
from axhub.medsafety.vocabulary import vocabulary_for

log = logging.getLogger(__name__)

KINDS = ("drug-food", "drug-drug", "duplicate", "elderly", "anticholinergic", "unresolved")
EVIDENCE = ("none", "known", "predicted", "criterion", "unresolved")
OUTPUT_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("kind", pa.string()),
        ("drug", pa.string()),
        ("other", pa.string()),
        ("severity", pa.string()),
        ("severity_rank", pa.int8()),
        ("evidence", pa.string()),
        ("mechanism", pa.string()),
        ("confidence", pa.float32()),
        ("detail", pa.string()),
    ]
)


@dataclass(frozen=True)
class _Lookups:
    mechanisms: tuple[str, ...]
    food_mech: np.ndarray  # int16 [n_drugs, n_foods] index into mechanisms
    dd_mech: np.ndarray  # int16 symmetric
    dd_first: np.ndarray  # bool: row drug is reported as "drug" (the affected one)
    drug_ids: pa.Array
    food_ids: pa.Array
    atc4: np.ndarray  # int32 code of the ATC level-4 class per drug
    atc4_names: tuple[str, ...]
    criteria: np.ndarray  # bool [n_drugs, n_criteria]
    criteria_age: np.ndarray  # int16 [n_criteria]
    criteria_sev: np.ndarray  # int8 [n_criteria]
    criteria_ids: tuple[str, ...]


@lru_cache(maxsize=4)
def _lookups(kb: Knowledge) -> _Lookups:
    t = tables_for(kb)
    mechs = sorted(
        {r.mechanism for r in (*FOOD_RULES, *DRUG_RULES)}
        | {r.mechanism for r in (*kb.known_food, *kb.known_drug)}
        | {"pim", "duplicate", "anticholinergic", "unresolved"}
    )
    m_ix = {m: i for i, m in enumerate(mechs)}
    food_rule_m = np.array([m_ix[r.mechanism] for r in FOOD_RULES] + [0], dtype=np.int16)
    drug_rule_m = np.array([m_ix[r.mechanism] for r in DRUG_RULES] + [0], dtype=np.int16)
    food_mech = food_rule_m[t.predictions.food_rule]  # -1 maps to the sentinel
    for d, f in zip(*np.nonzero(t.food_known_row >= 0), strict=True):
        food_mech[d, f] = m_ix[kb.known_food[t.food_known_row[d, f]].mechanism]
    victim_first = t.dd_victim_first
    pred_rule = np.where(victim_first, t.predictions.dd_rule, t.predictions.dd_rule.T)
    dd_mech = drug_rule_m[pred_rule]
    dd_first = victim_first.copy()
    for a, b in zip(*np.nonzero(t.dd_known_row >= 0), strict=True):
        row = kb.known_drug[t.dd_known_row[a, b]]
        dd_mech[a, b] = m_ix[row.mechanism]
        dd_first[a, b] = row.a == a
    atc4_names = tuple(sorted({d.atc[:5] for d in kb.drugs}))
    a_ix = {a: i for i, a in enumerate(atc4_names)}
    crit = np.zeros((len(kb.drugs), len(kb.criteria)), dtype=bool)
    for c_i, c in enumerate(kb.criteria):
        crit[list(c.drugs), c_i] = True
    return _Lookups(
        mechanisms=tuple(mechs),
        food_mech=food_mech,
        dd_mech=dd_mech,
        dd_first=dd_first,
        drug_ids=pa.array([d.drug_id for d in kb.drugs]),
        food_ids=pa.array([f.food_id for f in kb.foods]),
        atc4=np.array([a_ix[d.atc[:5]] for d in kb.drugs], dtype=np.int32),
        atc4_names=atc4_names,
        criteria=crit,
        criteria_age=np.array([c.min_age for c in kb.criteria], dtype=np.int16),
        criteria_sev=np.array([SEVERITIES.index(c.severity) for c in kb.criteria], dtype=np.int8),
        criteria_ids=tuple(c.criterion_id for c in kb.criteria),
    )


def _column(table: pa.Table, name: str, where: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise InputError(f"{where} table lacks column {name!r}", field=name, path=where)
    return table.column(name)


def _resolve(kb: Knowledge, names: pa.ChunkedArray, kind: str) -> tuple[np.ndarray, pa.Array]:
    """Index per row (-1 unresolved), resolving each distinct name once."""
    names = pc.cast(names, pa.string())
    uniq = pc.unique(names)
    vocab = vocabulary_for(kb)
    idx = np.array(
        [
            -1 if (r := vocab.resolve(n or "", kind)).index is None else r.index
            for n in uniq.to_pylist()
        ],
        dtype=np.int32,
    )
    codes = pc.index_in(names, value_set=uniq).to_numpy(zero_copy_only=False)
    codes = np.nan_to_num(codes, nan=0).astype(np.int64) if codes.dtype.kind == "f" else codes
    return idx[codes], names.combine_chunks()


def _unique_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based: faster than np.unique's hash path here)."""
    if len(values) == 0:
        return values
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _pairs_within(
    groups: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (group, i, j) pairs of distinct rows within equal groups (rows sorted by group)."""
    if len(groups) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])
    longest = int(np.diff(starts).max())
    out_g, out_a, out_b = [], [], []
    for k in range(1, longest):  # loop over offsets (<= regimen size), not people
        same = groups[:-k] == groups[k:]
        out_g.append(groups[:-k][same])
        out_a.append(values[:-k][same])
        out_b.append(values[k:][same])
    if not out_g:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(out_g), np.concatenate(out_a), np.concatenate(out_b)


@dataclass
class _Batch:
    """Shared state of one population pass: the person index and the lookup tables."""

    kb: Knowledge
    t: SafetyTables
    lk: _Lookups
    persons: pa.Array

    def codes(self, col: pa.ChunkedArray) -> np.ndarray:
        """Row -> person index."""
        found = pc.index_in(pc.cast(col, pa.string()), value_set=self.persons)
        return found.to_numpy(zero_copy_only=False).astype(np.int64)

    def frame(
        self,
        p: np.ndarray,
        kind: str,
        drug: pa.Array,
        *,
        severity: np.ndarray,
        evidence: int | np.ndarray,
        mechanism: str | np.ndarray,
        other: pa.Array | None = None,
        confidence: np.ndarray | None = None,
        detail: pa.Array | None = None,
    ) -> pa.Table:
        """Rows of OUTPUT_SCHEMA; scalar evidence/mechanism apply to every row."""
        n = len(p)
        if isinstance(evidence, int):
            evidence = np.full(n, evidence)
        if isinstance(mechanism, str):
            mechanism = np.full(n, self.lk.mechanisms.index(mechanism))
        sev_names = pa.array([*SEVERITIES, "unknown"])
        conf = (
            pa.array(confidence, pa.float32(), from_pandas=True)
            if confidence is not None
            else pa.nulls(n, pa.float32())
        )
        return pa.table(
            {
                "person_id": pc.cast(self.persons.take(pa.array(p)), pa.string()),
                "kind": pa.repeat(pa.scalar(kind, pa.string()), n),
                "drug": drug,
                "other": other if other is not None else pa.nulls(n, pa.string()),
                "severity": sev_names.take(pa.array(severity.astype(np.int64))),
                "severity_rank": pa.array(np.where(severity > 4, -1, severity).astype(np.int8)),
                "evidence": pa.array(list(EVIDENCE)).take(pa.array(evidence.astype(np.int64))),
                "mechanism": pa.array(list(self.lk.mechanisms)).take(
                    pa.array(mechanism.astype(np.int64))
                ),
                "confidence": conf,
                "detail": detail if detail is not None else pa.nulls(n, pa.string()),
            },
            schema=OUTPUT_SCHEMA,
        )

    def drugs(self, index: np.ndarray) -> pa.Array:
        return self.lk.drug_ids.take(pa.array(index))

    def strings(self, names: tuple[str, ...], index: np.ndarray) -> pa.Array:
        return pa.array(np.array(names, dtype=object)[index] if len(index) else [], pa.string())


_UNKNOWN, _UNRESOLVED_EV, _CRITERION_EV = 5, 4, 3  # severity / evidence codes


def _unresolved_rows(b: _Batch, p: np.ndarray, names: pa.Array, what: str) -> pa.Table:
    log.warning("%d %s rows with unrecognised names", len(p), what)
    return b.frame(
        p,
        "unresolved",
        names,
        severity=np.full(len(p), _UNKNOWN),
        evidence=_UNRESOLVED_EV,
        mechanism="unresolved",
        detail=pa.repeat(pa.scalar(what, pa.string()), len(p)),
    )


def _drug_drug(b: _Batch, rp: np.ndarray, rd: np.ndarray) -> pa.Table:
    g, x, y = _pairs_within(rp, rd)
    sev = b.t.dd_sev[x, y]
    keep = sev > 0
    g, x, y, sev = g[keep], x[keep], y[keep], sev[keep]
    first = b.lk.dd_first[x, y]  # report the affected drug first
    conf = np.where(
        b.t.dd_evidence[x, y] == 2,
        np.maximum(b.t.predictions.dd_conf[x, y], b.t.predictions.dd_conf[y, x]),
        np.nan,
    )
    return b.frame(
        g,
        "drug-drug",
        b.drugs(np.where(first, x, y)),
        other=b.drugs(np.where(first, y, x)),
        severity=sev,
        evidence=b.t.dd_evidence[x, y],
        mechanism=b.lk.dd_mech[x, y],
        confidence=conf,
    )


def _duplicates(b: _Batch, rp: np.ndarray, rd: np.ndarray) -> pa.Table:
    n_classes = len(b.lk.atc4_names)
    order = np.lexsort((rd, b.lk.atc4[rd], rp))
    g, x, y = _pairs_within(rp[order] * n_classes + b.lk.atc4[rd[order]], rd[order])
    return b.frame(
        g // n_classes,
        "duplicate",
        b.drugs(x),
        other=b.drugs(y),
        severity=np.full(len(g), SEVERITIES.index("moderate")),
        evidence=_CRITERION_EV,
        mechanism="duplicate",
        detail=b.strings(b.lk.atc4_names, b.lk.atc4[x]),
    )


def _drug_food(
    b: _Batch, rp: np.ndarray, rd: np.ndarray, fp: np.ndarray, ff: np.ndarray
) -> pa.Table:
    """Cross each person's foods with their drugs (searchsorted ranges, no per-person loop)."""
    start = np.searchsorted(rp, fp, "left")
    cnt = np.searchsorted(rp, fp, "right") - start
    offs = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    d = rd[np.repeat(start, cnt) + offs]
    f, p = np.repeat(ff, cnt), np.repeat(fp, cnt)
    sev = b.t.food_sev[d, f]
    keep = sev > 0
    d, f, p, sev = d[keep], f[keep], p[keep], sev[keep]
    ev = b.t.food_evidence[d, f]
    return b.frame(
        p,
        "drug-food",
        b.drugs(d),
        other=b.lk.food_ids.take(pa.array(f)),
        severity=sev,
        evidence=ev,
        mechanism=b.lk.food_mech[d, f],
        confidence=np.where(ev == 2, b.t.predictions.food_conf[d, f], np.nan),
    )


def _elderly(b: _Batch, rp: np.ndarray, rd: np.ndarray, age: np.ndarray) -> list[pa.Table]:
    """Criteria rows per (person, drug) and one anticholinergic-burden row per person."""
    hit = b.lk.criteria[rd] & (age[rp][:, None] >= b.lk.criteria_age[None, :])
    r, c = np.nonzero(hit)
    pim = b.frame(
        rp[r],
        "elderly",
        b.drugs(rd[r]),
        severity=b.lk.criteria_sev[c],
        evidence=_CRITERION_EV,
        mechanism="pim",
        detail=b.strings(b.lk.criteria_ids, c),
    )
    points = b.kb.anticholinergic[rd].astype(np.int32)
    score = np.bincount(rp, weights=points, minlength=len(b.persons)).astype(np.int32)
    top = np.full(len(b.persons), -1, dtype=np.int64)
    order = np.lexsort((points, rp))  # the last row per person is its top-scoring drug
    top[rp[order]] = rd[order]
    who = np.nonzero((score >= ANTICHOLINERGIC_THRESHOLD) & (age >= ELDERLY_CHECK_AGE))[0]
    burden = b.frame(
        who,
        "anticholinergic",
        b.drugs(top[who]),
        severity=np.full(len(who), SEVERITIES.index("moderate")),
        evidence=_CRITERION_EV,
        mechanism="anticholinergic",
        detail=pc.cast(pa.array(score[who]), pa.string()),
    )
    return [pim, burden]


def check_population(
    regimens: pa.Table,
    diets: pa.Table | None = None,
    ages: pa.Table | None = None,
    *,
    knowledge: Knowledge | None = None,
) -> pa.Table:
    """Findings for many people at once.

    ``regimens``: (person_id, drug); ``diets``: (person_id, food) or None; ``ages``:
    (person_id, age) or None (then no elderly criteria are applied).  Unknown names are
    reported as ``unresolved`` rows, never dropped.  Returns :data:`OUTPUT_SCHEMA`.
    """
    kb = knowledge or default_knowledge()
    reg_p = _column(regimens, "person_id", "regimens")
    reg_d, reg_names = _resolve(kb, _column(regimens, "drug", "regimens"), "drug")
    id_cols = [reg_p]
    if diets is not None:
        diet_p = _column(diets, "person_id", "diets")
        diet_f, diet_names = _resolve(kb, _column(diets, "food", "diets"), "food")
        id_cols.append(diet_p)
    if ages is not None:
        age_p = _column(ages, "person_id", "ages")
        id_cols.append(age_p)
    persons = pc.unique(
        pa.chunked_array(
            [pc.cast(c, pa.string()).combine_chunks() for c in id_cols]
        ).combine_chunks()
    )
    b = _Batch(kb, tables_for(kb), _lookups(kb), persons)

    parts: list[pa.Table] = []
    rp_all = b.codes(reg_p)
    bad = reg_d < 0
    if bad.any():
        parts.append(_unresolved_rows(b, rp_all[bad], reg_names.filter(pa.array(bad)), "drug"))
    key = _unique_sorted(rp_all[~bad] * len(kb.drugs) + reg_d[~bad])
    rp, rd = key // len(kb.drugs), key % len(kb.drugs)  # sorted by person, then drug
    parts += [_drug_drug(b, rp, rd), _duplicates(b, rp, rd)]
    if diets is not None:
        fp_all = b.codes(diet_p)
        fbad = diet_f < 0
        if fbad.any():
            parts.append(
                _unresolved_rows(b, fp_all[fbad], diet_names.filter(pa.array(fbad)), "food")
            )
        fkey = _unique_sorted(fp_all[~fbad] * len(kb.foods) + diet_f[~fbad])
        parts.append(_drug_food(b, rp, rd, fkey // len(kb.foods), fkey % len(kb.foods)))
    if ages is not None:
        age = np.full(len(persons), -1, dtype=np.int32)
        values = pc.cast(_column(ages, "age", "ages"), pa.int32()).to_numpy(zero_copy_only=False)
        age[b.codes(age_p)] = np.nan_to_num(values, nan=-1).astype(np.int32)
        parts += _elderly(b, rp, rd, age)
    out = pa.concat_tables(parts)
    return out.sort_by([("severity_rank", "descending"), ("person_id", "ascending")])


def regimens_from_view(
    view: pa.Table,
    person_column: str = "patient_id",
    statuses: tuple[str, ...] = ("active",),
) -> pa.Table:
    """(person_id, drug) from the ``medication_requests`` SQL-on-FHIR view output.

    Keeps requests whose ``status`` is in ``statuses``; the drug is the ATC code, or the ATC
    display text where the code is missing (both resolve in the vocabulary).  Rows with
    neither are kept with an empty name so that they surface as ``unresolved``.
    """
    status = _column(view, "status", "medication_requests view")
    rows = view.filter(pc.is_in(status, value_set=pa.array(list(statuses), pa.string())))
    code = pc.cast(_column(rows, "atc_code", "medication_requests view"), pa.string())
    display = pc.cast(_column(rows, "atc_display", "medication_requests view"), pa.string())
    drug = pc.coalesce(code, display, pa.scalar("", pa.string()))
    person = pc.cast(_column(rows, person_column, "medication_requests view"), pa.string())
    return pa.table({"person_id": person, "drug": drug})


def select_older_polypharmacy(
    regimens: pa.Table, ages: pa.Table, min_age: int = 65, min_drugs: int = 5
) -> tuple[pa.Table, pa.Table]:
    """Keep people aged >= ``min_age`` taking >= ``min_drugs`` distinct medicines (vectorised)."""
    _column(regimens, "drug", "regimens")
    _column(ages, "age", "ages")
    reg = regimens.set_column(
        regimens.schema.get_field_index("person_id"),
        "person_id",
        pc.cast(_column(regimens, "person_id", "regimens"), pa.string()),
    )
    age = ages.set_column(
        ages.schema.get_field_index("person_id"),
        "person_id",
        pc.cast(_column(ages, "person_id", "ages"), pa.string()),
    )
    counts = reg.group_by("person_id").aggregate([("drug", "count_distinct")])
    many = counts.filter(pc.greater_equal(counts["drug_count_distinct"], min_drugs))["person_id"]
    old = age.filter(pc.greater_equal(age["age"], min_age))
    keep = pc.filter(old["person_id"], pc.is_in(old["person_id"], value_set=many.combine_chunks()))
    return (
        reg.filter(pc.is_in(reg["person_id"], value_set=keep)),
        old.filter(pc.is_in(old["person_id"], value_set=keep)),
    )


def summarise(findings: pa.Table, min_rank: int = 3, top: int = 10) -> pa.Table:
    """Most common findings at or above ``min_rank`` (3 major), with people counts."""
    sel = findings.filter(pc.greater_equal(findings["severity_rank"], min_rank))
    grouped = sel.group_by(
        ["kind", "drug", "other", "severity", "evidence", "mechanism"]
    ).aggregate([("person_id", "count_distinct")])
    grouped = grouped.rename_columns([*grouped.column_names[:-1], "people"])
    return grouped.sort_by([("people", "descending"), ("drug", "ascending")]).slice(0, top)
