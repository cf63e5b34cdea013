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


def _frame(
    persons: pa.Array,
    p: np.ndarray,
    kind: str,
    drug: pa.Array,
    other: pa.Array | None,
    sev: np.ndarray,
    evidence: np.ndarray,
    mech: np.ndarray,
    mech_names: tuple[str, ...],
    conf: np.ndarray | None,
    detail: pa.Array | None,
) -> pa.Table:
    n = len(p)
    sev_names = pa.array([*SEVERITIES, "unknown"])
    return pa.table(
        {
            "person_id": pc.cast(persons.take(pa.array(p)), pa.string()),
            "kind": pa.repeat(pa.scalar(kind, pa.string()), n),
            "drug": drug,
            "other": other if other is not None else pa.nulls(n, pa.string()),
            "severity": sev_names.take(pa.array(sev.astype(np.int64))),
            "severity_rank": pa.array(np.where(sev > 4, -1, sev).astype(np.int8)),
            "evidence": pa.array(list(EVIDENCE)).take(pa.array(evidence.astype(np.int64))),
            "mechanism": pa.array(list(mech_names)).take(pa.array(mech.astype(np.int64))),
            "confidence": pa.array(conf, pa.float32(), from_pandas=True)
            if conf is not None
            else pa.nulls(n, pa.float32()),
            "detail": detail if detail is not None else pa.nulls(n, pa.string()),
        },
        schema=OUTPUT_SCHEMA,
    )


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
    t: SafetyTables = tables_for(kb)
    lk = _lookups(kb)
    reg_p = _column(regimens, "person_id", "regimens")
    reg_d, reg_names = _resolve(kb, _column(regimens, "drug", "regimens"), "drug")
    id_cols = [pc.cast(reg_p, pa.string())]
    if diets is not None:
        diet_p = _column(diets, "person_id", "diets")
        diet_f, diet_names = _resolve(kb, _column(diets, "food", "diets"), "food")
        id_cols.append(pc.cast(diet_p, pa.string()))
    if ages is not None:
        age_p = _column(ages, "person_id", "ages")
        id_cols.append(pc.cast(age_p, pa.string()))
    persons = pc.unique(pa.chunked_array([c.combine_chunks() for c in id_cols]).combine_chunks())

    def codes(col: pa.ChunkedArray) -> np.ndarray:
        return (
            pc.index_in(pc.cast(col, pa.string()), value_set=persons)
            .to_numpy(zero_copy_only=False)
            .astype(np.int64)
        )

    parts: list[pa.Table] = []
    rp_all = codes(reg_p)
    bad = reg_d < 0
    if bad.any():
        n_bad = int(bad.sum())
        log.warning("%d regimen rows with unrecognised drug names", n_bad)
        names = reg_names.filter(pa.array(bad))
        mech_ix = np.full(n_bad, lk.mechanisms.index("unresolved"))
        parts.append(
            _frame(
                persons,
                rp_all[bad],
                "unresolved",
                names,
                None,
                np.full(n_bad, 5),
                np.full(n_bad, 4),
                mech_ix,
                lk.mechanisms,
                None,
                None,
            )
        )
    key = _unique_sorted(rp_all[~bad] * len(kb.drugs) + reg_d[~bad])
    rp, rd = key // len(kb.drugs), key % len(kb.drugs)  # sorted by person, then drug

    # drug-drug
    g, a, b = _pairs_within(rp, rd)
    sev = t.dd_sev[a, b]
    keep = sev > 0
    g, a, b, sev = g[keep], a[keep], b[keep], sev[keep]
    first = lk.dd_first[a, b]
    drug, other = np.where(first, a, b), np.where(first, b, a)
    conf = np.where(
        t.dd_evidence[a, b] == 2,
        np.maximum(t.predictions.dd_conf[a, b], t.predictions.dd_conf[b, a]),
        np.nan,
    )
    parts.append(
        _frame(
            persons,
            g,
            "drug-drug",
            lk.drug_ids.take(pa.array(drug)),
            lk.drug_ids.take(pa.array(other)),
            sev,
            t.dd_evidence[a, b],
            lk.dd_mech[a, b],
            lk.mechanisms,
            conf,
            None,
        )
    )

    # duplicates (same ATC level 4)
    order = np.lexsort((rd, lk.atc4[rd], rp))
    grp = rp[order] * len(lk.atc4_names) + lk.atc4[rd[order]]
    g2, a2, b2 = _pairs_within(grp, rd[order])
    n2 = len(g2)
    parts.append(
        _frame(
            persons,
            g2 // len(lk.atc4_names),
            "duplicate",
            lk.drug_ids.take(pa.array(a2)),
            lk.drug_ids.take(pa.array(b2)),
            np.full(n2, 2),
            np.full(n2, 3),
            np.full(n2, lk.mechanisms.index("duplicate")),
            lk.mechanisms,
            None,
            pa.array(np.array(lk.atc4_names, dtype=object)[lk.atc4[a2]] if n2 else [], pa.string()),
        )
    )

    # drug-food
    if diets is not None:
        fp_all = codes(diet_p)
        fbad = diet_f < 0
        if fbad.any():
            n_bad = int(fbad.sum())
            log.warning("%d diet rows with unrecognised food names", n_bad)
            parts.append(
                _frame(
                    persons,
                    fp_all[fbad],
                    "unresolved",
                    diet_names.filter(pa.array(fbad)),
                    None,
                    np.full(n_bad, 5),
                    np.full(n_bad, 4),
                    np.full(n_bad, lk.mechanisms.index("unresolved")),
                    lk.mechanisms,
                    None,
                    pa.array(["food"] * n_bad),
                )
            )
        fkey = _unique_sorted(fp_all[~fbad] * len(kb.foods) + diet_f[~fbad])
        fp, ff = fkey // len(kb.foods), fkey % len(kb.foods)
        start = np.searchsorted(rp, fp, "left")
        cnt = np.searchsorted(rp, fp, "right") - start
        total = int(cnt.sum())
        offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        pd_ = rd[np.repeat(start, cnt) + offs]
        pf, pp = np.repeat(ff, cnt), np.repeat(fp, cnt)
        fsev = t.food_sev[pd_, pf]
        keep = fsev > 0
        pd_, pf, pp, fsev = pd_[keep], pf[keep], pp[keep], fsev[keep]
        ev = t.food_evidence[pd_, pf]
        fconf = np.where(ev == 2, t.predictions.food_conf[pd_, pf], np.nan)
        parts.append(
            _frame(
                persons,
                pp,
                "drug-food",
                lk.drug_ids.take(pa.array(pd_)),
                lk.food_ids.take(pa.array(pf)),
                fsev,
                ev,
                lk.food_mech[pd_, pf],
                lk.mechanisms,
                fconf,
                None,
            )
        )

    # elderly criteria and anticholinergic burden
    if ages is not None:
        age_arr = np.full(len(persons), -1, dtype=np.int32)
        age_vals = pc.cast(_column(ages, "age", "ages"), pa.int32()).to_numpy(zero_copy_only=False)
        age_arr[codes(age_p)] = np.nan_to_num(age_vals, nan=-1).astype(np.int32)
        page = age_arr[rp]
        hit = lk.criteria[rd] & (page[:, None] >= lk.criteria_age[None, :])
        r_i, c_i = np.nonzero(hit)
        parts.append(
            _frame(
                persons,
                rp[r_i],
                "elderly",
                lk.drug_ids.take(pa.array(rd[r_i])),
                None,
                lk.criteria_sev[c_i],
                np.full(len(r_i), 3),
                np.full(len(r_i), lk.mechanisms.index("pim")),
                lk.mechanisms,
                None,
                pa.array(
                    np.array(lk.criteria_ids, dtype=object)[c_i] if len(c_i) else [], pa.string()
                ),
            )
        )
        points = kb.anticholinergic[rd].astype(np.int32)
        score = np.bincount(rp, weights=points, minlength=len(persons)).astype(np.int32)
        top = np.full(len(persons), -1, dtype=np.int64)
        top_pts = np.zeros(len(persons), dtype=np.int32)
        order = np.lexsort((points, rp))  # last row per person holds its top-scoring drug
        top[rp[order]] = rd[order]
        top_pts[rp[order]] = points[order]
        who = np.nonzero((score >= ANTICHOLINERGIC_THRESHOLD) & (age_arr >= ELDERLY_CHECK_AGE))[0]
        parts.append(
            _frame(
                persons,
                who,
                "anticholinergic",
                lk.drug_ids.take(pa.array(top[who])),
                None,
                np.full(len(who), 2),
                np.full(len(who), 3),
                np.full(len(who), lk.mechanisms.index("anticholinergic")),
                lk.mechanisms,
                None,
                pc.cast(pa.array(score[who]), pa.string()),
            )
        )
        del top_pts
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
