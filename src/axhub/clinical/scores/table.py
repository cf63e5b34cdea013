"""``score_table``: every score for every row of a population table, in one vectorised pass.

The registry below is explicit and ordered; each entry is a documented score id (docs/scores.md
lists them all, and a test fails when one is not documented).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from axhub.clinical.scores import af, ageing, cvd, diabetes, kidney, news2, prevent, tia
from axhub.clinical.scores.columns import Inputs, _as_table, read_inputs
from axhub.clinical.scores.result import Score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreSpec:
    id: str
    unit: str
    title: str
    source: str


_P = "probability (0–1)"
_PCE = "Goff 2014 (ACC/AHA PCE)"
_PREV = "Khan 2024 (AHA PREVENT, base model)"
SCORES: tuple[ScoreSpec, ...] = (
    ScoreSpec("pce_ascvd_10y", _P, "10-y hard ASCVD, Pooled Cohort Equations 2013", _PCE),
    ScoreSpec("pce2018_ascvd_10y", _P, "10-y ASCVD, revised PCE", "Yadlowsky 2018"),
    ScoreSpec("framingham_cvd_10y", _P, "10-y general CVD, lipid model", "D'Agostino 2008"),
    ScoreSpec("framingham_cvd_bmi_10y", _P, "10-y general CVD, BMI model", "D'Agostino 2008"),
    ScoreSpec("fsrp_points", "points", "Framingham Stroke Risk Profile (men)", "Wolf 1991/1994"),
    ScoreSpec("fsrp_stroke_10y", _P, "10-y stroke probability from FSRP points", "Wolf 1991/1994"),
    *(
        ScoreSpec(f"prevent_{o}_{h}y", _P, f"{h}-y {o.upper()} risk, PREVENT base", _PREV)
        for h in prevent.HORIZONS
        for o in prevent.OUTCOMES
    ),
    ScoreSpec("cha2ds2vasc", "points (0–9)", "CHA2DS2-VASc stroke risk in AF", "Lip 2010"),
    ScoreSpec("hasbled", "points (0–9)", "HAS-BLED bleeding risk", "Pisters 2010"),
    ScoreSpec("abcd2", "points (0–7)", "ABCD2 stroke risk after TIA", "Johnston 2007"),
    ScoreSpec(
        "egfr_ckdepi2021_cr", "mL/min/1.73 m²", "eGFR, CKD-EPI 2021 creatinine", "Inker 2021"
    ),
    ScoreSpec("egfr_ckdepi2021_crcys", "mL/min/1.73 m²", "eGFR, CKD-EPI 2021 cr–cys", "Inker 2021"),
    ScoreSpec("kfre_2y", _P, "2-y kidney failure, KFRE 4-var non-N-American", "Tangri 2011/2016"),
    ScoreSpec("kfre_5y", _P, "5-y kidney failure, KFRE 4-var non-N-American", "Tangri 2011/2016"),
    ScoreSpec("findrisc", "points (0–26)", "FINDRISC type 2 diabetes risk", "Lindström 2003"),
    ScoreSpec("phenoage", "years", "Levine phenotypic age", "Levine 2018"),
    ScoreSpec("kdm_bioage", "years", "Klemera–Doubal biological age", "Klemera 2006; Levine 2013"),
    ScoreSpec("efi", "fraction (count/36)", "electronic Frailty Index", "Clegg 2016"),
    ScoreSpec("efi_category", "fit/mild/moderate/severe", "eFI category", "Clegg 2016"),
    ScoreSpec("news2", "points (0–20)", "National Early Warning Score 2", "RCP 2017"),
    ScoreSpec("news2_risk", "low/low-medium/medium/high", "NEWS2 clinical risk", "RCP 2017"),
)
SCORE_IDS: tuple[str, ...] = tuple(s.id for s in SCORES)


def compute_scores(x: Inputs, *, kdm: ageing.KdmModel | None = None) -> dict[str, Score]:
    """Every registered score over parsed inputs (order matters only for the derived eGFR)."""
    out: dict[str, Score] = {}
    out["egfr_ckdepi2021_cr"] = kidney.egfr_cr(x)
    kidney.derive_egfr(x, out["egfr_ckdepi2021_cr"])
    families: list[Callable[[Inputs], Any]] = [
        lambda i: {"pce_ascvd_10y": cvd.pce_2013(i)},
        lambda i: {"pce2018_ascvd_10y": cvd.pce_2018(i)},
        lambda i: {"framingham_cvd_10y": cvd.framingham_lipid(i)},
        lambda i: {"framingham_cvd_bmi_10y": cvd.framingham_bmi(i)},
        cvd.fsrp,
        prevent.prevent,
        lambda i: {"cha2ds2vasc": af.cha2ds2vasc(i), "hasbled": af.hasbled(i)},
        lambda i: {"abcd2": tia.abcd2(i)},
        lambda i: {"egfr_ckdepi2021_crcys": kidney.egfr_crcys(i)},
        kidney.kfre,
        lambda i: {"findrisc": diabetes.findrisc(i)},
        lambda i: {"phenoage": ageing.phenoage(i), "kdm_bioage": ageing.kdm_apply(i, kdm)},
        ageing.efi,
        news2.news2,
    ]
    for family in families:
        out.update(family(x))
    missing = set(SCORE_IDS) - set(out)
    if missing:  # a registry/compute mismatch is a programming error, caught by the tests
        raise AssertionError(f"scores not computed: {sorted(missing)}")
    return out


def score_table(
    data: Any,
    *,
    kdm: ageing.KdmModel | None = None,
    keep: Sequence[str] = ("person_id",),
    path: str = "<table>",
    first_line: int | None = None,
    problems: dict[str, int] | None = None,
) -> pa.Table:
    """Compute every score for every row of ``data`` (pyarrow Table, DuckDB relation, or a
    mapping of column → array) read from the documented input columns.

    Returns the ``keep`` columns that exist, then per score id ``<id>`` and ``<id>_reason``
    (null where computed; "not computable: …" otherwise — a row never has both).
    Unreadable input columns raise InputError naming ``path``, the column and the row (or the
    file line when ``first_line`` gives the line of the first data row).  If ``problems`` is
    given, it receives the count of excluded implausible values per input column.
    """
    table = _as_table(data)
    x = read_inputs(table, path=path, first_line=first_line)
    scores = compute_scores(x, kdm=kdm)
    if problems is not None:
        problems.update(x.problem_counts())
    names: list[str] = []
    arrays: list[pa.Array] = []
    for col in keep:
        if col in table.column_names:
            names.append(col)
            arrays.append(table.column(col))
    for spec in SCORES:
        s = scores[spec.id]
        names += [spec.id, f"{spec.id}_reason"]
        arrays += [s.to_arrow(), s.reasons.to_arrow()]
    log.info(
        "scored %d rows: %s computable per score (min–max)",
        x.n,
        _span([int(np.count_nonzero(s.reasons.ok)) for s in scores.values()]),
    )
    return pa.Table.from_arrays(arrays, names=names)


def _span(counts: list[int]) -> str:
    return f"{min(counts)}–{max(counts)}" if counts else "0"


def summarise(scored: pa.Table) -> dict[str, dict[str, int]]:
    """Per score id: rows computed and rows not computable (from a ``score_table`` result)."""
    out = {}
    for spec in SCORES:
        reason = scored.column(f"{spec.id}_reason")
        not_comp = len(reason) - reason.null_count
        out[spec.id] = {"computed": len(reason) - not_comp, "not_computable": not_comp}
    return out


__all__ = ["SCORES", "SCORE_IDS", "ScoreSpec", "compute_scores", "score_table", "summarise"]
