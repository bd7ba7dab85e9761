"""ONNX ↔ IR: the importer (safe loading, specialisation of symbolic dims, one converter per ONNX
op, folding of shape arithmetic) and the exporter."""

from .errors import NeedsConstantError, UnsupportedTypeError  # noqa: F401
from .importer import import_model, load_onnx, supported_onnx_ops  # noqa: F401

try:  # written in parallel by the export engineer; import keeps working while it is missing
    from .export import export_onnx, to_onnx  # noqa: F401
except ImportError:  # pragma: no cover
    pass
