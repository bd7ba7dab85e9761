"""The x86 backend through LLVM: loop-IR kernels → LLVM IR (llvmlite) → optimized object code.

- ``host``: LLVM's target machine and data layout for the host (``backends/toolchain/host.py``
  detects it: triple, CPU, features → ISA avx512/avx2/scalar).
- ``codegen``: ``ModuleCodegen`` renders kernels into one llvmlite module under the kernel ABI
  ``void @k(ptr per param..., ptr workspace)``: statements and loops of every kind;
  ``exprs`` the expressions with ``backends/loop/scalar.py``'s semantics (``lltypes`` maps
  dtypes, ``keys`` gives expressions cheap structural keys for reuse of emitted values);
  ``vector`` the ``<W x T>`` bodies of vectorized loops (contiguous accesses, gathers,
  scatters), ``vector_math`` exp/tanh/erf as inline polynomials there; ``parallel`` outlines
  parallel loops into the runtime's ``mlc_parallel_for``.
- ``emit``: verify, run LLVM's O3 pipeline, emit the object (and assembly).
- ``kernel_library``: single kernels linked with the C runtime, for tests and micro-benchmarks.
- ``driver``: the llvm target's whole-model driver (``mlc_run``) on top of these.
"""

from .codegen import ModuleCodegen  # noqa: F401
from .emit import Compiled, LLVMCompileError, compile_module  # noqa: F401

__all__ = ["Compiled", "LLVMCompileError", "ModuleCodegen", "compile_module"]
