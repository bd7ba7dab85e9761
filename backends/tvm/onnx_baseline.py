"""TVM's own ONNX path, built into an mlc artifact: the yardstick mlc's TVM targets are held to.

``tvm.relax.frontend.onnx.from_onnx`` imports the same model file, and TVM's default pipeline for
the target (``relax.get_default_pipeline``: legalize, TVM's FuseOps/FuseTIR, dlight schedules on
the GPU) builds it; the result is written exactly like ``mlc compile -t cuda`` writes its own
(``model.so``, ahead-of-time ``kernels.fatbin``, a manifest), so one loader and one timing path
serve both and the comparison measures only the compilers' kernels. Used by benchmarks/gpu.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mlc.errors import first_line
from mlc.frontend import load_onnx

from ..toolchain.artifact import ArtifactWriter, Manifest
from . import require_tvm
from .driver import DEFAULT_ARCH, TvmCompileError, tvm_target, write_library


def build_onnx_baseline(model_path: str | os.PathLike, out_dir: str | os.PathLike,
                        target_name: str = "cuda", arch: str = DEFAULT_ARCH) -> Manifest:
    """Compile the ONNX file at ``model_path`` with TVM's frontend and default pipeline into the
    artifact directory ``out_dir`` (inputs and outputs named as mlc imports the model)."""
    require_tvm()
    import onnx
    import tvm.relax.frontend.onnx  # 0.27 wants the frontend imported explicitly
    from tvm import relax

    start = time.perf_counter()
    target = tvm_target(target_name, arch)
    graph = load_onnx(model_path)  # for the manifest's inputs and outputs only
    try:
        proto = onnx.load(os.fspath(model_path))
        module = tvm.relax.frontend.onnx.from_onnx(proto, keep_params_in_input=False)
        executable = relax.build(module, target,
                                 relax_pipeline=relax.get_default_pipeline(target))
    except Exception as exc:  # TVM's frontend refusing a model is a finding, not a crash
        raise TvmCompileError(f"TVM's ONNX path failed on {model_path}: {first_line(exc)}")
    with ArtifactWriter(out_dir) as writer:
        library = write_library(executable, Path(writer.path), target_name, arch)
        library.pop("kernel_names", None)
        manifest = Manifest.for_graph(
            graph, target_name, library="model.so",
            options={"compiler": "tvm-onnx-frontend", "tvm_version": tvm.__version__,
                     "tvm_target": json.loads(str(target)), "schedule": "tvm default pipeline",
                     **library},
            compile_seconds=round(time.perf_counter() - start, 3))
        return writer.commit(manifest)
