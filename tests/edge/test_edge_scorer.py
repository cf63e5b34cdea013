"""Edge scorer: ONNX predictions within 1e-5 of the server model; numpy + onnxruntime only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from axhub.clinical.external import train_pima
from axhub.clinical.models import SPECS, design_matrix, prepare, train
from axhub.clinical.onnx_export import to_onnx
from axhub.edge.scorer import EdgeScorer

SCORER = Path(__file__).resolve().parents[2] / "src" / "axhub" / "edge" / "scorer.py"


def population(n: int = 10_000, seed: int = 2) -> pa.Table:
    rng = np.random.default_rng(seed)

    def maybe(values: np.ndarray, missing: float) -> np.ndarray:
        out = values.astype(float)
        out[rng.random(n) < missing] = np.nan
        return out

    cols: dict[str, object] = {
        "person_id": [f"p{i}" for i in range(n)],
        "sex": rng.choice(["male", "female"], n).tolist(),
        "age_years": rng.uniform(30, 90, n),
        "sbp_mmhg": maybe(rng.normal(130, 18, n), 0.1),
        "total_chol_mgdl": maybe(rng.normal(200, 35, n), 0.4),
        "hdl_mgdl": maybe(rng.normal(50, 12, n), 0.4),
        "creatinine_mgdl": maybe(rng.normal(0.95, 0.25, n).clip(0.4), 0.4),
        "egfr_ml_min": np.full(n, np.nan),
        "bmi_kgm2": maybe(rng.normal(24, 3.5, n), 0.2),
    }
    for flag in (
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
    ):
        cols[flag] = rng.random(n) < 0.15
    lp = -5 + 0.06 * (cols["age_years"] - 60) + 1.2 * cols["atrial_fibrillation"]
    cols["outcome_stroke"] = rng.random(n) < 1 / (1 + np.exp(-lp))
    return pa.table(cols)


@pytest.fixture(scope="module")
def stroke_model():
    table = population()
    result = train(table, SPECS["stroke_5y"], seed=3, n_boot=20)
    x, names = design_matrix(prepare(table), SPECS["stroke_5y"].features)
    assert names == result.features
    onnx = to_onnx(result.pipeline, names, model_id="stroke_5y", model_hash=result.model_hash)
    return result, x, onnx


def test_edge_matches_server_on_10000_rows(stroke_model) -> None:
    result, x, onnx = stroke_model
    assert x.shape[0] == 10_000
    server = result.pipeline.predict_proba(x)[:, 1]
    edge = EdgeScorer(onnx).predict_matrix(x)
    assert np.max(np.abs(server - edge)) < 1e-5
    assert len(onnx) < 1_000_000


def test_edge_builds_the_design_from_named_values(stroke_model) -> None:
    result, x, onnx = stroke_model
    scorer = EdgeScorer(onnx)
    assert scorer.features == result.features and scorer.version == result.model_hash
    base = {f: x[:50, i] for i, f in enumerate(scorer.features) if not f.endswith("_measured")}
    assert np.allclose(scorer.predict(base), scorer.predict_matrix(x[:50]), atol=1e-7)
    with pytest.raises(ValueError, match="columns"):
        scorer.predict_matrix(x[:5, :3])


def test_pima_model_exports_too() -> None:
    r = train_pima(1, n_boot=20)
    onnx = to_onnx(r.pipeline, r.features, model_id="pima", model_hash=r.model_hash)
    from axhub.clinical.external import pima_table

    table, _ = pima_table()
    x, _ = design_matrix(prepare(table), r.spec.features)
    diff = np.abs(r.pipeline.predict_proba(x)[:, 1] - EdgeScorer(onnx).predict_matrix(x))
    assert diff.max() < 1e-5


def test_scorer_imports_only_numpy_and_onnxruntime() -> None:
    tree = ast.parse(SCORER.read_text(encoding="utf-8"))
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mods.add((node.module or "").split(".")[0])
    assert mods - {"__future__", "collections", "pathlib"} == {"numpy", "onnxruntime"}


def test_scorer_runs_without_scikit_learn(stroke_model, tmp_path) -> None:
    result, x, onnx = stroke_model
    model = tmp_path / "m.onnx"
    model.write_bytes(onnx)
    np.save(tmp_path / "x.npy", x[:100])
    code = (
        "import sys, importlib.util, numpy as np\n"
        "for m in ('sklearn', 'skl2onnx', 'pyarrow', 'duckdb', 'axhub'): sys.modules[m] = None\n"
        f"spec = importlib.util.spec_from_file_location('scorer', {str(SCORER)!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        f"p = mod.EdgeScorer({str(model)!r}).predict_matrix(np.load({str(tmp_path / 'x.npy')!r}))\n"
        "print(','.join(f'{v:.9f}' for v in p))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got = np.array([float(v) for v in out.stdout.strip().split(",")])
    assert np.max(np.abs(got - result.pipeline.predict_proba(x[:100])[:, 1])) < 1e-5
