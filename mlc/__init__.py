"""mlc: import ONNX models into a graph IR, optimise them, and lower them to CPUs, GPUs and MCUs.

The Python API in three calls: ``mlc.load`` a model, change it (``mlc.passes``), and
``mlc.compile`` it for a target; ``mlc.runtime.load`` runs the artifact.
"""

from __future__ import annotations

import os

from mlc.errors import MlcError  # noqa: F401
from mlc.frontend.model_file import load_model as load, save_model as save  # noqa: F401
from mlc.ir import DType, Graph, GraphBuilder, TensorType, verify  # noqa: F401
from mlc.version import __version__  # noqa: F401


def compile(graph: Graph, target: str = "llvm", output: str | os.PathLike | None = None,
            **options) -> str:
    """Compile ``graph`` for ``target`` into an artifact directory and return its path; run it
    with ``mlc.runtime.load(path).run(feeds)``. ``output`` defaults to a new temporary folder.

    ``options`` are the target's (``mlc targets`` lists each target's): every target takes
    ``level`` (``-O2``) and ``emit`` (intermediate forms, e.g. ``llvm-ir``, ``asm``,
    ``loop-ir``); the loop-IR targets ``schedule`` (field overrides, ``gemm.mr=4``); the C
    targets ``weights`` (``c``, ``incbin`` or ``auto``) and ``werror``; the TVM targets
    ``tune`` (MetaSchedule trials) and, for ``cuda``, ``arch`` (``sm_90``). An option the target
    does not take is an error."""
    import tempfile

    from mlc.runtime.targets import get_target

    chosen = get_target(target)
    if output is None:
        output = os.path.join(tempfile.mkdtemp(prefix=f"mlc-{target}-"), "artifact")
    chosen.compile_graph(graph, output, **options)
    return os.fspath(output)
