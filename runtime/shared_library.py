"""The llvm and c targets: artifacts whose ``model.so`` exports the mlc C ABI.

The two targets share one loader because they share one ABI (``runtime/c/mlc_runtime.h``, restated
in ``backends/toolchain/abi.py``): the library is opened with ctypes, its ABI symbols checked,
the manifest's inputs and outputs compared with the library's own description of them
(``mlc_io_desc``), and ``mlc_run`` called with contiguous buffers in manifest order and a
64-byte-aligned arena. The manifest is only trusted where the library agrees with it: a buffer
sized from an edited manifest would let ``mlc_run`` write past it.
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
from mlc.backends.toolchain.abi import (ABI_VERSION, DTYPE_NAMES, ENTRY_POINTS, IO_KINDS, MAX_RANK,
                                        aligned_empty)
from mlc.backends.toolchain.artifact import MANIFEST as MANIFEST_NAME
from mlc.backends.toolchain.artifact import ArtifactError, Manifest, TensorSpec
from mlc.ir.dtypes import DType
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
        _check_io(self._lib, path, manifest)
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


class _TensorDesc(ctypes.Structure):
    """``struct mlc_tensor_desc`` of mlc_runtime.h (ctypes lays it out as the C compiler does)."""

    _fields_ = [("dtype", ctypes.c_int32), ("rank", ctypes.c_int32), ("nbytes", ctypes.c_uint64),
                ("dims", ctypes.POINTER(ctypes.c_int64))]


def _check_io(lib: ctypes.CDLL, directory: Path, manifest: Manifest) -> None:
    """The manifest's inputs and outputs (count, dtype, shape, bytes) are the ones the library
    was compiled for; anything else is one line saying the artifact was modified."""
    library = manifest.library
    for kind, specs in (("input", manifest.inputs), ("output", manifest.outputs)):
        count = int(lib.mlc_io_count(IO_KINDS[kind]))
        if count != len(specs):
            _modified(directory, f"{MANIFEST_NAME} says {len(specs)} {kind}s but {library} "
                                 f"declares {count}")
        for i, spec in enumerate(specs):
            dtype, shape, nbytes = _declared(lib, directory, library, kind, i)
            if (dtype, shape) != (spec.dtype, spec.shape):
                _modified(directory, f"{MANIFEST_NAME} says {kind} {i} is {_typed(spec)} but "
                                     f"{library} declares "
                                     f"{_typed(TensorSpec(spec.name, shape, dtype))}")
            if nbytes != spec.nbytes:
                _modified(directory, f"{library} declares {kind} {i} ({_typed(spec)}) as "
                                     f"{nbytes} bytes, not {spec.nbytes}")


def _declared(lib: ctypes.CDLL, directory: Path, library: str | None, kind: str, i: int
              ) -> tuple[str, tuple[int, ...], int]:
    """(dtype name, shape, byte size) of the library's ``kind`` ``i``, refusing a corrupt
    descriptor (NULL, unknown dtype, absurd rank) before following its pointer."""
    pointer = lib.mlc_io_desc(IO_KINDS[kind], i)
    desc = pointer.contents if pointer else None
    if (desc is None or desc.dtype not in DTYPE_NAMES or not 0 <= desc.rank <= MAX_RANK
            or (desc.rank and not desc.dims)):
        _modified(directory, f"{library} has no valid description of {kind} {i}")
    shape = tuple(int(desc.dims[k]) for k in range(desc.rank))
    return DTYPE_NAMES[desc.dtype], shape, int(desc.nbytes)


def _typed(spec: TensorSpec) -> str:
    return f"{DType[spec.dtype].short}[{','.join(str(d) for d in spec.shape)}]"


def _modified(directory: Path, problem: str) -> None:
    raise ArtifactError(f"artifact {directory}: {problem}; the artifact was modified",
                        hint="recompile it with `mlc compile`")


def _open_library(path: Path) -> ctypes.CDLL:
    """dlopen ``path`` and declare the ABI's signatures; one line if it is not an mlc library
    of this ABI version (checked first: an older library also lacks the newer entry points)."""
    try:
        lib = ctypes.CDLL(os.fspath(path))
    except OSError as exc:
        raise ArtifactError(f"cannot load {path}: {str(exc).splitlines()[0]}",
                            hint="recompile the artifact on this machine") from None
    if hasattr(lib, "mlc_abi_version"):
        lib.mlc_abi_version.restype = ctypes.c_int
        lib.mlc_abi_version.argtypes = []
        version = lib.mlc_abi_version()
        if version != ABI_VERSION:
            raise ArtifactError(f"{path} has C ABI version {version}, this mlc loads version "
                                f"{ABI_VERSION}", hint="recompile it")
    missing = [name for name in ENTRY_POINTS if not hasattr(lib, name)]
    if missing:
        raise ArtifactError(f"{path} is not an mlc model library: it lacks "
                            f"{', '.join(missing)}",
                            hint="build it with `mlc compile` (and link runtime/c)")
    lib.mlc_io_count.restype = ctypes.c_int
    lib.mlc_io_count.argtypes = [ctypes.c_int]
    lib.mlc_io_desc.restype = ctypes.POINTER(_TensorDesc)
    lib.mlc_io_desc.argtypes = [ctypes.c_int, ctypes.c_int]
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
