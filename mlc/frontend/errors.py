"""Errors specific to importing ONNX (the general ones live in :mod:`mlc.errors`)."""

from __future__ import annotations

from mlc.errors import MlcError, ModelLoadError, UnsupportedOpError


class NeedsConstantError(MlcError):
    """A shape-defining input (Reshape's shape, Slice's starts, …) is a graph input.

    ``names`` lists the graph inputs that would have to be bound to constants (``bind=`` of
    :func:`mlc.frontend.import_model`) for the import to succeed."""

    def __init__(self, names: list[str], message: str | None = None):
        self.names = list(names)
        super().__init__(message or (
            "graph input(s) " + ", ".join(f"'{n}'" for n in self.names)
            + " define shapes or attributes, so mlc needs their values at import"),
            hint="make them initializers in the model, or bind them: "
                 "import_model(model, bind={name: array})")


class BudgetError(ModelLoadError):
    """Import would create more data than its budget allows (see :mod:`.budget`)."""

    def __init__(self, message: str):
        super().__init__(message, hint="if the model is trusted, raise the limit: "
                                       "mlc --import-limit MIB, or import_model(..., "
                                       "budget=ImportBudget(...))")


class UnsupportedTypeError(UnsupportedOpError):
    """A tensor has an element type the IR does not have (bfloat16, string, uint16, float8 …)."""
