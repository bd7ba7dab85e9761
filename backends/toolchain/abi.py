"""The C ABI every llvm and c library exports (``runtime/c/mlc_runtime.h``), seen from Python.

The header is the definition; these constants restate it once for the code generators that
emit ``mlc_run`` and for the loader that calls it, so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np

ABI_VERSION = 1  # MLC_ABI_VERSION
ARENA_ALIGN = 64  # MLC_ARENA_ALIGN: the arena's (and every buffer's) start, in bytes
ENTRY_POINTS = ("mlc_abi_version", "mlc_arena_bytes", "mlc_num_threads", "mlc_run")
STATUS_OK, STATUS_BAD_ARGUMENT = 0, 1  # MLC_OK, MLC_ERR_ARGUMENT
STATUS_BAD_INPUT = 2  # MLC_ERR_INPUT: an input the model cannot handle (an index out of range)
# A library of single kernels (tests, micro-benchmarks) exports, for its k-th kernel,
# ``void mlc_kernel_entry_<k>(void **args, void *workspace)``: the parameters as one array.
KERNEL_ENTRY = "mlc_kernel_entry"


def aligned_empty(shape, dtype, align: int = ARENA_ALIGN) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary
    (numpy only promises element alignment). Never zero-sized, so the pointer is always valid."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = max(count * dtype.itemsize, 1)
    raw = np.empty(nbytes + align, dtype=np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)
