"""The TVM targets (``tvm-llvm``, ``cuda``): artifacts run by TVM's Relax VM over model.so.

The artifact's ``model.so`` is TVM's exported library; the VM runs its ``main`` on tensors of the
artifact's device. A CUDA library carries its kernels as source, which TVM would compile with
NVRTC when it loads; the loader instead answers TVM's compile callback with ``kernels.fatbin``,
which nvcc built ahead of time for the card (checked by the source's digest), so loading compiles
nothing. On the GPU, latency is measured with the inputs already on the device and each run
synchronised, which is what PyTorch's and TVM's own benchmarks time.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from mlc.backends.toolchain.abi import STATUS_BAD_INPUT
from mlc.backends.toolchain.artifact import ArtifactError, Manifest
from mlc.backends.tvm import TVM, require_tvm
from mlc.backends.tvm.driver import NVCC, TvmOptions, compile_tvm
from mlc.errors import MlcError, first_line

from .executable import Executable, ExecutionError, FeedError
from .targets import OpColumn, Target

_FATBINS: dict[str, bytes] = {}  # CUDA source digest -> its ahead-of-time binary
_POOL = {"threads": None}  # the size TVM's one process-wide CPU thread pool was last given


class DeviceUnavailable(MlcError):
    """The artifact needs a device (a CUDA GPU) this machine does not have."""


class TvmExecutable(Executable):
    """A tvm-llvm or cuda artifact loaded into TVM's Relax VM."""

    def __init__(self, path: Path, manifest: Manifest, threads: int | None = None):
        super().__init__(path, manifest)
        tvm = require_tvm()
        from tvm import relax

        self._tvm = tvm
        self.is_gpu = manifest.target == "cuda"
        if manifest.library is None or manifest.library not in manifest.files:
            raise ArtifactError(f"{path}: the manifest of a {manifest.target} artifact names no "
                                f"library", hint="recompile it with `mlc compile`")
        if self.is_gpu:
            self.device = tvm.cuda(0)
            if not self.device.exist:
                raise DeviceUnavailable(
                    f"this machine has no CUDA GPU (or no NVIDIA driver) to run the cuda "
                    f"artifact {path}", hint="run it on a machine with an NVIDIA GPU and TVM; "
                                     "`-t tvm-llvm` runs the same lowering on this CPU")
            _offer_fatbin(path, manifest)
        else:
            self.device = tvm.cpu(0)
        try:
            library = tvm.runtime.load_module(str(path / manifest.library))
            self._vm = relax.VirtualMachine(library, self.device)
        except Exception as exc:  # TVM's loader raises its own C++ error types
            raise ArtifactError(f"TVM cannot load {path / manifest.library}: "
                                f"{first_line(exc)}",
                                hint="recompile the artifact with this mlc and TVM") from None
        self._main = self._vm["main"]
        # a GPU's time is wall time too, so compare still gives its ratio to onnxruntime
        self.timing_kind = "host" if not self.is_gpu else "gpu (synchronised)"
        self._threads: int | None = None
        if threads is not None:
            self.set_threads(threads)

    @property
    def threads(self) -> int | None:
        return 1 if self.is_gpu else self._threads

    def set_threads(self, threads: int) -> int:
        """CPU: size TVM's thread pool (process-wide, as TVM has one pool). GPU: always 1."""
        if not isinstance(threads, int) or threads < 1:
            raise FeedError(f"threads must be a positive integer, got {threads!r}")
        if self.is_gpu:
            return 1
        self._threads = threads
        self._size_pool()
        return threads

    def _size_pool(self) -> None:
        """Give TVM's pool this executable's size, if another one (or nothing) set it last:
        resizing costs microseconds, as much as a small model's whole run. (A resize made
        outside mlc.runtime is not seen.)"""
        if self._threads is not None and _POOL["threads"] != self._threads:
            self._tvm.get_global_func("runtime.config_threadpool")(1, self._threads)
            _POOL["threads"] = self._threads

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        arrays = self._device_inputs(self._checked_inputs(feeds))
        return [np.asarray(t.numpy()) for t in self._call(arrays)]

    def _timed_call(self, feeds: Mapping[str, np.ndarray]) -> Callable[[], object]:
        arrays = self._device_inputs(self._checked_inputs(feeds))
        return lambda: self._call(arrays)

    def _checked_inputs(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """The feeds, checked as ``mlc_run`` checks them in the llvm and c targets: an index
        out of range (a Gather's indices fed by an input) fails with status MLC_ERR_INPUT."""
        arrays = self._check_feeds(feeds)
        for check in self.manifest.options.get("index_checks", ()):
            values, dim = arrays[int(check["input"])], int(check["dim"])
            if values.size and (values.min() < -dim or values.max() >= dim):
                raise ExecutionError(
                    f"{self.manifest.model} ({self.manifest.library}) failed with code "
                    f"{STATUS_BAD_INPUT}: an input value the model cannot handle (input "
                    f"{self.input_names[int(check['input'])]!r} holds an index outside "
                    f"[-{dim}, {dim}))")
        return arrays

    def _device_inputs(self, arrays: list[np.ndarray]) -> list:
        return [self._tvm.runtime.tensor(a, self.device) for a in arrays]

    def _call(self, arrays: list) -> list:
        self._size_pool()  # another Executable may have resized the shared pool
        outputs = self._main(*arrays)
        self.device.sync()
        # mlc's modules return a tuple; TVM's own ONNX path returns a lone output bare
        return [outputs] if hasattr(outputs, "numpy") else list(outputs)


def _offer_fatbin(path: Path, manifest: Manifest) -> None:
    """Answer TVM's CUDA compile callback with this artifact's ahead-of-time kernels."""
    digest = manifest.options.get("cuda_source_sha256")
    fatbin = manifest.options.get("fatbin")
    if not isinstance(digest, str) or not isinstance(fatbin, str) or fatbin not in manifest.files:
        raise ArtifactError(f"{path}: the cuda artifact lacks its precompiled kernels",
                            hint="recompile it with `mlc compile -t cuda`")
    _FATBINS[digest] = (path / fatbin).read_bytes()
    import tvm_ffi

    tvm_ffi.register_global_func("tvm_callback_cuda_compile", _compile_callback, override=True)


def _compile_callback(code: str) -> bytes:
    binary = _FATBINS.get(hashlib.sha256(code.encode()).hexdigest())
    if binary is not None:
        return binary
    import shutil

    from tvm.support import nvcc  # not an mlc artifact's kernels: compile them as TVM would,

    if shutil.which("nvcc"):  # with nvcc where there is one (NVRTC failed on CUDA 13 headers)
        return nvcc.compile_cuda(code, target_format="fatbin", compiler="nvcc")
    return nvcc.tvm_callback_cuda_compile(code)


def has_te_compute(op: str) -> bool:
    """Does the op have a TE compute (what the tvm-llvm and cuda targets compile)? A ``fused``
    node becomes one TE function when each member op has one. The computes import TVM, so
    without TVM installed this cannot tell, and says no."""
    try:
        from mlc.backends.tvm.ops import has_te_op
    except ImportError:
        return False
    return op == "fused" or has_te_op(op)


_TE_COLUMN = OpColumn("tvm", has_te_compute, "the op has a TE compute (`backends/tvm/ops/`), "
                      "built through TVM")
TVM_LLVM = Target(
    "tvm-llvm", "this CPU through mlc's fused graph lowered to TVM (Relax + TE) and TVM's LLVM",
    compile=partial(compile_tvm, target_name="tvm-llvm"), load=TvmExecutable,
    options=TvmOptions, requires=(TVM,), op_column=_TE_COLUMN, conformance=True)
CUDA = Target(
    "cuda", "an NVIDIA GPU through mlc's fused graph lowered to TVM, kernels built by nvcc",
    compile=partial(compile_tvm, target_name="cuda"), load=TvmExecutable, options=TvmOptions,
    requires=(TVM, NVCC), op_column=_TE_COLUMN)
BUILT_IN = (TVM_LLVM, CUDA)
