"""On-device scoring: a minimal ONNX scorer that imports only numpy and onnxruntime."""
