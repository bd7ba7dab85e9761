"""ONNX → core-op converters, one module per family of ops. Importing the package fills the
table in :mod:`.registry`."""

from .registry import CONVERTERS, MAX_OPSET, Converter, converter, schema_versions  # noqa: F401

from . import elementwise, nn, norm, reduce, resize, shape, quant  # noqa: E402,F401  (registration)
