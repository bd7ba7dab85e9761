"""ONNX ↔ IR: the importer (safe loading, specialisation of symbolic dims, one converter per ONNX
op, folding of shape arithmetic) and the exporter."""

from .budget import ImportBudget  # noqa: F401
from .errors import BudgetError, NeedsConstantError, UnsupportedTypeError  # noqa: F401
from .importer import import_model, load_onnx, supported_onnx_ops  # noqa: F401
from .export import export_onnx, to_onnx  # noqa: F401
