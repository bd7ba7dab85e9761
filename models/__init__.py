"""The bundled model zoo: deterministic builders for small ONNX models (see models/README.md).

A regular package so that `from models import build` works from the repository root; it is not
installed with mlc (setup.py lists mlc's packages explicitly) and depends only on numpy, onnx,
onnxruntime and scikit-learn, never on mlc, so the zoo can check mlc rather than the other way round.
"""
