"""The home gateway (``axhub edge``): SQLite buffer, local safety rules, on-device ONNX scoring
(:mod:`axhub.edge.scorer`, numpy and onnxruntime only) and forwarding to the hub."""
