"""The element types of the IR, with their numpy and short textual names."""

from __future__ import annotations

import enum

import numpy as np


class DType(enum.Enum):
    """An element type. The value is the short name used in the textual IR (``f32[1,3]``)."""

    float32 = "f32"
    float16 = "f16"
    float64 = "f64"
    int8 = "i8"
    uint8 = "u8"
    int16 = "i16"
    int32 = "i32"
    int64 = "i64"
    bool = "bool"

    @property
    def short(self) -> str:
        return self.value

    @property
    def numpy(self) -> np.dtype:
        return np.dtype(self.name)  # the member names are numpy's dtype names

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    @property
    def is_float(self) -> bool:
        return self in (DType.float32, DType.float16, DType.float64)

    @property
    def is_int(self) -> bool:
        return self in (DType.int8, DType.uint8, DType.int16, DType.int32, DType.int64)

    @staticmethod
    def from_numpy(dtype: np.dtype | type) -> DType:
        key = np.dtype(dtype)
        for dt in DType:
            if dt.numpy == key:
                return dt
        raise TypeError(f"numpy dtype {key} has no mlc equivalent")

    @staticmethod
    def parse(value: DType | str | np.dtype | type) -> DType:
        """Accept a DType, a short name (``f32``), a long name (``float32``) or a numpy dtype."""
        if isinstance(value, DType):
            return value
        if isinstance(value, str):
            if value in _BY_SHORT:
                return _BY_SHORT[value]
            if value in DType.__members__:
                return DType[value]
        return DType.from_numpy(value)

    def __repr__(self) -> str:
        return f"DType.{self.name}"


_BY_SHORT = {dt.value: dt for dt in DType}

f32, f16, f64 = DType.float32, DType.float16, DType.float64
i8, u8, i16, i32, i64 = DType.int8, DType.uint8, DType.int16, DType.int32, DType.int64
boolean = DType.bool
