"""mlc.runtime: run a model on any target, time it, and compare it with onnxruntime.

- ``targets``: the registry of targets (``ref``, ``ort``, later ``llvm``, ``c``, ``c-cortex-m4``,
  ``tvm-llvm``, ``cuda``). ``get_target(name).prepare(model, threads)`` returns a runner with
  ``run(feeds) -> list[np.ndarray]`` and ``compile_s``.
- ``model``: ``Model(path, shapes)``, the model file loaded lazily into the forms targets need.
- ``bench``: warm-up + timed runs, median and p90.
- ``compare``: every target against onnxruntime on the same feeds.
- ``artifact``: the artifact directory (``manifest.json`` + files) that ``mlc compile`` writes:
  ``Manifest``, ``ArtifactWriter`` (atomic), ``read_manifest`` (validating).
- ``loader``: ``load(dir)`` -> an ``Executable`` (a ``Runner``) with ``run(feeds)`` and
  ``benchmark(feeds, warmup, repeat, threads)``; llvm and c artifacts go through the C ABI of
  ``runtime/c/mlc_runtime.h``. A compiled target's ``prepare`` is "compile into an artifact dir,
  then ``load`` it", so ``compare`` measures exactly what a user deploys.
- ``c``: the C runtime (thread pool, timer) and ``build_shared_library``.
"""

from __future__ import annotations

from .artifact import (ArtifactError, ArtifactWriter, Manifest, TensorSpec,  # noqa: F401
                       read_manifest)
from .compare import CompareReport, TargetResult, agreement, compare  # noqa: F401
from .loader import Executable, ExecutionError, FeedError, load  # noqa: F401
from .model import Model  # noqa: F401
from .targets import (Runner, Target, TargetError, get_target, register_target,  # noqa: F401
                      target_names)
