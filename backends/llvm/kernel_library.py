"""Single kernels as a loadable library: for tests against the evaluator and micro-benchmarks.

Each kernel gets an exported wrapper ``void mlc_kernel_entry(void** args, void* workspace)``
(``mlc_kernel_entry_<k>`` for the k-th of several) that unpacks the argument array into the
kernel ABI. The object is linked with the C runtime (thread pool for parallel loops) into a
shared library and opened with ctypes. Several kernels can share one library because each
library build costs a compiler run (~0.3 s): tests compile many kernels at once.
"""

from __future__ import annotations

import ctypes
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Sequence

import llvmlite.ir as lir
import numpy as np

from mlc.backends.loop.evaluate import EvaluationError
from mlc.backends.loop.ir import Kernel
from mlc.backends.loop.scratch import workspace_bytes
from mlc.runtime.c.build import build_shared_library
from mlc.runtime.bench import time_runs
from mlc.runtime.loader import aligned_empty

from . import lltypes as T
from .codegen import ModuleCodegen
from .emit import Compiled, compile_module
from .host import HostTarget, host_target

ENTRY = "mlc_kernel_entry"


class KernelLibrary:
    """``kernel`` (or several kernels) compiled for ``host`` and loaded, with ``threads``
    threads in the runtime's pool. ``run`` has the contract of ``evaluate``."""

    def __init__(self, kernel: Kernel | Sequence[Kernel], host: HostTarget | None = None,
                 threads: int = 1, opt: int = 3, verify: bool = True):
        self.kernels = [kernel] if isinstance(kernel, Kernel) else list(kernel)
        self.host = host or host_target()
        codegen = ModuleCodegen("kernels", self.host)
        for k, kern in enumerate(self.kernels):
            fn = codegen.add_kernel(kern, verify=verify)
            self._add_entry(codegen, fn, f"{ENTRY}_{k}")
            if k == 0:
                self._add_entry(codegen, fn, ENTRY)
        self.compiled: Compiled = compile_module(codegen.module, self.host, opt=opt,
                                                 want_asm=True)
        with tempfile.TemporaryDirectory(prefix="mlc_kernel_") as tmp:
            obj = Path(tmp) / "kernels.o"
            obj.write_bytes(self.compiled.object)
            library = build_shared_library([], Path(tmp) / "kernels.so", objects=[obj])
            self._lib = ctypes.CDLL(str(library))  # stays mapped after the file is removed
        self._lib.mlc_num_threads.argtypes = [ctypes.c_int]
        self._lib.mlc_num_threads.restype = ctypes.c_int
        self.threads = self.set_threads(threads)
        self._entries = []
        for k in range(len(self.kernels)):
            entry = getattr(self._lib, f"{ENTRY}_{k}")
            entry.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            entry.restype = None
            self._entries.append(entry)

    @staticmethod
    def _add_entry(codegen: ModuleCodegen, kernel_fn: lir.Function, name: str) -> None:
        fn = codegen.new_function(name, [T.ptr, T.ptr])
        b = lir.IRBuilder(fn.append_basic_block("entry"))
        args = []
        for k in range(len(kernel_fn.args) - 1):
            slot = b.gep(fn.args[0], [T.const_i64(k)], source_etype=T.ptr, inbounds=True)
            args.append(b.load(slot, typ=T.ptr))
        b.call(kernel_fn, args + [fn.args[1]])
        b.ret_void()

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
        workspace = aligned_empty(max(workspace_bytes(kernel), 1), np.uint8)
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
