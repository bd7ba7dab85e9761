"""Single kernels rendered as C and built with the system compiler into a library of their own.

The C counterpart of ``backends/llvm/kernel_library.py`` (``mlc.runtime.kernels`` loads either),
so the tests that hold the LLVM renderer to ``evaluate`` hold the C renderer to it too.
``KernelOptions(threads=False)`` renders parallel loops serially, as for a microcontroller;
``stack_limit`` moves scratch to the workspace as a microcontroller build does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mlc.backends.loop.ir import Kernel
from mlc.backends.toolchain.abi import KERNEL_ENTRY
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
        entry = f"{KERNEL_ENTRY}_{k}"
        parts += [f"MLC_EXPORT void {entry}(void **args, unsigned char *workspace);",
                  f"MLC_EXPORT void {entry}(void **args, unsigned char *workspace)", "{",
                  f"{INDENT}(void)args;",
                  f"{INDENT}{name}({', '.join(args + ['workspace'])});", "}", ""]
    return "\n".join(parts)


def build_kernel_library(kernels: Sequence[Kernel], folder: Path, options: KernelOptions,
                         flags: Sequence[str]) -> tuple[Path, str]:
    """``folder/kernels.so`` holding ``kernels`` rendered as C and built with ``flags``, and the
    C source (which tests read)."""
    source = kernels_source(kernels, options)
    path = folder / "kernels.c"
    path.write_text(source)
    library = build_shared_library([path], folder / "kernels.so", flags=flags,
                                   include_dirs=[HEADER_DIR])
    return library, source
