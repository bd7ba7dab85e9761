"""Single kernels, loaded and run: for tests against the evaluator and for micro-benchmarks.

A renderer builds a shared library of kernels (``backends/llvm/kernel_library.py``,
``backends/c/kernel_library.py``) that exports, for the k-th of them,
``void mlc_kernel_entry_<k>(void **args, void *workspace)``, and links the C runtime (thread pool
for parallel loops). ``LoadedKernels`` opens it with ctypes and runs kernels with ``evaluate``'s
contract; ``LlvmKernelLibrary`` and ``CKernelLibrary`` build and load in one step. Several kernels
share one library because each build costs a compiler run (~0.3 s): tests compile many at once.
"""

from __future__ import annotations

import ctypes
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from mlc.backends.c.driver import host_flags
from mlc.backends.c.kernel import KernelOptions
from mlc.backends.c.kernel_library import build_kernel_library as build_c_kernels
from mlc.backends.llvm.emit import Compiled
from mlc.backends.llvm.kernel_library import build_kernel_library as build_llvm_kernels
from mlc.backends.loop.evaluate import EvaluationError
from mlc.backends.loop.ir import Kernel
from mlc.backends.loop.scratch import STACK_LIMIT_BYTES, workspace_bytes
from mlc.backends.toolchain.abi import KERNEL_ENTRY, aligned_empty
from mlc.backends.toolchain.host import HostTarget, host_target

from .bench import time_runs


class LoadedKernels:
    """``kernels`` in the shared library ``library`` (opened now; the file may be removed
    afterwards), with ``threads`` threads in its pool."""

    def __init__(self, kernels: Sequence[Kernel], library: Path, threads: int = 1,
                 stack_limit: int = STACK_LIMIT_BYTES):
        self.kernels = list(kernels)
        self.stack_limit = stack_limit
        self._lib = ctypes.CDLL(str(library))  # stays mapped after the file is removed
        self._lib.mlc_num_threads.argtypes = [ctypes.c_int]
        self._lib.mlc_num_threads.restype = ctypes.c_int
        self.threads = self.set_threads(threads)
        self._entries = []
        for k in range(len(self.kernels)):
            entry = getattr(self._lib, f"{KERNEL_ENTRY}_{k}")
            entry.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            entry.restype = None
            self._entries.append(entry)

    def set_threads(self, threads: int) -> int:
        return int(self._lib.mlc_num_threads(int(threads)))

    def _select(self, kernel: int | str | None) -> int:
        if kernel is None:
            return 0
        if isinstance(kernel, int):
            return kernel
        return [k.name for k in self.kernels].index(kernel)

    def _prepare(self, args: Mapping[str, np.ndarray], index: int
                 ) -> tuple[Callable[[], None], dict[str, np.ndarray]]:
        kernel = self.kernels[index]
        owned = {name for name, _ in kernel.constants}
        arrays: list[np.ndarray] = []
        outputs: dict[str, np.ndarray] = {}
        for param in kernel.params:
            if param.name in owned:
                continue
            if param.kind == "output" or (param.name not in args and param.kind == "arena"):
                array = _fresh(param.numel, param.dtype.numpy, param.dtype.is_float)
                if param.kind == "output":
                    outputs[param.name] = array
            elif param.name not in args:
                raise EvaluationError(f"kernel {kernel.name}: no array for parameter "
                                      f"{param.name}")
            else:
                given = np.asarray(args[param.name])
                if given.size != param.numel:
                    raise EvaluationError(f"kernel {kernel.name}: {param.name} has {given.size} "
                                          f"elements, the kernel expects {param.numel}")
                array = np.array(given, dtype=param.dtype.numpy).reshape(-1)  # a fresh copy
            arrays.append(array)
        workspace = aligned_empty(max(workspace_bytes(kernel, self.stack_limit), 1), np.uint8)
        pointers = (ctypes.c_void_p * max(len(arrays), 1))(*[a.ctypes.data for a in arrays])
        entry = self._entries[index]
        keep = (arrays, workspace, pointers)

        def call() -> None:
            entry(pointers, workspace.ctypes.data)
            _ = keep

        return call, {p.name: outputs[p.name].reshape(p.shape) for p in kernel.outputs}

    def run(self, args: Mapping[str, np.ndarray], kernel: int | str | None = None
            ) -> dict[str, np.ndarray]:
        """Run one kernel (the first unless ``kernel`` names another) on fresh copies of
        ``args`` (input and const params the kernel does not own); returns outputs by name."""
        call, outputs = self._prepare(args, self._select(kernel))
        call()
        return outputs

    def time(self, args: Mapping[str, np.ndarray], repeat: int = 20,
             kernel: int | str | None = None) -> float:
        """Median seconds of one call (after two warm-up calls)."""
        call, _ = self._prepare(args, self._select(kernel))
        return time_runs(call, warmup=2, repeat=repeat).median_ms / 1e3


def _fresh(numel: int, dtype: np.dtype, is_float: bool) -> np.ndarray:
    """Outputs start as NaN or 123 (as in the evaluator) so a missed store shows."""
    return np.full(numel, np.nan if is_float else 123, dtype) if dtype != np.bool_ else \
        np.zeros(numel, dtype)


def _as_list(kernel: Kernel | Sequence[Kernel]) -> list[Kernel]:
    return [kernel] if isinstance(kernel, Kernel) else list(kernel)


class LlvmKernelLibrary(LoadedKernels):
    """``kernel`` (or several kernels) compiled for ``host`` through LLVM and loaded, with
    ``threads`` threads in the runtime's pool; ``compiled`` holds its LLVM IR and assembly."""

    def __init__(self, kernel: Kernel | Sequence[Kernel], host: HostTarget | None = None,
                 threads: int = 1, opt: int = 3, verify: bool = True):
        kernels = _as_list(kernel)
        self.host = host or host_target()
        self.compiled: Compiled
        with tempfile.TemporaryDirectory(prefix="mlc_kernel_") as tmp:
            library, self.compiled = build_llvm_kernels(kernels, Path(tmp), self.host, opt=opt,
                                                        verify=verify)
            super().__init__(kernels, library, threads)


class CKernelLibrary(LoadedKernels):
    """``kernel`` (or several) rendered as C, compiled for this machine and loaded; ``source``
    is the C. ``use_threads=False`` and ``stack_limit`` render as for a microcontroller."""

    def __init__(self, kernel: Kernel | Sequence[Kernel], threads: int = 1, *,
                 use_threads: bool = True, stack_limit: int = STACK_LIMIT_BYTES,
                 flags: Sequence[str] | None = None):
        kernels = _as_list(kernel)
        options = KernelOptions(threads=use_threads, stack_limit=stack_limit)
        if flags is None:
            flags = host_flags(host_target().isa, werror=True)
        with tempfile.TemporaryDirectory(prefix="mlc_c_kernel_") as tmp:
            library, self.source = build_c_kernels(kernels, Path(tmp), options, flags)
            super().__init__(kernels, library, threads, stack_limit)
