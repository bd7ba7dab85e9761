"""How much data an import may create: the guard against tiny files that expand into huge ones.

A model's initializers are bounded by its file (they are read, not created). What import
*creates* is not: a 135-byte ConstantOfShape can ask for gigabytes, and forty folded shape
computations of a few million int64 elements each add up to more than a gigabyte. Every tensor
the importer materialises (folded results, ConstantOfShape, Range) is charged here before it is
allocated, per tensor and in total, and refused with one line that names the node and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BudgetError

MIB = 1 << 20


@dataclass(frozen=True)
class ImportBudget:
    """Limits in bytes on what one import may create (raise them for a model you trust). The
    defaults admit the onnx package's light models, whose weights are ConstantOfShape nodes
    (VGG-19's largest is 392 MiB, 548 MiB in all)."""

    tensor_bytes: int = 512 * MIB
    total_bytes: int = 1024 * MIB


_default = ImportBudget()


def set_default_budget(budget: ImportBudget) -> None:
    """The budget of imports that do not pass their own (``mlc --import-limit`` sets it)."""
    global _default
    _default = budget


class BudgetMeter:
    """Counts what an import has created against its budget."""

    def __init__(self, budget: ImportBudget | None = None):
        self.budget = budget or _default
        self.used = 0

    def charge(self, nbytes: int, what: str) -> None:
        """Account for ``nbytes`` about to be allocated by ``what`` (a node's label), or raise."""
        limit = self.budget
        if nbytes > limit.tensor_bytes:
            raise BudgetError(f"{what} would create a tensor of {_size(nbytes)}, more than the "
                              f"import limit of {_size(limit.tensor_bytes)} per tensor")
        if self.used + nbytes > limit.total_bytes:
            raise BudgetError(f"{what} would bring the data created at import to "
                              f"{_size(self.used + nbytes)}, more than the import limit of "
                              f"{_size(limit.total_bytes)} in total")
        self.used += nbytes


def _size(nbytes: int) -> str:
    return f"{nbytes / MIB:.1f} MiB" if nbytes >= MIB else f"{nbytes} bytes"
