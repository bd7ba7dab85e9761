"""The target registry: every way mlc can run a model, behind one two-step interface.

A target turns a model into a runner once (``prepare``: compile, load a library, build a session —
timed as ``compile_s``) and the runner then maps feeds to outputs as often as asked (``run``). The
split lets ``compare`` time compilation and execution separately and run every target on the same
feeds. Adding a backend (llvm, c, c-cortex-m4, tvm-llvm, cuda) is one ``Target`` subclass with
``@register_target``; the CLI lists and validates targets from here.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from typing import Callable, ClassVar, Mapping

import numpy as np

from mlc.errors import MlcError, first_line

from .bench import Timing, time_runs
from .model import Model

Feeds = Mapping[str, np.ndarray]


class TargetError(MlcError):
    """A target is unknown, unavailable on this machine, or failed to prepare or run a model."""


class Runner(ABC):
    """A model prepared for one target. ``compile_s`` is the wall time ``prepare`` took;
    ``timing_kind`` says whose clock ``time`` reads: ``host`` (this machine running the model)
    or, for a model running in an emulator, what its times really measure."""

    compile_s: float = 0.0
    timing_kind: str = "host"

    @abstractmethod
    def run(self, feeds: Feeds) -> list[np.ndarray]:
        """Outputs in the model's output order, for feeds keyed by the model's input names."""

    def time(self, feeds: Feeds, warmup: int = 3, repeat: int = 20,
             on_run: Callable[[int], None] | None = None) -> Timing:
        """Latency of ``run``: ``warmup`` untimed calls, then ``repeat`` timed ones."""
        return time_runs(lambda: self.run(feeds), warmup=warmup, repeat=repeat, on_run=on_run)


class Target(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""

    def prepare(self, model: Model, threads: int) -> Runner:
        """Build a runner using ``threads`` threads and record how long that took."""
        start = time.perf_counter()
        runner = self._prepare(model, threads)
        runner.compile_s = time.perf_counter() - start
        return runner

    @abstractmethod
    def _prepare(self, model: Model, threads: int) -> Runner: ...


_TARGETS: dict[str, type[Target]] = {}


def register_target(cls: type[Target]) -> type[Target]:
    if cls.name in _TARGETS:
        raise ValueError(f"target {cls.name} registered twice")
    _TARGETS[cls.name] = cls
    return cls


def target_names() -> list[str]:
    return list(_TARGETS)


def get_target(name: str) -> Target:
    try:
        return _TARGETS[name]()
    except KeyError:
        raise TargetError(f"unknown target {name!r}",
                          hint=f"available targets: {', '.join(_TARGETS)}") from None


def parse_target_list(text: str) -> list[str]:
    """``"ref,ort"`` -> ``["ref", "ort"]``, checking every name and refusing duplicates."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise TargetError("no targets given", hint="e.g. --targets ref,ort")
    for name in names:
        get_target(name)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TargetError(f"target {', '.join(duplicates)} listed twice")
    return names


# -- ref: the numpy reference interpreter ---------------------------------------------------------

def _thread_limit(threads: int) -> Callable[[], contextlib.AbstractContextManager]:
    """A context factory that caps numpy's BLAS threads, so ``--threads`` means the same for ref
    as for the other targets. Without threadpoolctl (a scikit-learn dependency) BLAS runs as
    configured by its environment variables."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext
    return lambda: threadpool_limits(limits=threads)


class _RefRunner(Runner):
    def __init__(self, graph, threads: int):
        self.graph = graph
        self.limit = _thread_limit(threads)

    def run(self, feeds: Feeds) -> list[np.ndarray]:
        from mlc import interp

        with self.limit():
            return interp.run(self.graph, feeds, as_list=True)


@register_target
class RefTarget(Target):
    name = "ref"
    description = "the numpy reference interpreter over the op registry's kernels"

    def _prepare(self, model: Model, threads: int) -> Runner:
        return _RefRunner(model.graph, threads)


# -- ort: onnxruntime, the yardstick --------------------------------------------------------------

class _OrtRunner(Runner):
    def __init__(self, session):
        self.session = session
        self.input_names = [i.name for i in session.get_inputs()]

    def run(self, feeds: Feeds) -> list[np.ndarray]:
        if all(name in feeds for name in self.input_names):
            named = {name: feeds[name] for name in self.input_names}
        else:  # the importer renamed inputs (e.g. sanitised them); both keep the model's order
            named = dict(zip(self.input_names, feeds.values()))
        try:
            return [np.asarray(o) for o in self.session.run(None, named)]
        except Exception as exc:
            raise TargetError(f"onnxruntime failed to run the model: {first_line(exc)}") from None


def ort_session(source: str | bytes, threads: int):
    """An onnxruntime CPU session with ``threads`` intra-op threads and sequential execution, the
    setting every comparison uses so latencies are measured at the same parallelism."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only; warnings would clutter stderr
    try:
        return ort.InferenceSession(source, sess_options=options,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise TargetError(f"onnxruntime could not load the model: {first_line(exc)}") from None


@register_target
class OrtTarget(Target):
    name = "ort"
    description = "onnxruntime on the CPU (the yardstick every other target is compared with)"

    def _prepare(self, model: Model, threads: int) -> Runner:
        return _OrtRunner(ort_session(model.onnx_model, threads))


# -- compiled targets: mlc compile, then load the artifact ------------------------------------------

class CompiledTarget(Target):
    """A target whose runner is an artifact ``mlc.compile`` wrote for it (``name``), loaded as a
    user would load it, so ``compare`` measures exactly what is deployed."""

    def _prepare(self, model: Model, threads: int) -> Runner:
        from mlc.runtime.loader import load

        return load(compiled_artifact(model, self.name), threads=threads)


@register_target
class LlvmTarget(CompiledTarget):
    name = "llvm"
    description = "this x86-64 CPU through mlc's loop IR and LLVM (llvmlite): a shared library"


@register_target
class CTarget(CompiledTarget):
    name = "c"
    description = "this CPU through mlc's loop IR rendered as C99 and the system compiler"


@register_target
class TvmLlvmTarget(CompiledTarget):
    name = "tvm-llvm"
    description = "this CPU through mlc's fused graph lowered to TVM (Relax + TE) and TVM's LLVM"


@register_target
class CudaTarget(CompiledTarget):
    name = "cuda"
    description = "an NVIDIA GPU through mlc's fused graph lowered to TVM, kernels built by nvcc"


class CortexMTarget(CompiledTarget):
    """A Cortex-M core: the C backend's firmware image, run under QEMU (one thread)."""

    cpu: ClassVar[str]


def _register_cortex_m_targets() -> None:
    from .mcu import CORES

    for cpu, core in CORES.items():
        board = f"QEMU {core.qemu_machine}" if core.qemu_machine else "build only"
        register_target(type(f"CortexM_{cpu.replace('-', '_')}", (CortexMTarget,), {
            "name": f"c-{cpu}", "cpu": cpu,
            "description": f"{cpu} through the C backend and arm-none-eabi-gcc, run on {board} "
                           f"(emulated: times are not the chip's)"}))


_register_cortex_m_targets()

_ARTIFACTS: dict[tuple, str] = {}


def compiled_artifact(model: Model, target: str) -> str:
    """An artifact directory of ``model`` compiled for ``target``, in a temporary folder that
    lives as long as the process. The same model file (same path, size and modification time,
    same shapes) is compiled once per process, so comparing at several thread counts does not
    recompile; a model made in memory is compiled every time."""
    import atexit
    import os
    import shutil
    import tempfile

    key = None
    if os.path.isfile(model.path):
        stat = os.stat(model.path)
        key = (target, os.path.abspath(model.path), stat.st_size, stat.st_mtime_ns,
               tuple(sorted((k, tuple(v)) for k, v in model.shapes.items())))
        if key in _ARTIFACTS and os.path.isdir(_ARTIFACTS[key]):
            return _ARTIFACTS[key]
    folder = tempfile.mkdtemp(prefix=f"mlc-{target}-")
    atexit.register(shutil.rmtree, folder, True)
    out = os.path.join(folder, "artifact")
    import mlc

    mlc.compile(model.graph, target=target, output=out)
    if key is not None:
        _ARTIFACTS[key] = out
    return out
