"""``mlc.runtime.load(dir)``: turn an artifact directory into an Executable.

The Executable is a ``Runner`` (the interface every target's runner has), so a compiled target's
``prepare`` is just "compile into an artifact dir, then ``load`` it" and ``compare`` measures
exactly what a user deploys. The llvm and c targets share one loader because they share one C ABI
(``runtime/c/mlc_runtime.h``): the library is opened with ctypes, its ABI symbols checked, and
``mlc_run`` called with contiguous buffers in manifest order and a 64-byte-aligned arena.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from mlc.errors import MlcError

from .artifact import ArtifactError, Manifest, TensorSpec, read_manifest
from .bench import Timing, time_runs
from .targets import Runner

ARENA_ALIGN = 64
ABI_VERSION = 1
ABI_SYMBOLS = ("mlc_abi_version", "mlc_arena_bytes", "mlc_num_threads", "mlc_run")


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
                raise FeedError(f"input {spec.name!r} ({_describe(spec)}) is missing from feeds")
            array = np.asarray(feeds[spec.name])
            if array.dtype != spec.numpy_dtype:
                raise FeedError(f"input {spec.name!r} has dtype {array.dtype}, expected "
                                f"{spec.numpy_dtype}", hint=f"pass arr.astype(np.{spec.dtype})")
            if array.shape != spec.shape:
                raise FeedError(f"input {spec.name!r} has shape {list(array.shape)}, expected "
                                f"{list(spec.shape)}")
            arrays.append(np.require(array, requirements="C"))  # keeps 0-d arrays 0-d
        return arrays


class SharedLibraryExecutable(Executable):
    """An llvm or c artifact: ``library`` is a shared object exporting the mlc C ABI."""

    def __init__(self, path: Path, manifest: Manifest, threads: int | None = None):
        super().__init__(path, manifest)
        if manifest.library is None:
            raise ArtifactError(f"{path}: the manifest of a {manifest.target} artifact names no "
                                f"library", hint="recompile it with `mlc compile`")
        if manifest.abi_version not in (None, ABI_VERSION):
            raise ArtifactError(f"{path}: built for C ABI version {manifest.abi_version}, this mlc "
                                f"loads version {ABI_VERSION}", hint="recompile it")
        self.library_path = path / manifest.library
        self._lib = _open_library(self.library_path)
        version = self._lib.mlc_abi_version()
        if version != ABI_VERSION:
            raise ArtifactError(f"{self.library_path} has C ABI version {version}, this mlc loads "
                                f"version {ABI_VERSION}", hint="recompile it")
        arena_bytes = int(self._lib.mlc_arena_bytes())
        if arena_bytes != manifest.arena_bytes:
            raise ArtifactError(f"{self.library_path} asks for a {arena_bytes}-byte arena but the "
                                f"manifest says {manifest.arena_bytes}: the files do not belong "
                                f"together", hint="recompile the artifact")
        self._arena = aligned_empty(arena_bytes, np.uint8)
        self._lock = threading.Lock()
        self._threads: int | None = None
        if threads is not None:
            self.set_threads(threads)

    @property
    def threads(self) -> int:
        """Threads in use: the requested count, else the library's default."""
        return self._threads if self._threads is not None else int(self._lib.mlc_num_threads(0))

    def set_threads(self, threads: int) -> int:
        if not isinstance(threads, int) or threads < 1:
            raise FeedError(f"threads must be a positive integer, got {threads!r}")
        self._threads = int(self._lib.mlc_num_threads(threads))
        return self._threads

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        inputs = self._check_feeds(feeds)
        outputs = [aligned_empty(t.shape, t.numpy_dtype) for t in self.manifest.outputs]
        self._call(inputs, outputs)
        return outputs

    def _timed_call(self, feeds: Mapping[str, np.ndarray]) -> Callable[[], object]:
        """Validate and allocate once, so the timings are the model, not the bookkeeping."""
        inputs = self._check_feeds(feeds)
        outputs = [aligned_empty(t.shape, t.numpy_dtype) for t in self.manifest.outputs]
        return lambda: self._call(inputs, outputs)

    def _call(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
        in_ptrs = (ctypes.c_void_p * max(len(inputs), 1))(*[a.ctypes.data for a in inputs])
        out_ptrs = (ctypes.c_void_p * max(len(outputs), 1))(*[a.ctypes.data for a in outputs])
        with self._lock:
            if self._threads is not None:  # the pool is per library; another Executable of the
                self._lib.mlc_num_threads(self._threads)  # same file may have resized it
            code = self._lib.mlc_run(in_ptrs, out_ptrs, self._arena.ctypes.data)
        if code != 0:
            reason = self._lib.mlc_status_string(code)
            reason = reason.decode(errors="replace") if reason else "unknown error"
            raise ExecutionError(f"{self.manifest.model} ({self.library_path.name}) failed with "
                                 f"code {code}: {reason}")


def aligned_empty(shape, dtype, align: int = ARENA_ALIGN) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary
    (numpy only promises element alignment). Never zero-sized, so the pointer is always valid."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = max(count * dtype.itemsize, 1)
    raw = np.empty(nbytes + align, dtype=np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)


def _open_library(path: Path) -> ctypes.CDLL:
    """dlopen ``path`` and declare the ABI's signatures; one line if it is not an mlc library."""
    try:
        lib = ctypes.CDLL(os.fspath(path))
    except OSError as exc:
        raise ArtifactError(f"cannot load {path}: {str(exc).splitlines()[0]}",
                            hint="recompile the artifact on this machine") from None
    missing = [name for name in ABI_SYMBOLS if not hasattr(lib, name)]
    if missing:
        raise ArtifactError(f"{path} is not an mlc model library: it lacks "
                            f"{', '.join(missing)}",
                            hint="build it with `mlc compile` (and link runtime/c)")
    lib.mlc_abi_version.restype = ctypes.c_int
    lib.mlc_abi_version.argtypes = []
    lib.mlc_arena_bytes.restype = ctypes.c_size_t
    lib.mlc_arena_bytes.argtypes = []
    lib.mlc_num_threads.restype = ctypes.c_int
    lib.mlc_num_threads.argtypes = [ctypes.c_int]
    lib.mlc_run.restype = ctypes.c_int
    lib.mlc_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    if hasattr(lib, "mlc_status_string"):
        lib.mlc_status_string.restype = ctypes.c_char_p
        lib.mlc_status_string.argtypes = [ctypes.c_int]
    else:  # pragma: no cover - every runtime/c build has it
        lib.mlc_status_string = lambda code: None
    return lib


def _describe(spec: TensorSpec) -> str:
    return f"{spec.dtype}{list(spec.shape)}"


Loader = Callable[[Path, Manifest, "int | None"], Executable]
_LOADERS: dict[str, Loader] = {"llvm": SharedLibraryExecutable, "c": SharedLibraryExecutable}


def _qemu_executable(path: Path, manifest: Manifest, threads: int | None) -> Executable:
    from .qemu_executable import QemuExecutable

    return QemuExecutable(path, manifest, threads)


def _register_cortex_m_loaders() -> None:
    from .mcu import CORES

    for cpu in CORES:
        _LOADERS[f"c-{cpu}"] = _qemu_executable


_register_cortex_m_loaders()


def _tvm_executable(path: Path, manifest: Manifest, threads: int | None) -> Executable:
    from .tvm_executable import TvmExecutable

    return TvmExecutable(path, manifest, threads)


_LOADERS["tvm-llvm"] = _LOADERS["cuda"] = _tvm_executable


def register_loader(target: str, loader: Loader) -> None:
    """Teach ``load`` a new artifact kind (e.g. TVM's), keyed by the manifest's target."""
    _LOADERS[target] = loader


def load(path: str | os.PathLike, threads: int | None = None) -> Executable:
    """Load the artifact at ``path`` (a directory written by ``mlc compile``); ``threads`` sets
    the thread count (default: the library's, $MLC_NUM_THREADS or the CPU count)."""
    directory = Path(path)
    manifest = read_manifest(directory)
    loader = _LOADERS.get(manifest.target)
    if loader is None:
        raise ArtifactError(f"{directory}: no loader for {manifest.target!r} artifacts",
                            hint=f"loadable targets: {', '.join(sorted(_LOADERS))}")
    return loader(directory, manifest, threads)
