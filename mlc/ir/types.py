"""TensorType: the static (or not yet specialised) shape and dtype of a value."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .dtypes import DType

Dim = int | str  # a str is a symbolic dim, legal only before specialisation


@dataclass(frozen=True)
class TensorType:
    shape: tuple[Dim, ...]
    dtype: DType

    def __init__(self, shape, dtype):
        object.__setattr__(self, "shape", tuple(d if isinstance(d, str) else int(d) for d in shape))
        object.__setattr__(self, "dtype", DType.parse(dtype))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    @property
    def symbolic_dims(self) -> list[str]:
        return [d for d in self.shape if isinstance(d, str)]

    @property
    def numel(self) -> int:
        if not self.is_static:
            raise ValueError(f"{self} has symbolic dims; specialise them first")
        return math.prod(self.shape)  # type: ignore[arg-type]

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def with_shape(self, shape) -> TensorType:
        return TensorType(shape, self.dtype)

    def with_dtype(self, dtype) -> TensorType:
        return TensorType(self.shape, dtype)

    def __str__(self) -> str:
        return f"{self.dtype.short}[{','.join(str(d) for d in self.shape)}]"

    __repr__ = __str__

    @staticmethod
    def of(array) -> TensorType:
        """The type of a numpy array (or scalar)."""
        import numpy as np

        arr = np.asarray(array)
        return TensorType(arr.shape, DType.from_numpy(arr.dtype))
