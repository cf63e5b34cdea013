"""Minimal on-device scorer for the hub's exported risk models.

Imports only ``numpy`` and ``onnxruntime`` (a test checks this), so it runs on a tablet or a
home gateway without scikit-learn.  The ONNX file carries its feature order in the metadata
(``features``, comma-separated; ``base_features``: the inputs a caller supplies); the scorer
adds the ``<name>_measured`` indicators the hub's models use (1 when a value is present).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

MEASURED = "_measured"


class EdgeScorer:
    """Predicted probabilities from an exported model (float32 inputs, NaN = missing)."""

    def __init__(self, model: str | Path | bytes) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(
            source, sess_options=options, providers=["CPUExecutionProvider"]
        )
        meta = self.session.get_modelmeta().custom_metadata_map
        self.features: list[str] = meta.get("features", "").split(",")
        self.base_features: list[str] = meta.get("base_features", "").split(",")
        self.model_id = meta.get("model_id", "")
        self.version = meta.get("model_hash", "")
        self._input = self.session.get_inputs()[0].name
        outputs = [o.name for o in self.session.get_outputs()]
        self._output = "probabilities" if "probabilities" in outputs else outputs[-1]

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """P(outcome) for a full design matrix in ``self.features`` order."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} columns, got {x.shape[1]}")
        (prob,) = self.session.run([self._output], {self._input: x})
        return np.asarray(prob)[:, 1]

    def design(self, values: Mapping[str, Sequence[float] | float]) -> np.ndarray:
        """Design matrix from base feature values (missing name or NaN = not measured)."""
        n = max((np.size(v) for v in values.values()), default=1)
        cols = []
        for name in self.features:
            base = name[: -len(MEASURED)] if name.endswith(MEASURED) else name
            raw = values.get(base)
            col = (
                np.full(n, np.nan)
                if raw is None
                else np.broadcast_to(np.asarray(raw, dtype=float), (n,))
            )
            cols.append((~np.isnan(col)).astype(float) if name.endswith(MEASURED) else col)
        return np.column_stack(cols).astype(np.float32)

    def predict(self, values: Mapping[str, Sequence[float] | float]) -> np.ndarray:
        return self.predict_matrix(self.design(values))
