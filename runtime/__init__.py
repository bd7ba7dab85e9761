"""mlc.runtime: load, run, time and compare a model on any target.

- ``targets``: the registry of targets, one ``Target`` record each (``ref``, ``ort``, ``llvm``,
  ``c``, ``c-cortex-m*``, ``tvm-llvm``, ``cuda``): ``get_target(name).prepare(model, threads)``
  returns a runner with ``run(feeds) -> list[np.ndarray]`` and ``compile_s``; a compiled target
  also has ``compile_graph`` and ``load``. The built-in targets register in ``reference`` (ref,
  ort), ``shared_library`` (llvm, c), ``qemu_executable`` (c-cortex-m*) and ``tvm_executable``
  (tvm-llvm, cuda), each with the Executable that loads its artifacts.
- ``model``: ``Model(path, shapes)``, the model file loaded lazily into the forms targets need.
- ``executable``: ``load(dir)`` -> an ``Executable`` (a ``Runner``) with ``run(feeds)`` and
  ``benchmark(feeds, warmup, repeat, threads)``, by the manifest's target.
- ``harness``: runs a model's harness image under QEMU (or on the host) and reads its results.
- ``bench``: warm-up + timed runs, median and p90.
- ``compare``: every target against onnxruntime on the same feeds.
- ``c``: the C runtime's sources (thread pool, timer, Cortex-M start-up and harness), linked into
  every llvm and c library and Cortex-M image.

The artifact format itself (``Manifest``, ``read_manifest``) is ``mlc.backends.toolchain.artifact``:
the compiler writes it, the runtime reads it.
"""

from __future__ import annotations

from mlc.backends.toolchain.artifact import (ArtifactError, Manifest, TensorSpec,  # noqa: F401
                                             read_manifest)

from .compare import CompareReport, TargetResult, agreement, compare  # noqa: F401
from .executable import Executable, ExecutionError, FeedError, load  # noqa: F401
from .model import Model  # noqa: F401
from .targets import (Runner, Target, TargetError, get_target, register_target,  # noqa: F401
                      target_names)
