"""mlc.runtime: run a model on any target, time it, and compare it with onnxruntime.

- ``targets``: the registry of targets (``ref``, ``ort``, later ``llvm``, ``c``, ``c-cortex-m4``,
  ``tvm-llvm``, ``cuda``). ``get_target(name).prepare(model, threads)`` returns a runner with
  ``run(feeds) -> list[np.ndarray]`` and ``compile_s``.
- ``model``: ``Model(path, shapes)``, the model file loaded lazily into the forms targets need.
- ``bench``: warm-up + timed runs, median and p90.
- ``compare``: every target against onnxruntime on the same feeds.

Design note for compiled artifacts (not written yet, deliberately not stubbed): ``mlc compile``
will write an artifact directory (``manifest.json`` + files), and ``mlc.runtime.load(dir)`` will
read the manifest and return an ``Executable`` with ``run(feeds)`` and
``benchmark(feeds, warmup, repeat, threads)``. Compiled targets then implement ``prepare`` as
"compile into a temporary artifact dir, then ``load`` it", so ``compare`` measures exactly what a
user deploys and ``compile_s`` is the compile step alone; the Executable's runner is the same
``Runner`` interface the in-process targets use here.
"""

from __future__ import annotations

from .compare import CompareReport, TargetResult, agreement, compare  # noqa: F401
from .model import Model  # noqa: F401
from .targets import (Runner, Target, TargetError, get_target, register_target,  # noqa: F401
                      target_names)
