"""The target registry: every way mlc can run a model, one ``Target`` record each.

A target turns a model into a runner once (``prepare``: compile, load a library, build a session —
timed as ``compile_s``) and the runner then maps feeds to outputs as often as asked (``run``). The
split lets ``compare`` time compilation and execution separately and run every target on the same
feeds. An in-process target (``ref``, ``ort``) gives a ``runner`` factory; a compiled target gives
``compile`` (graph → artifact directory, taking its ``options`` class) and ``load`` (artifact →
Executable), and ``prepare`` is "compile into a folder, then load it", so ``compare`` measures
exactly what a user deploys.

Everything that names targets reads this one registry: ``mlc compile -t``, ``run``, ``bench``,
``compare``, ``targets``, ``mlc.compile``, ``mlc.runtime.load`` and docs/ops.md. Adding a target
is one module that calls ``register_target`` (a user's through ``mlc --plugin``); the built-in
ones list theirs as ``BUILT_IN`` in ``reference``, ``shared_library``, ``qemu_executable`` and
``tvm_executable``.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np

from mlc.backends.options import CompileOptions
from mlc.backends.toolchain.artifact import Manifest
from mlc.backends.toolchain.tools import Tool
from mlc.errors import MlcError
from mlc.ir import Graph
from mlc.registry import Registry

from .bench import Timing, time_runs
from .model import Model

if TYPE_CHECKING:
    from mlc.backends.loop.schedule import Schedules

    from .executable import Executable

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


Compile = Callable[[Graph, Path, CompileOptions], Manifest]
Load = Callable[[Path, Manifest, "int | None"], "Executable"]


@dataclass(frozen=True, eq=False)
class OpColumn:
    """A column of docs/ops.md's core-op table: which core ops a family of targets implements
    (``supports``) and what a mark there means. Targets that share one lowering (c and the
    Cortex-M cores) share one column object; the table shows each column once."""

    title: str
    supports: Callable[[str], bool]
    meaning: str


@dataclass(frozen=True)
class Target:
    """One target: what the CLI lists, how it prepares a model, and for a compiled target how it
    compiles, what options it takes, what it needs installed and how its artifacts load."""

    name: str
    description: str
    runner: Callable[[Model, int], Runner] | None = None  # in-process targets (ref, ort)
    compile: Compile | None = None
    load: Load | None = None
    options: type[CompileOptions] = CompileOptions
    requires: tuple[Tool, ...] = ()  # tools to compile (and, for an emulator, to run)
    schedules: Callable[[CompileOptions], Schedules] | None = None  # loop-IR targets only
    op_column: OpColumn | None = None  # docs/ops.md
    conformance: bool = False  # checked against ONNX's node test cases (tests/conformance)

    @property
    def compiles(self) -> bool:
        return self.compile is not None

    def make_options(self, **given) -> CompileOptions:
        """This target's options from keywords (``level``, ``emit``, ``arch``, ...)."""
        return self.options.from_keywords(self.name, **given)

    def compile_graph(self, graph: Graph, output: str | os.PathLike, **options) -> Manifest:
        """Compile ``graph`` (not modified) into the artifact directory ``output``."""
        if self.compile is None:
            raise TargetError(f"{self.name} runs models in-process and compiles nothing",
                              hint=f"compile targets: {', '.join(compile_target_names())}")
        return self.compile(graph, Path(output), self.make_options(**options))

    def prepare(self, model: Model, threads: int) -> Runner:
        """Build a runner using ``threads`` threads and record how long that took."""
        start = time.perf_counter()
        if self.runner is not None:
            runner = self.runner(model, threads)
        else:
            from .executable import load

            runner = load(compiled_artifact(model, self.name), threads=threads)
        runner.compile_s = time.perf_counter() - start
        return runner

    def missing_tools(self) -> list[Tool]:
        return [tool for tool in self.requires if tool.find() is None]


BUILTIN_MODULES = ("reference", "shared_library", "qemu_executable", "tvm_executable")


def _load_builtin_targets() -> None:
    """Register each built-in module's ``BUILT_IN`` targets, in the order the CLI lists them
    (whichever module was imported first)."""
    import importlib

    for module in BUILTIN_MODULES:
        for target in importlib.import_module(f"{__package__}.{module}").BUILT_IN:
            TARGETS.add(target.name, target)


TARGETS: Registry[Target] = Registry("target", load=_load_builtin_targets)


def register_target(target: Target) -> Target:
    """Make ``target`` available by name everywhere targets are named."""
    return TARGETS.add(target.name, target)


def target_names() -> list[str]:
    return TARGETS.names()


def compile_target_names() -> list[str]:
    return [name for name, target in TARGETS.items() if target.compiles]


def get_target(name: str) -> Target:
    target = TARGETS.get(name)
    if target is None:
        raise TargetError(f"unknown target {name!r}",
                          hint=f"available targets: {', '.join(TARGETS)}")
    return target


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


_ARTIFACTS: dict[tuple, str] = {}


def compiled_artifact(model: Model, target: str) -> str:
    """An artifact directory of ``model`` compiled for ``target``, in a temporary folder that
    lives as long as the process. The same model file (same path, size and modification time,
    same shapes) is compiled once per process, so comparing at several thread counts does not
    recompile; a model made in memory is compiled every time."""
    import atexit
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
    get_target(target).compile_graph(model.graph, out)
    if key is not None:
        _ARTIFACTS[key] = out
    return out

