"""Chronic-disease prediction models: specification, training, held-out evaluation.

Each model is a scikit-learn pipeline (median imputation → standardisation → L2 logistic
regression) over a documented feature list; lab features also get a ``<name>_measured``
indicator (whether a value was on record — in routine data, being tested carries information).
A model is trained from a seed and a manifest: the same table, spec and seed give identical
coefficients, metrics and model hash (test).  Evaluation is on held-out people: AUROC with
bootstrap CI, calibration intercept/slope, Brier score, subgroups (sex, age band, urban dong vs
eup/myeon) and, on the same people, the published equation named by the spec.

Models (outcomes: the synthetic region's ground-truth 5-year events, docs/synth.md):

* ``t2d_5y`` — type 2 diabetes onset in 5 years, adults without known diabetes; comparator
  FINDRISC (Lindström & Tuomilehto 2003).
* ``t2d_5y_metabolome`` — the same plus the research panel (BCAA, aromatic amino acids,
  glycine; Wang TJ et al. Nat Med 2011;17:448; Wang-Sattler R et al. Mol Syst Biol 2012;8:615);
  compared with the clinical-only model trained on the same people (incremental AUROC).
* ``ckd_kf_5y`` — kidney failure in 5 years for eGFR < 60 (CKD progression); comparator KFRE
  4-variable 5-year (Tangri 2011/2016).
* ``stroke_5y`` — stroke in 5 years, adults 30+; comparators PREVENT 10-year stroke (Khan 2024)
  and the Framingham Stroke Risk Profile (men; Wolf 1991).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from axhub.clinical import evaluation
from axhub.clinical.research import METABOLITES
from axhub.errors import InputError

log = logging.getLogger(__name__)

LAB_FEATURES = {
    "sbp_mmhg",
    "dbp_mmhg",
    "total_chol_mgdl",
    "hdl_mgdl",
    "ldl_mgdl",
    "triglycerides_mgdl",
    "glucose_mgdl",
    "hba1c_pct",
    "egfr",
    "log_uacr",
    "bmi_kgm2",
    "waist_cm",
}
AGE_BANDS = ((0, 40, "<40"), (40, 60, "40-59"), (60, 75, "60-74"), (75, 200, "75+"))
TEST_FRACTION = 0.3
C_REGULARISATION = 1.0


@dataclass(frozen=True)
class Comparator:
    """A published equation evaluated on the same held-out people."""

    score_id: str  # a score id of axhub.clinical.scores
    source: str
    probability: bool  # a probability (calibration reported) or a point score (AUROC only)
    horizon_note: str = ""


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    title: str
    outcome: str  # column of the training table (bool)
    population: str  # DuckDB SQL predicate over the training table
    population_text: str
    features: tuple[str, ...]
    comparators: tuple[Comparator, ...] = ()
    intended_use: str = ""
    limits: tuple[str, ...] = ()
    outcome_text: str = "within 5 years of the index date"


_CLIN_T2D = (
    "age_years",
    "male",
    "bmi_kgm2",
    "waist_cm",
    "sbp_mmhg",
    "glucose_mgdl",
    "hba1c_pct",
    "triglycerides_mgdl",
    "hdl_mgdl",
    "hypertension",
    "bp_treated",
    "statin",
    "smoker_current",
)
_T2D_POP = (
    "age_years >= 20 AND NOT diabetes AND coalesce(hba1c_pct < 6.5, true) "
    "AND coalesce(glucose_mgdl < 126, true)"
)
_COMMON_LIMITS = (
    "Trained and evaluated on a synthetic population; the outcomes come from the generator's "
    "risk equations, so performance says nothing about real patients.",
    "Not recalibrated for any real Korean cohort; do not use for individual clinical decisions.",
)

SPECS: dict[str, ModelSpec] = {
    "t2d_5y": ModelSpec(
        "t2d_5y",
        "5-year type 2 diabetes onset",
        "outcome_diabetes",
        _T2D_POP,
        "adults ≥ 20 without coded or treated diabetes, latest HbA1c < 6.5 % and fasting glucose "
        "< 126 mg/dL where measured (ADA 2024 diagnostic thresholds)",
        _CLIN_T2D,
        (
            Comparator(
                "findrisc",
                "Lindström J, Tuomilehto J. Diabetes Care 2003;26:725–731",
                probability=False,
                horizon_note="10-year point score",
            ),
        ),
        "Population screening: rank adults for diabetes-prevention outreach (public-health "
        "programme, primary care).",
        _COMMON_LIMITS,
    ),
    "t2d_5y_metabolome": ModelSpec(
        "t2d_5y_metabolome",
        "5-year type 2 diabetes onset, metabolome-augmented",
        "outcome_diabetes",
        _T2D_POP + " AND leucine_umol_l IS NOT NULL",
        "the t2d_5y population restricted to the metabolomics research subset (KNUH patients "
        "40–79 with a panel)",
        (*_CLIN_T2D, *METABOLITES),
        (),
        "Research: the added value of a plasma amino-acid panel over routine clinical data.",
        (
            *_COMMON_LIMITS,
            "The panel's association with insulin resistance is built into the generator "
            "(docs/synth.md); the incremental AUROC shows the pipeline, not a discovery.",
        ),
    ),
    "ckd_kf_5y": ModelSpec(
        "ckd_kf_5y",
        "5-year kidney failure in CKD stage 3–5 (CKD progression)",
        "outcome_kidney_failure",
        "age_years >= 18 AND egfr < 60",
        "adults with eGFR < 60 mL/min/1.73 m² (CKD-EPI 2021 from the latest creatinine)",
        ("age_years", "male", "egfr", "log_uacr", "sbp_mmhg", "diabetes", "hypertension"),
        (
            Comparator(
                "kfre_5y",
                "Tangri N, et al. JAMA 2011;305:1553–1559; JAMA 2016;315:164–174",
                probability=True,
                horizon_note="5-year probability",
            ),
        ),
        "Nephrology referral triage for people with CKD stage 3–5.",
        (
            *_COMMON_LIMITS,
            "Kidney failure is rare: the held-out set has few events and wide intervals.",
        ),
    ),
    "stroke_5y": ModelSpec(
        "stroke_5y",
        "5-year stroke",
        "outcome_stroke",
        "age_years >= 30",
        "adults ≥ 30",
        (
            "age_years",
            "male",
            "sbp_mmhg",
            "total_chol_mgdl",
            "hdl_mgdl",
            "egfr",
            "bmi_kgm2",
            "smoker_current",
            "diabetes",
            "hypertension",
            "atrial_fibrillation",
            "prior_stroke",
            "tia",
            "chf",
            "ischaemic_heart_disease",
            "bp_treated",
            "statin",
            "oral_anticoagulant",
            "antiplatelet",
        ),
        (
            Comparator(
                "prevent_stroke_10y",
                "Khan SS, et al. Circulation 2024;149:430–449 (PREVENT base)",
                probability=True,
                horizon_note="10-year probability (outcome is 5-year: calibration not comparable)",
            ),
            Comparator(
                "fsrp_stroke_10y",
                "Wolf PA, et al. Stroke 1991;22:312–318 (men only)",
                probability=True,
                horizon_note="10-year probability, men 55–84",
            ),
        ),
        "Primary and secondary stroke prevention: rank adults for risk-factor review.",
        _COMMON_LIMITS,
    ),
}


@dataclass
class TrainResult:
    """A fitted model with its evaluation (everything a card needs)."""

    spec: ModelSpec
    seed: int
    pipeline: Any  # sklearn Pipeline
    features: list[str]  # design-matrix columns (features + measured indicators)
    metrics: dict[str, Any]
    subgroups: list[dict[str, Any]]
    comparators: list[dict[str, Any]]
    population: dict[str, int]
    model_hash: str
    lineage: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        return {
            "model_id": self.spec.model_id,
            "seed": self.seed,
            "test_fraction": TEST_FRACTION,
            "C": C_REGULARISATION,
            "spec": asdict(self.spec),
            "features": self.features,
            "lineage": self.lineage,
            "model_hash": self.model_hash,
        }


def prepare(table: pa.Table) -> pa.Table:
    """Derived model inputs where their sources exist: ``male``, CKD-EPI 2021 ``egfr``,
    ``log_uacr`` and the FINDRISC item ``high_glucose_ever``."""
    from axhub.clinical.scores import score_table

    cols = set(table.column_names)
    derived = []
    if "sex" in cols:
        derived.append("CASE sex WHEN 'male' THEN 1.0 WHEN 'female' THEN 0.0 END AS male")
    if {"creatinine_mgdl", "age_years", "sex"} <= cols:
        egfr = score_table(table, keep=["person_id"]).column("egfr_ckdepi2021_cr")
        table = table.append_column("_egfr", egfr)
        other = "egfr_ml_min" if "egfr_ml_min" in cols else "NULL"
        derived.append(f"coalesce(_egfr, {other}) AS egfr")
    if "uacr_mgg" in cols:
        derived.append("ln(greatest(uacr_mgg, 0.1)) AS log_uacr")
    if {"glucose_mgdl", "hba1c_pct"} <= cols:
        # FINDRISC item 'ever high blood glucose': a recorded fasting glucose >= 100 mg/dL or
        # HbA1c >= 5.7 % (ADA 2024 prediabetes thresholds); hub derivation from routine data
        derived.append(
            "coalesce(glucose_mgdl >= 100 OR hba1c_pct >= 5.7, false) AS high_glucose_ever"
        )
    if not derived:
        return table
    exclude = " EXCLUDE (_egfr)" if "_egfr" in table.column_names else ""
    con = duckdb.connect()
    try:
        con.register("t", table)
        return con.sql(f"SELECT *{exclude}, {', '.join(derived)} FROM t").to_arrow_table()
    finally:
        con.close()


def design_matrix(table: pa.Table, features: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Float matrix (NaN = missing) of the features plus ``_measured`` indicators for labs."""
    missing = [f for f in features if f not in table.column_names]
    if missing:
        raise InputError(
            "training table lacks feature columns", field=", ".join(missing), rows=table.num_rows
        )
    cols, names = [], []
    for f in features:
        col = table.column(f)
        if pa.types.is_boolean(col.type):
            arr = np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        else:
            arr = np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        cols.append(arr)
        names.append(f)
    for f in features:
        if f in LAB_FEATURES:
            cols.append((~np.isnan(cols[names.index(f)])).astype(float))
            names.append(f"{f}_measured")
    return np.column_stack(cols) if cols else np.empty((table.num_rows, 0)), names


def make_pipeline(seed: int) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            (
                "model",
                LogisticRegression(C=C_REGULARISATION, max_iter=2000, random_state=seed),
            ),
        ]
    )


def parameter_hash(pipeline: Any, features: list[str]) -> str:
    """sha256 over the fitted parameters and feature names (the model's identity)."""
    h = hashlib.sha256()
    h.update("\x1f".join(features).encode())
    imp, sc, lr = (pipeline.named_steps[k] for k in ("impute", "scale", "model"))
    for arr in (imp.statistics_, sc.mean_, sc.scale_, lr.coef_, lr.intercept_):
        h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
    return h.hexdigest()


def split(person_ids: np.ndarray, seed: int, test_fraction: float = TEST_FRACTION) -> np.ndarray:
    """Held-out mask from a seeded MD5 of the person id (stable under row order; one SQL pass)."""
    con = duckdb.connect()
    try:
        con.register("ids", pa.table({"p": pa.array(list(person_ids), pa.string())}))
        keys = con.sql(
            f"SELECT CAST(('0x' || left(md5('{int(seed)}:' || p), 8)) AS UBIGINT) FROM ids"
        ).fetchnumpy()
    finally:
        con.close()
    values = np.asarray(next(iter(keys.values())), dtype=np.float64)
    return values < test_fraction * 2.0**32


def _population(table: pa.Table, spec: ModelSpec) -> pa.Table:
    con = duckdb.connect()
    try:
        con.register("t", table)
        try:
            return con.sql(f"SELECT * FROM t WHERE {spec.population}").to_arrow_table()
        except duckdb.Error as exc:
            raise InputError(
                f"model {spec.model_id}: population filter failed: {exc}", field="population"
            ) from None
    finally:
        con.close()


def _age_band(age: np.ndarray) -> np.ndarray:
    out = np.full(age.shape, "unknown", dtype=object)
    for lo, hi, label in AGE_BANDS:
        out[(age >= lo) & (age < hi)] = label
    return out


def subgroup_metrics(
    test: pa.Table, y: np.ndarray, p: np.ndarray, *, n_boot: int, seed: int
) -> list[dict[str, Any]]:
    """Metrics by sex, age band and urban dong vs eup/myeon (where the columns exist)."""
    groups: list[tuple[str, np.ndarray]] = []
    if "sex" in test.column_names:
        groups.append(("sex", np.array(test.column("sex").to_pylist(), dtype=object)))
    if "age_years" in test.column_names:
        age = np.asarray(test.column("age_years").to_numpy(zero_copy_only=False), dtype=float)
        groups.append(("age_band", _age_band(age)))
    if "urban" in test.column_names:
        urban = np.array(test.column("urban").to_pylist(), dtype=object)
        area = np.where(
            urban == True,  # noqa: E712 - object array of True/False/None
            "urban (dong)",
            np.where(urban == False, "eup/myeon", "unknown"),  # noqa: E712
        )
        groups.append(("area", area))
    rows = []
    for dim, labels in groups:
        for label in sorted({str(v) for v in labels}):
            mask = np.array([str(v) == label for v in labels])
            m = evaluation.summary(y[mask], p[mask], n_boot=n_boot, seed=seed)
            rows.append({"dimension": dim, "group": label, **m})
    return rows


def train(
    table: pa.Table,
    spec: ModelSpec,
    *,
    seed: int,
    n_boot: int = 500,
    lineage: dict[str, str] | None = None,
    test_column: str | None = None,
) -> TrainResult:
    """Fit on the training people, evaluate on the held-out people (see module docstring)."""
    pop = _population(prepare(table), spec)
    if spec.outcome not in pop.column_names:
        raise InputError(f"training table lacks outcome {spec.outcome!r}", field=spec.outcome)
    y = np.asarray(pop.column(spec.outcome).to_numpy(zero_copy_only=False), dtype=bool)
    x, names = design_matrix(pop, spec.features)
    if test_column is not None:
        if test_column not in pop.column_names:
            raise InputError("training table lacks the held-out column", field=test_column)
        held = np.asarray(pop.column(test_column).to_numpy(zero_copy_only=False), dtype=bool)
    else:
        held = split(np.array(pop.column("person_id").to_pylist()), seed)
    tr, te = ~held, held
    for part, mask in (("training", tr), ("held-out", te)):
        if y[mask].sum() == 0 or y[mask].all():
            raise InputError(
                f"model {spec.model_id}: the {part} set has only one outcome class "
                f"({int(mask.sum())} people, {int(y[mask].sum())} events); use a larger region",
                field=spec.outcome,
            )
    pipe = make_pipeline(seed)
    pipe.fit(x[tr], y[tr])
    p = pipe.predict_proba(x[te])[:, 1]
    test = pop.filter(pa.array(te))
    metrics = evaluation.summary(y[te], p, n_boot=n_boot, seed=seed)
    subgroups = subgroup_metrics(test, y[te], p, n_boot=n_boot, seed=seed)
    comparators = compare_published(test, y[te], p, spec, n_boot=n_boot, seed=seed)
    return TrainResult(
        spec,
        seed,
        pipe,
        names,
        metrics,
        subgroups,
        comparators,
        {
            "eligible": pop.num_rows,
            "training": int(tr.sum()),
            "held_out": int(te.sum()),
            "training_events": int(y[tr].sum()),
            "held_out_events": int(y[te].sum()),
        },
        parameter_hash(pipe, names),
        dict(lineage or {}),
    )


def compare_published(
    test: pa.Table, y: np.ndarray, p: np.ndarray, spec: ModelSpec, *, n_boot: int, seed: int
) -> list[dict[str, Any]]:
    """Each comparator's metrics and the model's on the same computable held-out people."""
    if not spec.comparators:
        return []
    from axhub.clinical.scores import score_table

    scored = score_table(test, keep=["person_id"])
    out = []
    for comp in spec.comparators:
        values = np.asarray(
            scored.column(comp.score_id).cast(pa.float64()).to_numpy(zero_copy_only=False),
            dtype=float,
        )
        ok = ~np.isnan(values)
        row: dict[str, Any] = {
            "score_id": comp.score_id,
            "source": comp.source,
            "horizon": comp.horizon_note,
            "computable": int(ok.sum()),
            "of": int(ok.size),
        }
        if ok.sum() and 0 < y[ok].sum() < ok.sum():
            row["published"] = evaluation.summary(
                y[ok], values[ok], n_boot=n_boot, seed=seed, probability=comp.probability
            )
            row["model_same_people"] = evaluation.summary(y[ok], p[ok], n_boot=n_boot, seed=seed)
        else:
            row["note"] = "no events or no computable people in the held-out set"
        out.append(row)
    return out


def folds(person_ids: np.ndarray, seed: int, k: int) -> np.ndarray:
    """Fold number 0..k-1 per person from a seeded MD5 of the person id (one SQL pass)."""
    con = duckdb.connect()
    try:
        con.register("ids", pa.table({"p": pa.array(list(person_ids), pa.string())}))
        out = con.sql(
            f"SELECT CAST(('0x' || left(md5('fold:{int(seed)}:' || p), 8)) AS UBIGINT) % {k} "
            "FROM ids"
        ).fetchnumpy()
    finally:
        con.close()
    return np.asarray(next(iter(out.values())), dtype=np.int64)


def incremental_auroc(
    table: pa.Table, *, seed: int, n_boot: int = 500, k: int = 5
) -> tuple[TrainResult, TrainResult, dict[str, Any]]:
    """Metabolome-augmented vs clinical-only diabetes model on the same people.

    The research subset is small, so the comparison uses out-of-fold predictions from k-fold
    cross-validation over the whole subset (each person predicted by models not trained on
    them); the difference's CI is a paired bootstrap over people.  The registered models
    themselves are trained and evaluated on the usual held-out split.
    """
    aug_spec = SPECS["t2d_5y_metabolome"]
    clin_spec = ModelSpec(
        "t2d_5y_clinical_subset",
        "5-year type 2 diabetes onset, clinical features, metabolomics subset",
        aug_spec.outcome,
        aug_spec.population,
        aug_spec.population_text,
        _CLIN_T2D,
        intended_use="Reference model for the incremental AUROC of the metabolome panel.",
        limits=aug_spec.limits,
    )
    aug = train(table, aug_spec, seed=seed, n_boot=n_boot)
    clin = train(table, clin_spec, seed=seed, n_boot=n_boot)
    pop = _population(prepare(table), aug_spec)
    y = np.asarray(pop.column(aug_spec.outcome).to_numpy(zero_copy_only=False), dtype=bool)
    fold = folds(np.array(pop.column("person_id").to_pylist()), seed, k)
    xa, _ = design_matrix(pop, aug_spec.features)
    xc, _ = design_matrix(pop, clin_spec.features)
    pa_, pc = np.full(y.size, np.nan), np.full(y.size, np.nan)
    for f in range(k):
        te = fold == f
        if not te.any() or y[~te].all() or not y[~te].any():
            continue
        pa_[te] = make_pipeline(seed).fit(xa[~te], y[~te]).predict_proba(xa[te])[:, 1]
        pc[te] = make_pipeline(seed).fit(xc[~te], y[~te]).predict_proba(xc[te])[:, 1]
    ok = ~np.isnan(pa_)
    y, pa_, pc = y[ok], pa_[ok], pc[ok]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(n_boot, y.size))
    diffs = np.array([evaluation.auroc(y[i], pa_[i]) - evaluation.auroc(y[i], pc[i]) for i in idx])
    diffs = diffs[np.isfinite(diffs)]
    delta = {
        "method": f"{k}-fold cross-validated out-of-fold predictions, paired bootstrap",
        "n": int(y.size),
        "events": int(y.sum()),
        "auroc_metabolome": evaluation.auroc(y, pa_),
        "auroc_clinical": evaluation.auroc(y, pc),
        "delta_auroc": evaluation.auroc(y, pa_) - evaluation.auroc(y, pc),
        "delta_lo": float(np.quantile(diffs, 0.025)) if diffs.size else float("nan"),
        "delta_hi": float(np.quantile(diffs, 0.975)) if diffs.size else float("nan"),
    }
    aug.extra["incremental_auroc"] = delta
    return aug, clin, delta
