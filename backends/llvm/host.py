"""LLVM's side of the host target: the target machine and data layout kernels are built for.

The host itself (triple, CPU, features, ISA) is detected in ``backends/toolchain/host.py``,
which every backend reads; only LLVM needs a ``TargetMachine`` made from it.
"""

from __future__ import annotations

import functools

import llvmlite.binding as llvm

from mlc.backends.toolchain.host import HostTarget, initialize_llvm


def target_machine(host: HostTarget, opt: int = 3) -> llvm.TargetMachine:
    """A position-independent target machine for ``host`` (objects go into shared libraries)."""
    initialize_llvm()
    target = llvm.Target.from_triple(host.triple)
    return target.create_target_machine(cpu=host.cpu, features=host.features, opt=opt,
                                        reloc="pic", codemodel="default")


@functools.lru_cache(maxsize=None)
def data_layout(host: HostTarget) -> str:
    return str(target_machine(host).target_data)
