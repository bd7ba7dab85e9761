"""Single kernels rendered through LLVM into a library of their own, for tests against the
evaluator and for micro-benchmarks (``mlc.runtime.kernels`` loads and runs it).

Each kernel gets an exported wrapper ``void mlc_kernel_entry_<k>(void** args, void* workspace)``
that unpacks the argument array into the kernel ABI; the object is linked with the C runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import llvmlite.ir as lir

from mlc.backends.loop.ir import Kernel
from mlc.backends.toolchain.abi import KERNEL_ENTRY
from mlc.backends.toolchain.cc import build_shared_library
from mlc.backends.toolchain.host import HostTarget

from . import lltypes as T
from .codegen import ModuleCodegen
from .emit import Compiled, compile_module


def build_kernel_library(kernels: Sequence[Kernel], folder: Path, host: HostTarget, *,
                         opt: int = 3, verify: bool = True) -> tuple[Path, Compiled]:
    """``folder/kernels.so`` holding ``kernels`` compiled for ``host``, and the compiled module
    (its LLVM IR and assembly, which tests read)."""
    codegen = ModuleCodegen("kernels", host)
    for k, kernel in enumerate(kernels):
        fn = codegen.add_kernel(kernel, verify=verify)
        _add_entry(codegen, fn, f"{KERNEL_ENTRY}_{k}")
    compiled = compile_module(codegen.module, host, opt=opt, want_asm=True)
    obj = folder / "kernels.o"
    obj.write_bytes(compiled.object)
    return build_shared_library([], folder / "kernels.so", objects=[obj]), compiled


def _add_entry(codegen: ModuleCodegen, kernel_fn: lir.Function, name: str) -> None:
    fn = codegen.new_function(name, [T.ptr, T.ptr])
    b = lir.IRBuilder(fn.append_basic_block("entry"))
    args = [b.load(b.gep(fn.args[0], [T.const_i64(k)], source_etype=T.ptr, inbounds=True),
                   typ=T.ptr) for k in range(len(kernel_fn.args) - 1)]
    b.call(kernel_fn, args + [fn.args[1]])
    b.ret_void()
