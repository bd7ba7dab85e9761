"""What the TVM tests need: TVM itself (the whole package) and, for cuda artifacts, nvcc."""

from __future__ import annotations

from tests.skips import need_module, skip_outside_ci

NO_TVM = "the TVM targets need Apache TVM (pip install 'mlc[tvm]'; make test installs it)"


def need_tvm() -> None:
    need_module("tvm", NO_TVM)


def need_nvcc() -> None:
    """Skip (outside CI) unless nvcc is where `-t cuda` looks for it (PATH or $CUDA_HOME)."""
    from mlc.backends.tvm.driver import NVCC

    if NVCC.find() is None:
        skip_outside_ci(f"nvcc not installed: -t cuda compiles its kernels with it ({NVCC.hint})")
