"""The TVM backend: mlc's optimised graph as a TVM Relax module, built for CUDA or the host CPU.

mlc decides the fusion; TVM compiles the kernels. Every top-level node of the graph after ``-O2``
(a fused group or a lone op) becomes one TE function (``ops/``: topi and TE computes, elementwise
epilogues inlined) called with ``call_tir`` from one Relax function; no TVM pass re-fuses them.
Schedules come from dlight's GPU rules (``schedule.py``), a small rule set for the CPU, or
MetaSchedule with ``--tune``. ``build.py`` writes the artifact the runtime loads through TVM's VM.

TVM is an optional dependency (``pip install 'mlc[tvm]'``); ``require_tvm`` turns its absence
into one clear line instead of an ImportError deep in a build.
"""

from __future__ import annotations

from mlc.errors import MlcError

from ..toolchain.tools import PythonPackage

TVM = PythonPackage("tvm", "install mlc[tvm]: pip install -e '.[tvm]' (or pip install apache-tvm)")


class TvmUnavailable(MlcError):
    """Apache TVM is not installed (or cannot be imported) in this Python environment."""


def require_tvm():
    """Import and return the ``tvm`` package, or raise TvmUnavailable with the install line."""
    try:
        import tvm
        import tvm.relax  # noqa: F401  (the Relax VM and builder are what every caller needs)
    except ImportError as exc:
        raise TvmUnavailable(f"the TVM targets need Apache TVM, which cannot be imported ({exc})",
                             hint=TVM.hint) from None
    return tvm
