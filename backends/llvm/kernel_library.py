"""Single kernels rendered through LLVM as a loadable library (see ``backends/kernel_library``).

Each kernel gets an exported wrapper ``void mlc_kernel_entry_<k>(void** args, void* workspace)``
that unpacks the argument array into the kernel ABI; the object is linked with the C runtime.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import llvmlite.ir as lir

from mlc.backends.kernel_library import ENTRY, LoadedKernels
from mlc.backends.loop.ir import Kernel
from mlc.backends.toolchain.host import HostTarget, host_target
from mlc.backends.toolchain.cc import build_shared_library

from . import lltypes as T
from .codegen import ModuleCodegen
from .emit import Compiled, compile_module


class KernelLibrary(LoadedKernels):
    """``kernel`` (or several kernels) compiled for ``host`` through LLVM and loaded, with
    ``threads`` threads in the runtime's pool. ``run`` has the contract of ``evaluate``."""

    def __init__(self, kernel: Kernel | Sequence[Kernel], host: HostTarget | None = None,
                 threads: int = 1, opt: int = 3, verify: bool = True):
        kernels = [kernel] if isinstance(kernel, Kernel) else list(kernel)
        self.host = host or host_target()
        codegen = ModuleCodegen("kernels", self.host)
        for k, kern in enumerate(kernels):
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
            super().__init__(kernels, library, threads)

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
