"""Single kernels rendered as C and built with the system compiler into a loadable library.

The C counterpart of ``backends/llvm/kernel_library.py``, with the same contract (see
``backends/kernel_library.py``), so the tests that hold the LLVM renderer to ``evaluate`` hold
the C renderer to it too. ``threads=False`` renders parallel loops serially, as for a
microcontroller; ``stack_limit`` moves scratch to the workspace as a microcontroller build does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from mlc.backends.kernel_library import ENTRY, LoadedKernels
from mlc.backends.loop.ir import Kernel
from mlc.backends.loop.scratch import STACK_LIMIT_BYTES
from mlc.backends.toolchain.cc import build_shared_library

from . import approx
from .ctypes_table import memory_type
from .kernel import INDENT, KernelOptions, render_kernel
from .module import MLC_OPS_HEADER

HEADER_DIR = Path(__file__).resolve().parent


def kernels_source(kernels: Sequence[Kernel], options: KernelOptions) -> str:
    """A C file with each kernel and its exported ``mlc_kernel_entry_<k>`` wrapper."""
    parts = ['#include "mlc_runtime.h"', f'#include "{MLC_OPS_HEADER}"', "", approx.source()]
    names = [f"k{k}_kernel" for k in range(len(kernels))]
    for k, (kernel, name) in enumerate(zip(kernels, names)):
        rendered = render_kernel(kernel, name, options, frozenset(names))
        parts.append(rendered.code)
        args = [f"({'' if p.kind == 'output' else 'const '}{memory_type(p.dtype)} *)args[{i}]"
                for i, p in enumerate(rendered.params)]
        for entry in [f"{ENTRY}_{k}"] + ([ENTRY] if k == 0 else []):
            parts += [f"MLC_EXPORT void {entry}(void **args, unsigned char *workspace);",
                      f"MLC_EXPORT void {entry}(void **args, unsigned char *workspace)", "{",
                      f"{INDENT}(void)args;",
                      f"{INDENT}{name}({', '.join(args + ['workspace'])});", "}", ""]
    return "\n".join(parts)


class CKernelLibrary(LoadedKernels):
    """``kernel`` (or several) rendered as C, compiled for this machine and loaded."""

    def __init__(self, kernel: Kernel | Sequence[Kernel], threads: int = 1, *,
                 use_threads: bool = True, stack_limit: int = STACK_LIMIT_BYTES,
                 flags: Sequence[str] | None = None):
        from ..toolchain.host import host_target
        from .driver import host_flags

        kernels = [kernel] if isinstance(kernel, Kernel) else list(kernel)
        options = KernelOptions(threads=use_threads, stack_limit=stack_limit)
        self.source = kernels_source(kernels, options)
        if flags is None:
            flags = host_flags(host_target().isa, werror=True)
        with tempfile.TemporaryDirectory(prefix="mlc_c_kernel_") as tmp:
            source = Path(tmp) / "kernels.c"
            source.write_text(self.source)
            library = build_shared_library([source], Path(tmp) / "kernels.so", flags=flags,
                                           include_dirs=[HEADER_DIR])
            super().__init__(kernels, library, threads, stack_limit)
