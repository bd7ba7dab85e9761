"""What the TVM tests need: TVM itself (the whole package) and, for cuda artifacts, nvcc."""

from __future__ import annotations

import os
import shutil

from tests.skips import need_module, skip_outside_ci

NO_TVM = "the TVM targets need Apache TVM (pip install 'mlc[tvm]'; make test installs it)"


def need_tvm() -> None:
    need_module("tvm", NO_TVM)


def need_nvcc() -> None:
    """Skip (outside CI) unless nvcc is on PATH or under $CUDA_HOME, as `-t cuda` looks for it."""
    home = os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")
    if shutil.which("nvcc") is None and not os.access(home, os.X_OK):
        skip_outside_ci("nvcc not installed: -t cuda compiles its kernels with it "
                        "(install the CUDA toolkit)")
