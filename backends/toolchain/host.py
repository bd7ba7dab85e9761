"""The machine we compile for: the host CPU's triple, name and features, and its vector ISA.

Every backend asks: the loop IR's schedules pick vector widths from the ISA, the C backend picks
``-march`` flags, TVM names the CPU, LLVM builds its target machine from all three. LLVM's host
detection (through llvmlite, a base dependency) is the one source, cached for the process, so
every kernel, module and schedule agrees on the same CPU and feature string.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import llvmlite.binding as llvm


@dataclass(frozen=True)
class HostTarget:
    """A CPU target: ``triple``, ``cpu`` name and ``features`` (``+avx2,+fma,-avx512f,...``)."""

    triple: str
    cpu: str
    features: str

    @property
    def isa(self) -> str:
        """The vector extension schedules are made for: avx512, avx2 (with FMA) or scalar."""
        enabled = {f[1:] for f in self.features.split(",") if f.startswith("+")}
        if "avx512f" in enabled:
            return "avx512"
        if "avx2" in enabled and "fma" in enabled:
            return "avx2"
        return "scalar"


@functools.lru_cache(maxsize=1)
def initialize_llvm() -> None:
    """LLVM's native target, initialised once per process (detection and code generation)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.lru_cache(maxsize=1)
def host_target() -> HostTarget:
    """The machine this process runs on (cached)."""
    initialize_llvm()
    return HostTarget(llvm.get_process_triple(), llvm.get_host_cpu_name(),
                      llvm.get_host_cpu_features().flatten())
