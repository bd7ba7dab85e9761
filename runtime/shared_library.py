"""The llvm and c targets: artifacts whose ``model.so`` exports the mlc C ABI.

The two targets share one loader because they share one ABI (``runtime/c/mlc_runtime.h``, restated
in ``backends/toolchain/abi.py``): the library is opened with ctypes, its ABI symbols checked,
and ``mlc_run`` called with contiguous buffers in manifest order and a 64-byte-aligned arena.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from mlc.backends.c.driver import COptions, compile_host
from mlc.backends.llvm.driver import LlvmOptions, compile_graph
from mlc.backends.loop.ops import has_lowering
from mlc.backends.program import host_schedules
from mlc.backends.toolchain.abi import ABI_VERSION, ENTRY_POINTS, aligned_empty
from mlc.backends.toolchain.artifact import ArtifactError, Manifest
from mlc.backends.toolchain.cc import C_COMPILER

from .executable import Executable, ExecutionError, FeedError
from .targets import OpColumn, Target


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


def _open_library(path: Path) -> ctypes.CDLL:
    """dlopen ``path`` and declare the ABI's signatures; one line if it is not an mlc library."""
    try:
        lib = ctypes.CDLL(os.fspath(path))
    except OSError as exc:
        raise ArtifactError(f"cannot load {path}: {str(exc).splitlines()[0]}",
                            hint="recompile the artifact on this machine") from None
    missing = [name for name in ENTRY_POINTS if not hasattr(lib, name)]
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


def lowers_to_loop_ir(op: str) -> bool:
    """Does the op lower to loop IR (what the llvm, c and Cortex-M targets compile)? A ``fused``
    node lowers as its group: one kernel, when each member op lowers."""
    return op == "fused" or has_lowering(op)


LLVM = Target(
    "llvm", "this x86-64 CPU through mlc's loop IR and LLVM (llvmlite): a shared library",
    compile=compile_graph, load=SharedLibraryExecutable, options=LlvmOptions,
    requires=(C_COMPILER,), schedules=host_schedules,
    op_column=OpColumn("llvm", lowers_to_loop_ir, "the op lowers to loop IR "
                       "(`backends/loop/`), rendered through LLVM"), conformance=True)
C = Target(
    "c", "this CPU through mlc's loop IR rendered as C99 and the system compiler",
    compile=compile_host, load=SharedLibraryExecutable, options=COptions,
    requires=(C_COMPILER,), schedules=host_schedules,
    op_column=OpColumn("c", lowers_to_loop_ir, "the op lowers to loop IR, rendered as C99"),
    conformance=True)
BUILT_IN = (LLVM, C)
