"""The machine we compile for: LLVM's view of the host CPU, and which vector ISA it offers.

Why one cached object: LLVM's native target must be initialised once per process, and every
kernel, module and schedule choice must agree on the same CPU and feature string (a kernel built
with AVX-512 attributes inside a module targeting plain x86-64 would not get its vector code).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import llvmlite.binding as llvm


@dataclass(frozen=True)
class HostTarget:
    """An LLVM target: ``triple``, ``cpu`` name and ``features`` (``+avx2,+fma,-avx512f,...``)."""

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

    def target_machine(self, opt: int = 3) -> llvm.TargetMachine:
        """A position-independent target machine (objects go into shared libraries)."""
        _initialize()
        target = llvm.Target.from_triple(self.triple)
        return target.create_target_machine(cpu=self.cpu, features=self.features, opt=opt,
                                            reloc="pic", codemodel="default")

    @property
    def data_layout(self) -> str:
        return str(_data_layout(self))


@functools.lru_cache(maxsize=None)
def _data_layout(host: HostTarget) -> llvm.TargetData:
    return host.target_machine().target_data


@functools.lru_cache(maxsize=1)
def _initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.lru_cache(maxsize=1)
def host_target() -> HostTarget:
    """The machine this process runs on (cached)."""
    _initialize()
    return HostTarget(llvm.get_process_triple(), llvm.get_host_cpu_name(),
                      llvm.get_host_cpu_features().flatten())
