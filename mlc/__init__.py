"""mlc: import ONNX models into a graph IR, optimise them, and lower them to CPUs, GPUs and MCUs."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from mlc.errors import MlcError  # noqa: F401
from mlc.ir import DType, Graph, GraphBuilder, TensorType, verify  # noqa: F401

__version__ = "0.1.0"

Shapes = Mapping[str, Sequence[int]]


def load(path: str | os.PathLike, shapes: Shapes | None = None) -> Graph:
    """Load an ``.onnx`` model (imported safely, symbolic dims specialised from ``shapes``) or an
    ``.mlc`` textual IR file (its sidecar ``.npz`` holds the large constants)."""
    path = os.fspath(path)
    if path.endswith(".mlc"):
        from mlc.text import load_text

        graph = load_text(path)
        if shapes:
            from mlc.frontend.specialize import check_shapes_match

            check_shapes_match(graph, shapes)
        return graph
    from mlc.frontend import load_onnx

    return load_onnx(path, shapes=shapes)


def save(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` as textual IR (``.mlc`` plus sidecar ``.npz``) or as ONNX (``.onnx``)."""
    path = os.fspath(path)
    if path.endswith(".onnx"):
        from mlc.frontend import export_onnx

        export_onnx(graph, path)
    else:
        from mlc.text import save_text

        save_text(graph, path)


def compile(graph: Graph, target: str = "llvm", output: str | os.PathLike | None = None, *,
            level: str = "-O2", emit: Sequence[str] = (), schedule: Sequence[str] = (),
            weights: str = "auto", werror: bool = False, arch: str = "sm_90",
            tune: int = 0) -> str:
    """Compile ``graph`` for ``target`` into an artifact directory and return its path; run it
    with ``mlc.runtime.load(path).run(feeds)``. ``output`` defaults to a new temporary folder.
    ``emit`` adds intermediate forms (``llvm-ir``, ``asm``, ``loop-ir``) to the artifact;
    ``schedule`` overrides schedule fields (``gemm.mr=4``). For the C targets, ``weights`` picks
    weights.c or an .incbin blob (``auto``: by size) and ``werror`` makes warnings errors. For
    ``cuda``, ``arch`` is the GPU architecture (``sm_90``); for the TVM targets ``tune`` runs
    that many MetaSchedule trials instead of the default schedules."""
    import tempfile

    if output is None:
        output = os.path.join(tempfile.mkdtemp(prefix=f"mlc-{target}-"), "artifact")
    if target == "llvm":
        from mlc.backends.llvm.build import CompileOptions, compile_graph

        options = CompileOptions(level=level, emit=tuple(emit), schedule_overrides=tuple(schedule))
        compile_graph(graph, output, options)
        return os.fspath(output)
    if target == "c" or target.startswith("c-"):
        from mlc.backends.c.build import CCompileOptions, compile_cortex_m, compile_host

        c_options = CCompileOptions(level=level, emit=tuple(emit),
                                    schedule_overrides=tuple(schedule), weights=weights,
                                    werror=werror)
        if target == "c":
            compile_host(graph, output, c_options)
        else:
            compile_cortex_m(graph, output, target[2:], c_options)
        return os.fspath(output)
    if target in ("tvm-llvm", "cuda"):
        from mlc.backends.tvm.build import TvmCompileOptions, compile_tvm

        compile_tvm(graph, output, target, TvmCompileOptions(level=level, arch=arch,
                                                             tune_trials=tune, emit=tuple(emit)))
        return os.fspath(output)
    raise MlcError(f"mlc compile does not know target {target!r}",
                   hint="compile targets: llvm, c, c-cortex-m0plus, c-cortex-m4, c-cortex-m7, "
                        "c-cortex-m33, tvm-llvm, cuda")
