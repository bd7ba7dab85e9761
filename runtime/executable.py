"""``mlc.runtime.load(dir)``: turn an artifact directory into an Executable.

The Executable is a ``Runner`` (the interface every target's runner has), so a compiled target's
``prepare`` is just "compile into an artifact dir, then ``load`` it" and ``compare`` measures
exactly what a user deploys. Which class loads an artifact is the business of the target named in
its manifest (``Target.load``): the C ABI's shared libraries (``shared_library``), Cortex-M images
under QEMU (``qemu_executable``), TVM's VM (``tvm_executable``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from mlc.backends.toolchain.artifact import ArtifactError, Manifest, read_manifest
from mlc.errors import MlcError

from .bench import Timing, time_runs
from .targets import TARGETS, Runner


class FeedError(MlcError):
    """The feeds given to ``run`` do not match the artifact's inputs."""


class ExecutionError(MlcError):
    """The compiled model reported an error while running."""


class Executable(Runner):
    """A loaded artifact. ``run(feeds)`` returns outputs in manifest order; ``benchmark`` times
    it. One Executable runs one call at a time (calls from several Python threads queue)."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.manifest.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.manifest.outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def set_threads(self, threads: int) -> int:
        """Use ``threads`` threads from now on; returns the number actually in use."""
        raise NotImplementedError

    def benchmark(self, feeds: Mapping[str, np.ndarray], warmup: int = 3, repeat: int = 20,
                  threads: int | None = None) -> dict:
        """Time ``repeat`` runs after ``warmup`` untimed ones, at ``threads`` threads (default:
        the current setting, restored afterwards). Returns median_ms, p90_ms, min_ms, mean_ms,
        times_ms, threads, warmup, repeat."""
        previous = self.threads
        used = self.set_threads(threads) if threads is not None else self.threads
        try:
            timing = self.time(feeds, warmup=warmup, repeat=repeat)
        finally:
            if threads is not None and previous is not None:
                self.set_threads(previous)
        return {"median_ms": timing.median_ms, "p90_ms": timing.p90_ms,
                "min_ms": float(min(timing.times_ms)),
                "mean_ms": float(np.mean(timing.times_ms)), "times_ms": list(timing.times_ms),
                "threads": used, "warmup": warmup, "repeat": repeat, "timing": self.timing_kind}

    def time(self, feeds: Mapping[str, np.ndarray], warmup: int = 3, repeat: int = 20,
             on_run: Callable[[int], None] | None = None) -> Timing:
        return time_runs(self._timed_call(feeds), warmup=warmup, repeat=repeat, on_run=on_run)

    @property
    def threads(self) -> int | None:
        return None

    def timed_call(self, feeds: Mapping[str, np.ndarray]) -> Callable[[], object]:
        """A call that runs the model on ``feeds`` checked and staged once (on the device, for
        a GPU artifact): what a benchmark that interleaves several systems times."""
        return self._timed_call(feeds)

    def _timed_call(self, feeds: Mapping[str, np.ndarray]) -> Callable[[], object]:
        return lambda: self.run(feeds)

    def _check_feeds(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """The feeds as C-contiguous arrays in manifest order, or a FeedError naming the first
        mismatch (missing or unknown name, wrong dtype, wrong shape)."""
        if not isinstance(feeds, Mapping):
            raise FeedError("feeds must be a mapping from input name to array",
                            hint=f"inputs: {', '.join(self.input_names)}")
        unknown = [name for name in feeds if name not in self.input_names]
        if unknown:
            raise FeedError(f"{self.manifest.model} has no input named {unknown[0]!r}",
                            hint=f"inputs: {', '.join(self.input_names)}")
        arrays = []
        for spec in self.manifest.inputs:
            if spec.name not in feeds:
                raise FeedError(f"input {spec.name!r} ({spec.dtype}{list(spec.shape)}) is missing "
                                "from feeds")
            array = np.asarray(feeds[spec.name])
            if array.dtype != spec.numpy_dtype:
                raise FeedError(f"input {spec.name!r} has dtype {array.dtype}, expected "
                                f"{spec.numpy_dtype}", hint=f"pass arr.astype(np.{spec.dtype})")
            if array.shape != spec.shape:
                raise FeedError(f"input {spec.name!r} has shape {list(array.shape)}, expected "
                                f"{list(spec.shape)}")
            arrays.append(np.require(array, requirements="C"))  # keeps 0-d arrays 0-d
        return arrays


def load(path: str | os.PathLike, threads: int | None = None) -> Executable:
    """Load the artifact at ``path`` (a directory written by ``mlc compile``); ``threads`` sets
    the thread count (default: the library's, $MLC_NUM_THREADS or the CPU count)."""
    directory = Path(path)
    manifest = read_manifest(directory)
    target = TARGETS.get(manifest.target)
    if target is None or target.load is None:
        loadable = [name for name, t in TARGETS.items() if t.load is not None]
        raise ArtifactError(f"{directory}: no loader for {manifest.target!r} artifacts",
                            hint=f"loadable targets: {', '.join(sorted(loadable))}")
    return target.load(directory, manifest, threads)
