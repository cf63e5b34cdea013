"""Export a trained model pipeline to ONNX (skl2onnx) with its feature order as metadata."""

from __future__ import annotations

from typing import Any

from axhub.errors import EngineError

ONNX_OPSET = 17  # onnxruntime >= 1.14 supports it; ai.onnx.ml opset follows skl2onnx


def to_onnx(pipeline: Any, features: list[str], *, model_id: str, model_hash: str) -> bytes:
    """Serialised ONNX model: float32 input ``features`` [N, k], outputs label, probabilities."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model = pipeline.named_steps["model"]
    onx = convert_sklearn(
        pipeline,
        name=model_id,
        initial_types=[("features", FloatTensorType([None, len(features)]))],
        options={id(model): {"zipmap": False}},
        target_opset=ONNX_OPSET,
    )
    base = [f for f in features if not f.endswith("_measured")]
    for key, value in (
        ("features", ",".join(features)),
        ("base_features", ",".join(base)),
        ("model_id", model_id),
        ("model_hash", model_hash),
    ):
        prop = onx.metadata_props.add()
        prop.key, prop.value = key, value
    onx.producer_name = "axhub"
    onx.doc_string = f"axhub {model_id} {model_hash[:12]}"
    data = onx.SerializeToString()
    if not data:
        raise EngineError(f"ONNX export of {model_id} produced no bytes", field=model_id)
    return bytes(data)
