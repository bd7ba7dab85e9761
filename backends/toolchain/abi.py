"""The C ABI every llvm and c library exports (``runtime/c/mlc_runtime.h``), seen from Python.

The header is the definition; these constants restate it once for the code generators that
emit ``mlc_run`` and for the loader that calls it, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

ABI_VERSION = 2  # MLC_ABI_VERSION (2: the library describes its inputs and outputs)
ARENA_ALIGN = 64  # MLC_ARENA_ALIGN: the arena's (and every buffer's) start, in bytes
ENTRY_POINTS = ("mlc_abi_version", "mlc_arena_bytes", "mlc_num_threads", "mlc_run",
                "mlc_io_count", "mlc_io_desc")
STATUS_OK, STATUS_BAD_ARGUMENT = 0, 1  # MLC_OK, MLC_ERR_ARGUMENT
STATUS_BAD_INPUT = 2  # MLC_ERR_INPUT: an input the model cannot handle (an index out of range)
# A library of single kernels (tests, micro-benchmarks) exports, for its k-th kernel,
# ``void mlc_kernel_entry_<k>(void **args, void *workspace)``: the parameters as one array.
KERNEL_ENTRY = "mlc_kernel_entry"

IO_KINDS = {"input": 0, "output": 1}  # MLC_IO_INPUT, MLC_IO_OUTPUT
# enum mlc_dtype: DType name -> (code, the C enumerator). Codes are fixed by the ABI, never reused.
DTYPE_CODES = {"float32": 1, "float16": 2, "float64": 3, "int8": 4, "uint8": 5, "int16": 6,
               "int32": 7, "int64": 8, "bool": 9}
DTYPE_NAMES = {code: name for name, code in DTYPE_CODES.items()}
MAX_RANK = 32  # the loader refuses a descriptor of higher rank as corrupt


def dtype_enumerator(dtype: str) -> str:
    """The C name of a dtype code in ``enum mlc_dtype`` (``MLC_DTYPE_FLOAT32``)."""
    return f"MLC_DTYPE_{dtype.upper()}"


@dataclass(frozen=True)
class IoDesc:
    """What ``mlc_io_desc(kind, i)`` returns for one input or output: ``struct mlc_tensor_desc``
    (dtype code, rank, byte size, dims). Both code generators emit it from ``io_descs`` so the
    llvm and c libraries describe a model the same way."""

    dtype: str
    shape: tuple[int, ...]
    nbytes: int

    @property
    def code(self) -> int:
        return DTYPE_CODES[self.dtype]


def io_descs(values: Sequence) -> list[IoDesc]:
    """The descriptors of graph ``Value``s (static shapes by compile time), in ABI order."""
    return [IoDesc(v.dtype.name, tuple(int(d) for d in v.shape), int(v.type.nbytes))
            for v in values]


def aligned_empty(shape, dtype, align: int = ARENA_ALIGN) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary
    (numpy only promises element alignment). Never zero-sized, so the pointer is always valid."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = max(count * dtype.itemsize, 1)
    raw = np.empty(nbytes + align, dtype=np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)
