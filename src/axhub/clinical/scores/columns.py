"""The documented input columns of ``score_table``: names, units, plausibility limits, parsing.

Every score reads its inputs from these columns, in these units.  The plausibility limits are
the hub's own data-quality limits (not clinical facts): a value outside them is physiologically
impossible or a unit mix-up, so it is flagged and excluded with a reason, never scored.  Where a
value in a known band usually means the other unit (cholesterol 5.2 "mg/dL" is 5.2 mmol/L;
creatinine 88 "mg/dL" is 88 µmol/L; HbA1c 40 "%" is 40 mmol/mol), the reason says so.
See docs/scores.md and docs/decisions/0041-score-input-validity.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from axhub.clinical.scores.efi import DEFICITS
from axhub.errors import InputError

log = logging.getLogger(__name__)

OK, MISSING, IMPLAUSIBLE, UNIT_SUSPECT = 0, 1, 2, 3

TRUE_WORDS = ("1", "true", "t", "yes", "y")
FALSE_WORDS = ("0", "false", "f", "no", "n")


@dataclass(frozen=True)
class Column:
    """One documented input column.

    kind: ``number`` (float), ``flag`` (yes/no), ``sex`` (male/female → 1 = female),
    ``avpu`` (NEWS2 consciousness → 1 = not alert), ``famhist`` (0 none, 1 second-degree,
    2 first-degree relative with diabetes).
    """

    name: str
    unit: str
    kind: str
    description: str
    low: float | None = None
    high: float | None = None
    # (lo, hi, text): a value in [lo, hi] outside the plausible range probably is another unit.
    unit_hint: tuple[float, float, str] | None = None


def _num(name: str, unit: str, desc: str, low: float, high: float, hint: Any = None) -> Column:
    return Column(name, unit, "number", desc, low, high, hint)


def _flag(name: str, desc: str) -> Column:
    return Column(name, "yes/no", "flag", desc)


# Plausibility limits: hub data-quality limits (own choice, docs/decisions/0041).
INPUT_COLUMNS: tuple[Column, ...] = (
    _num("age_years", "years", "Age at the index date", 0, 120),
    Column("sex", "male/female", "sex", "Sex (male/female, m/f; FHIR gender codes accepted)"),
    _flag("race_black", "Black (African American) race, for PCE only; empty = other race"),
    _num("sbp_mmhg", "mmHg", "Systolic blood pressure", 50, 300),
    _num("dbp_mmhg", "mmHg", "Diastolic blood pressure", 20, 200),
    _flag("bp_treated", "Currently on antihypertensive treatment"),
    _num(
        "total_chol_mgdl",
        "mg/dL",
        "Total cholesterol",
        50,
        1000,
        (0.5, 49.99, "value looks like mmol/L (×38.67 for mg/dL)"),
    ),
    _num(
        "hdl_mgdl",
        "mg/dL",
        "HDL cholesterol",
        5,
        250,
        (0.1, 4.99, "value looks like mmol/L (×38.67 for mg/dL)"),
    ),
    _flag("smoker_current", "Current (cigarette) smoker"),
    _flag("diabetes", "Diabetes mellitus"),
    _flag("statin", "Currently on a statin"),
    _num("bmi_kgm2", "kg/m²", "Body-mass index", 10, 90),
    _num("waist_cm", "cm", "Waist circumference", 40, 250),
    _num(
        "creatinine_mgdl",
        "mg/dL",
        "Serum creatinine (IDMS-traceable)",
        0.1,
        25,
        (25.01, 3000, "value looks like µmol/L (÷88.4 for mg/dL)"),
    ),
    _num("cystatin_c_mgl", "mg/L", "Serum cystatin C", 0.2, 15),
    _num("egfr_ml_min", "mL/min/1.73 m²", "eGFR if no creatinine (else computed)", 1, 250),
    _num("uacr_mgg", "mg/g", "Urine albumin-to-creatinine ratio", 0.01, 50000),
    _num(
        "hba1c_pct",
        "% (NGSP)",
        "HbA1c",
        3,
        20,
        (20.01, 200, "value looks like mmol/mol (IFCC); give NGSP %"),
    ),
    _num(
        "glucose_mgdl",
        "mg/dL",
        "Fasting plasma glucose",
        20,
        1500,
        (1, 19.99, "value looks like mmol/L (×18.016 for mg/dL)"),
    ),
    _num(
        "albumin_gdl",
        "g/dL",
        "Serum albumin",
        1,
        7,
        (10, 70, "value looks like g/L (÷10 for g/dL)"),
    ),
    _num("crp_mgl", "mg/L", "C-reactive protein", 0, 500),
    _num("lymphocyte_pct", "%", "Lymphocytes, % of white cells", 0, 100),
    _num("mcv_fl", "fL", "Mean corpuscular volume", 50, 150),
    _num("rdw_pct", "%", "Red cell distribution width", 5, 40),
    _num("alp_ul", "U/L", "Alkaline phosphatase", 5, 3000),
    _num(
        "wbc_10e3ul",
        "10³/µL (= 10⁹/L)",
        "White cell count",
        0.1,
        300,
        (300.01, 1e6, "value looks like cells/µL (÷1000)"),
    ),
    _num("bun_mgdl", "mg/dL", "Blood urea nitrogen (KDM reference biomarker)", 1, 300),
    _flag("chf", "Congestive heart failure / LV dysfunction"),
    _flag("hypertension", "Hypertension (diagnosis)"),
    _flag("prior_stroke_tia_te", "Prior stroke, TIA or thromboembolism (CHA2DS2-VASc)"),
    _flag("vascular_disease", "Prior MI, peripheral artery disease or aortic plaque"),
    _flag("atrial_fibrillation", "Atrial fibrillation (FSRP)"),
    _flag("cvd_history", "History of MI, angina, coronary insufficiency, claudication or CHF"),
    _flag("lvh", "Left ventricular hypertrophy on ECG (FSRP)"),
    _flag("prior_stroke", "Prior stroke (HAS-BLED 'S')"),
    _flag("renal_abnormal", "Dialysis, kidney transplant or creatinine ≥200 µmol/L"),
    _flag("liver_abnormal", "Cirrhosis, or bilirubin >2×ULN with AST/ALT/ALP >3×ULN"),
    _flag("bleeding_history", "Major bleeding history or predisposition"),
    _flag("labile_inr", "Labile INR (TTR <60 %); 'no' when not on a vitamin K antagonist"),
    _flag("antiplatelet_or_nsaid", "Concomitant antiplatelet or NSAID"),
    _flag("alcohol_excess", "Alcohol ≥8 units/week"),
    _flag("tia_unilateral_weakness", "TIA with unilateral weakness"),
    _flag("tia_speech_disturbance", "TIA with speech disturbance"),
    _num("tia_duration_min", "minutes", "TIA symptom duration", 0, 1440),
    _flag("physically_active", "≥30 min physical activity daily (FINDRISC)"),
    _flag("daily_veg_fruit", "Eats vegetables, fruit or berries every day (FINDRISC)"),
    _flag("antihypertensive_ever", "Ever regularly took antihypertensive drugs (FINDRISC)"),
    _flag("high_glucose_ever", "Ever found to have high blood glucose (FINDRISC)"),
    Column(
        "family_history_diabetes",
        "0/1/2",
        "famhist",
        "Family diabetes: 0 none, 1 grandparent/aunt/uncle/cousin, 2 parent/sibling/child",
    ),
    _num("resp_rate", "/min", "Respiration rate", 2, 80),
    _num("spo2_pct", "%", "Oxygen saturation", 40, 100),
    _flag("spo2_scale2", "NEWS2 SpO2 scale 2 (documented hypercapnic failure); empty = no"),
    _flag("on_oxygen", "Supplemental oxygen"),
    _num("pulse_bpm", "/min", "Pulse rate", 20, 300),
    Column("consciousness", "A/C/V/P/U", "avpu", "ACVPU level (A = alert)"),
    _num(
        "temp_c",
        "°C",
        "Temperature",
        25,
        45,
        (77, 113, "value looks like °F"),
    ),
)
# The 36 electronic Frailty Index deficit flags (Clegg 2016 Box 1; build them from codes with
# axhub.clinical.scores.efi.efi_flags_from_codes).
INPUT_COLUMNS += tuple(_flag(f"efi_{d.id}", f"eFI deficit: {d.name}") for d in DEFICITS)
COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in INPUT_COLUMNS}

# Flags where an empty cell has a documented default instead of "needs X" (docs/decisions/0041).
DEFAULT_WHEN_EMPTY: dict[str, float] = {"race_black": 0.0, "spo2_scale2": 0.0}


@dataclass
class Inputs:
    """Parsed input columns: float64 values (NaN when missing or implausible) and a status code."""

    n: int
    values: dict[str, np.ndarray]
    status: dict[str, np.ndarray]
    messages: dict[tuple[str, int], str] = field(default_factory=dict)
    # Columns with at least one missing / implausible value (lets scores skip clean columns).
    with_missing: set[str] = field(default_factory=set)
    with_problems: set[str] = field(default_factory=set)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    def set_derived(self, name: str, values: np.ndarray, status: np.ndarray) -> None:
        self.values[name] = values
        self.status[name] = status
        self._index(name)

    def _index(self, name: str) -> None:
        st = self.status[name]
        self.with_missing.discard(name)
        self.with_problems.discard(name)
        if np.any(st == MISSING):
            self.with_missing.add(name)
        if np.any(st >= IMPLAUSIBLE):
            self.with_problems.add(name)

    def problem_counts(self) -> dict[str, int]:
        """Count of implausible (incl. unit-suspect) values per documented input column."""
        out = {}
        for name, st in self.status.items():
            if name not in COLUMNS_BY_NAME:  # derived inputs (egfr) repeat their source's problem
                continue
            bad = int(np.count_nonzero(st >= IMPLAUSIBLE))
            if bad:
                out[name] = bad
        return out


def _as_table(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    fetch = (
        getattr(data, "to_arrow_table", None)
        or getattr(data, "fetch_arrow_table", None)
        or getattr(data, "arrow", None)
    )
    if fetch is not None:  # DuckDB relation
        out = fetch()
        return out.read_all() if isinstance(out, pa.RecordBatchReader) else out
    if isinstance(data, Mapping):
        return pa.table(
            {k: np.asarray(v) if not isinstance(v, pa.Array) else v for k, v in data.items()}
        )
    raise InputError(
        f"cannot score a {type(data).__name__}: give a pyarrow Table or DuckDB relation"
    )


def _text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(col, pa.string())))


def _word_codes(col: pa.ChunkedArray, mapping: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Map words to numbers; returns (values, status) with unknown words implausible."""
    text = _text(col)
    n = len(text)
    vals = np.full(n, np.nan)
    empty = np.asarray(pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False))
    for value in set(mapping.values()):
        words = pa.array([w for w, v in mapping.items() if v == value])
        hit = np.asarray(
            pc.fill_null(pc.is_in(text, value_set=words), False).to_numpy(zero_copy_only=False)
        )
        vals[hit] = value
    status = np.where(empty, MISSING, np.where(np.isnan(vals), IMPLAUSIBLE, OK)).astype(np.int8)
    return vals, status


NUMBER_RE = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def _first_bad_number(col: pa.ChunkedArray) -> int:
    text = pc.cast(col, pa.string())
    good = pc.fill_null(pc.match_substring_regex(text, NUMBER_RE), True)
    bad = np.flatnonzero(~np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool))
    return int(bad[0]) if len(bad) else -1


def _parse(
    col: pa.ChunkedArray, spec: Column, path: str, first_line: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    t = col.type
    if spec.kind == "number":
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            col = pc.if_else(pc.equal(pc.utf8_trim_whitespace(col), ""), None, col)
        try:
            f = pc.cast(col, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            idx = _first_bad_number(col)
            where = {"line": idx + first_line} if first_line is not None else {"row": idx + 1}
            raise InputError(
                f"column {spec.name} must be numeric ({spec.unit})",
                path=path,
                field=spec.name,
                reason=str(exc).splitlines()[0],
                **where,
            ) from None
        vals = np.array(f.to_numpy(zero_copy_only=False), dtype=np.float64)  # writable copy
        return vals, np.isnan(vals).view(np.int8)  # MISSING = 1, OK = 0
    if spec.kind in ("flag", "famhist"):
        if pa.types.is_boolean(t):
            mask = np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False), dtype=bool)
            vals = np.asarray(pc.fill_null(col, False).to_numpy(zero_copy_only=False), dtype=float)
            if col.null_count:
                vals[mask] = np.nan
            return vals, mask.view(np.int8)  # MISSING = 1, OK = 0
        allowed = (0.0, 1.0) if spec.kind == "flag" else (0.0, 1.0, 2.0)
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            vals = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
            missing = np.isnan(vals)
            good = np.isin(vals, allowed)
            vals = np.where(good, vals, np.nan)
            status = np.where(missing, MISSING, np.where(good, OK, IMPLAUSIBLE))
            return vals, status.astype(np.int8)
        if spec.kind == "flag":
            words = {w: 1.0 for w in TRUE_WORDS} | {w: 0.0 for w in FALSE_WORDS}
        else:
            words = {"0": 0.0, "none": 0.0, "1": 1.0, "second": 1.0, "2": 2.0, "first": 2.0}
        return _word_codes(col, words)
    if spec.kind == "sex":
        return _word_codes(
            col, {"female": 1.0, "f": 1.0, "woman": 1.0, "male": 0.0, "m": 0.0, "man": 0.0}
        )
    if spec.kind == "avpu":
        words = {"a": 0.0, "alert": 0.0}
        words |= {w: 1.0 for w in ("c", "v", "p", "u", "confusion", "voice", "pain")}
        words["unresponsive"] = 1.0
        return _word_codes(col, words)
    raise AssertionError(spec.kind)


def _message(spec: Column, code: int) -> str:
    if code == UNIT_SUSPECT and spec.unit_hint is not None:
        return f"implausible {spec.name}: {spec.unit_hint[2]}"
    if spec.kind == "number":
        return f"implausible {spec.name} (outside {spec.low:g}–{spec.high:g} {spec.unit})"
    return f"unreadable {spec.name} (expected {spec.unit})"


def read_inputs(data: Any, *, path: str = "<table>", first_line: int | None = None) -> Inputs:
    """Parse every documented input column present in ``data``; absent columns are all-missing.

    Implausible values are set to NaN with status IMPLAUSIBLE (or UNIT_SUSPECT) so no score
    uses them; counts are logged (never the values).
    """
    table = _as_table(data)
    n = table.num_rows
    inputs = Inputs(n=n, values={}, status={})
    for spec in INPUT_COLUMNS:
        if spec.name in table.column_names:
            vals, status = _parse(table.column(spec.name), spec, path, first_line)
        else:
            vals, status = np.full(n, np.nan), np.full(n, MISSING, np.int8)
        if spec.kind == "number" and spec.low is not None and spec.high is not None:
            with np.errstate(invalid="ignore"):
                out = (vals < spec.low) | (vals > spec.high)  # NaN compares False
            if out.any():
                status = status.copy()
                status[out] = IMPLAUSIBLE
                if spec.unit_hint is not None:
                    lo, hi, _ = spec.unit_hint
                    with np.errstate(invalid="ignore"):
                        status[out & (vals >= lo) & (vals <= hi)] = UNIT_SUSPECT
                vals[out] = np.nan
        if spec.name in DEFAULT_WHEN_EMPTY:
            empty = status == MISSING
            vals = np.where(empty, DEFAULT_WHEN_EMPTY[spec.name], vals)
            status = np.where(empty, OK, status).astype(np.int8)
        inputs.values[spec.name] = vals
        inputs.status[spec.name] = status
        inputs._index(spec.name)
        for code in (IMPLAUSIBLE, UNIT_SUSPECT):
            inputs.messages[(spec.name, code)] = _message(spec, code)
    problems = inputs.problem_counts()
    if problems:
        log.info("implausible input values excluded (counts per column): %s", problems)
    return inputs
