"""Helpers shared by op definitions: type inference and cost patterns."""

from __future__ import annotations

import numpy as np

from mlc.ir.dtypes import DType
from mlc.ir.op_registry import OpError
from mlc.ir.types import TensorType


def same_as_input(x: TensorType, *rest, **attrs) -> TensorType:
    """Output type equals the first input's type (unary elementwise ops)."""
    return x


def broadcast_shape(*shapes: tuple[int, ...], op: str = "op") -> tuple[int, ...]:
    """numpy broadcasting of static shapes; raises OpError naming the op when they disagree."""
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise OpError(f"{op}: shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast") from None


def broadcast_types(*types: TensorType | None, op: str = "op", dtype: DType | None = None) -> TensorType:
    """Broadcast the shapes of all present inputs; dtype is ``dtype`` or the first input's."""
    present = [t for t in types if t is not None]
    return TensorType(broadcast_shape(*(t.shape for t in present), op=op), dtype or present[0].dtype)


def normalize_axis(axis: int, rank: int, op: str = "op") -> int:
    if not -rank <= axis < max(rank, 1):
        raise OpError(f"{op}: axis {axis} out of range for rank {rank}")
    return axis % max(rank, 1)

