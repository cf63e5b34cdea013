"""ONNX scoring on the gateway, offline: the exported model scores a BP reading with the
person's configured features, and the probability equals the hub's model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from axhub.clinical.models import SPECS, train
from axhub.clinical.onnx_export import to_onnx
from axhub.edge.buffer import Buffer
from axhub.edge.gateway import EdgeConfig, Gateway
from axhub.edge.scorer import EdgeScorer
from axhub.errors import ConfigError

from .test_edge_scorer import population


def test_gateway_scores_readings_offline(tmp_path: Path) -> None:
    result = train(population(n=3000), SPECS["stroke_5y"], seed=3, n_boot=5)
    onnx = to_onnx(result.pipeline, result.features, model_id="stroke_5y",
                   model_hash=result.model_hash)  # fmt: skip
    model = tmp_path / "stroke.onnx"
    model.write_bytes(onnx)
    static = {"age_years": 78.0, "atrial_fibrillation": 1.0, "hypertension": 1.0}
    config = EdgeConfig.from_dict({"persons": {"p-1": {"model": {
        "path": str(model), "static": static, "from_readings": {"bp": "sbp_mmhg"}}}}})  # fmt: skip
    gw = Gateway(Buffer(tmp_path / "e.sqlite"), None, config=config, clock=lambda: 1.0e9)
    for i, sbp in enumerate((128, 176)):
        gw.receive(json.dumps({"reading_id": f"bp-{i}", "person_id": "p-1", "kind": "bp",
                               "value": sbp, "value2": 80,
                               "effective_at": "2001-09-09T10:00:00+09:00"}))  # fmt: skip
    gw.receive(json.dumps({"reading_id": "bp-x", "person_id": "p-2", "kind": "bp",
                           "value": 130, "value2": 80,
                           "effective_at": "2001-09-09T10:00:00+09:00"}))  # fmt: skip
    rows = gw.buffer.db.execute("SELECT reading_id, model_id, probability FROM scores "
                                "ORDER BY reading_id").fetchall()  # fmt: skip
    assert [r[:2] for r in rows] == [("bp-0", "stroke_5y"), ("bp-1", "stroke_5y")]
    scorer = EdgeScorer(model)
    for (_, _, p), sbp in zip(rows, (128, 176), strict=True):
        x = scorer.design({**static, "sbp_mmhg": float(sbp)})
        assert abs(p - result.pipeline.predict_proba(x)[:, 1][0]) < 1e-5
    assert np.isfinite([r[2] for r in rows]).all()


def test_a_bad_model_file_fails_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    config = EdgeConfig.from_dict({"persons": {"p-1": {"model": {"path": str(bad)}}}})
    with pytest.raises(ConfigError, match="cannot load the model"):
        Gateway(Buffer(tmp_path / "e.sqlite"), None, config=config)
