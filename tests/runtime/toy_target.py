"""A whole target in one module: ``toy`` compiles a model to its optimised textual IR and runs
it with the reference interpreter. Loaded with ``mlc --plugin tests/runtime/toy_target.py`` (or
imported), it appears in ``mlc compile -t``, ``mlc targets``, ``mlc compare`` and docs/ops.md,
which is the point: adding a target touches nothing but its own module."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlc import interp
from mlc.backends.options import CompileOptions
from mlc.backends.program import optimise
from mlc.backends.toolchain.artifact import ArtifactWriter, Manifest
from mlc.ir import Graph
from mlc.runtime.executable import Executable
from mlc.runtime.targets import OpColumn, Target, register_target
from mlc.text import load_text, save_text

MODEL_FILE = "model.mlc"


def compile_toy(graph: Graph, out_dir: Path, options: CompileOptions) -> Manifest:
    optimised, passes = optimise(graph, options.level)
    with ArtifactWriter(out_dir) as writer:
        save_text(optimised, writer.path / MODEL_FILE)
        return writer.commit(Manifest.for_graph(optimised, "toy", passes=tuple(passes),
                                                options={"level": options.level}))


class ToyExecutable(Executable):
    def __init__(self, path: Path, manifest: Manifest, threads: int | None = None):
        super().__init__(path, manifest)
        self.graph = load_text(path / MODEL_FILE)

    def run(self, feeds) -> list[np.ndarray]:
        arrays = self._check_feeds(feeds)
        return interp.run(self.graph, dict(zip(self.input_names, arrays)), as_list=True)

    def set_threads(self, threads: int) -> int:
        return 1


TOY = register_target(Target(
    "toy", "a toy: the optimised textual IR, run by the reference interpreter",
    compile=compile_toy, load=ToyExecutable,
    op_column=OpColumn("toy", lambda op: True, "the toy target interprets every op")))
