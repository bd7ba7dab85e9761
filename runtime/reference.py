"""The in-process targets: ``ref`` (the numpy reference interpreter) and ``ort`` (onnxruntime,
the yardstick every other target is compared with)."""

from __future__ import annotations

import contextlib
from typing import Callable

import numpy as np

from mlc import interp
from mlc.errors import first_line

from .model import Model
from .targets import Feeds, OpColumn, Runner, Target, TargetError


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
    def __init__(self, model: Model, threads: int):
        self.graph = model.graph
        self.limit = _thread_limit(threads)

    def run(self, feeds: Feeds) -> list[np.ndarray]:
        with self.limit():
            return interp.run(self.graph, feeds, as_list=True)


class _OrtRunner(Runner):
    def __init__(self, model: Model, threads: int):
        self.session = ort_session(model.onnx_model, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]

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


REF = Target(
    "ref", "the numpy reference interpreter over the op registry's kernels", runner=_RefRunner,
    op_column=OpColumn("ref", lambda op: True, "the numpy reference interpreter runs every "
                                                  "registered op"), conformance=True)
ORT = Target("ort", "onnxruntime on the CPU (the yardstick every other target is compared with)",
             runner=_OrtRunner)
BUILT_IN = (REF, ORT)
