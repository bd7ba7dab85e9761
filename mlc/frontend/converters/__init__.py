"""ONNX → core-op converters, one module per family of ops. Importing the package fills the
table in :mod:`.registry`: first the hand-written converters, then :mod:`.equivalents`, which
adds one for every ONNX op the op registry names as a core op's direct equivalent."""

from .registry import CONVERTERS, MAX_OPSET, Converter, converter  # noqa: F401

# registration, by importing:
from . import control, elementwise, nn, norm, reduce, resize, shape, quant  # noqa: E402,F401
from . import equivalents  # noqa: E402,F401  (last: hand-written converters take precedence)
