"""The ONNX node conformance suite, run against mlc's importer and reference interpreter.

ONNX ships ~1900 one-node test cases (``onnx.backend.test.case.node.collect_testcases``), each a
model plus inputs and expected outputs. This module decides which of them mlc claims to support,
runs those, and says why each failure failed. Both the pytest gate (tests/conformance) and the docs
generator (``python -m mlc.docs_ops``) read :func:`run_all`, so the published pass/fail table and
the test see the same numbers.

What counts as a *supported* case (the denominator of the pass rate):

1. every node is in the default ONNX domain, and its op type at the case's opset resolves to a
   since-version the importer lists in ``mlc.frontend.supported_onnx_ops()`` (resolved as the
   importer does: a newer schema that only adds element types reads as the last one it knows);
2. every graph input and output has an element type mlc's IR has (f32, f16, f64, i8, u8, i16,
   i32, i64, bool). A case on bfloat16, float8, int4, uint16/32/64, string or complex tensors is
   not a supported case: the IR cannot even name its types, so it says nothing about the op.

Everything else about a supported case is mlc's problem: an attribute the importer refuses, a
training-mode flag, a second output that is used (MaxPool's indices, Dropout's mask…), a numeric
mismatch. Such a case is a *failure* with a reason, and tests/conformance/expected_failures.txt
must list it, so every gap is written down rather than excluded.

A case whose shape-like input (Reshape's shape, Slice's starts…) is a graph input is imported
again with that input bound to the data set's value (``bind=``), as a model exporter would have
made it a constant; the case then runs on its remaining inputs.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

MLC_ELEM_TYPES = {1: "float32", 10: "float16", 11: "float64", 3: "int8", 2: "uint8", 5: "int16",
                  6: "int32", 7: "int64", 9: "bool"}

PASSED, FAILED = "passed", "failed"


@dataclass
class CaseResult:
    name: str
    ops: tuple[str, ...]  # ONNX op types in the case's graph, sorted, unique
    status: str  # PASSED or FAILED
    reason: str = ""  # why it failed: "import: …", "run: …", "mismatch: …", "crash: …"
    opset: int = 0
    seconds: float = 0.0
    bound: tuple[str, ...] = field(default=())  # inputs bound as constants (see module doc)

    @property
    def passed(self) -> bool:
        return self.status == PASSED


# -- collecting and classifying ------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def collect_cases() -> tuple:
    """ONNX's node test cases (~5 s; the generators print and warn, which we silence)."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"), _quiet():
        warnings.simplefilter("ignore")
        return tuple(collect_testcases(""))


@contextlib.contextmanager
def _quiet():
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = io.StringIO()
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def supported_ops() -> dict[str, frozenset[int] | None]:
    """ONNX op type -> the schema since-versions the importer handles (None: every version)."""
    from mlc.frontend import supported_onnx_ops

    return {op: (frozenset(int(v) for v in versions) if versions else None)
            for op, versions in supported_onnx_ops().items()}


def case_opset(model) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    return 0


def case_ops(model) -> tuple[str, ...]:
    return tuple(sorted({n.op_type for n in model.graph.node}))


def unsupported_because(case, ops: dict[str, frozenset[int] | None] | None = None) -> str | None:
    """Why a case is outside mlc's claim (see the module doc), or None when it is supported."""
    import onnx

    ops = supported_ops() if ops is None else ops
    opset = case_opset(case.model)
    for node in case.model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            return f"op {node.domain}.{node.op_type}: not in the default domain"
        if node.op_type not in ops:
            return f"op {node.op_type}: not imported"
        versions = ops[node.op_type]
        if versions is not None:
            since = _resolve_version(node.op_type, opset)
            if since is None:
                return f"op {node.op_type} at opset {opset}: version not imported"
            if since not in versions:
                return f"op {node.op_type}-{since}: version not imported"
    for vi in [*case.model.graph.input, *case.model.graph.output]:
        if not vi.type.HasField("tensor_type"):
            return "a non-tensor input or output (sequence, optional or map)"
        elem = vi.type.tensor_type.elem_type
        if elem not in MLC_ELEM_TYPES:
            name = onnx.TensorProto.DataType.Name(elem).lower()
            return f"dtype {name}: not in mlc's IR"
    return None


def _resolve_version(op_type: str, opset: int) -> int | None:
    """The since-version the importer converts ``op_type`` at ``opset`` with: the schema's, or
    for a newer schema that only adds element types, the last one the importer knows."""
    from mlc.frontend.importer import resolve_version

    resolved = resolve_version(op_type, opset)
    return None if resolved is None else resolved[0]


def supported_cases(cases: Iterable | None = None) -> list:
    ops = supported_ops()
    return [c for c in (collect_cases() if cases is None else cases)
            if unsupported_because(c, ops) is None]


# -- running ---------------------------------------------------------------------------------------
def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _import(case, inputs: dict[str, np.ndarray]):
    """Import the case's model, binding shape-like graph inputs the importer asks for."""
    from mlc.frontend import NeedsConstantError, import_model

    bind: dict[str, np.ndarray] = {}
    for _ in range(len(inputs) + 1):
        try:
            return import_model(case.model, bind=bind) if bind else import_model(case.model), bind
        except NeedsConstantError as exc:
            names = _needed_names(exc, inputs, bind)
            if not names:
                raise
            bind.update({n: inputs[n] for n in names})
    raise AssertionError("unreachable: every input is bound")


def _needed_names(exc, inputs: dict[str, np.ndarray], bind: dict) -> list[str]:
    for attr in ("names", "inputs", "name", "input_name", "value"):
        got = getattr(exc, attr, None)
        if isinstance(got, str):
            got = [got]
        if got:
            names = [n for n in got if n in inputs and n not in bind]
            if names:
                return names
    # Fallback: the integer inputs not bound yet (shape-like inputs are int64).
    return [n for n, a in inputs.items() if n not in bind and a.dtype.kind in "iu"]


def _array(data) -> np.ndarray:
    """A data-set entry as numpy: most are arrays, some (Cast's) are TensorProtos."""
    if hasattr(data, "raw_data") and hasattr(data, "data_type"):
        from onnx import numpy_helper

        return numpy_helper.to_array(data)
    return np.asarray(data)


def run_case(case) -> CaseResult:
    """Import, run and compare one case; never raises for a failing case."""
    from mlc.errors import MlcError
    from mlc.interp import run

    ops, opset = case_ops(case.model), case_opset(case.model)
    result = CaseResult(case.name, ops, FAILED, opset=opset)
    start = time.perf_counter()
    input_names = [vi.name for vi in case.model.graph.input]
    output_names = [vi.name for vi in case.model.graph.output]
    inputs_list, expected = case.data_sets[0]
    inputs = {n: _array(a) for n, a in zip(input_names, inputs_list)}
    expected = [_array(a) for a in expected]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            stage = "import"
            graph, bind = _import(case, inputs)
            result.bound = tuple(bind)
            stage = "run"
            feeds = {v.name: inputs[v.name] for v in graph.inputs}
            actual = run(graph, feeds, as_list=True)
        result.reason = _compare(actual, expected, output_names,
                                 case.rtol if case.rtol is not None else 1e-3,
                                 case.atol if case.atol is not None else 1e-7)
        result.status = PASSED if not result.reason else FAILED
    except MlcError as exc:
        result.reason = f"{stage}: {type(exc).__name__}: {_one_line(exc.one_line())}"
    except Exception as exc:  # noqa: BLE001 (a bug in mlc: recorded, so the run goes on)
        result.reason = f"crash in {stage}: {type(exc).__name__}: {_one_line(exc)}"
    result.seconds = time.perf_counter() - start
    return result


def _compare(actual: list, expected: list, names: list[str], rtol: float, atol: float) -> str:
    """'' when every output matches (assert_allclose semantics, NaN equal), else the reason."""
    if len(actual) != len(expected):
        return f"outputs: got {len(actual)}, expected {len(expected)}"
    for name, got, want in zip(names, actual, expected):
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape:
            return f"shape: {name} is {list(got.shape)}, expected {list(want.shape)}"
        if got.dtype != want.dtype:
            return f"dtype: {name} is {got.dtype}, expected {want.dtype}"
        if want.dtype == object or want.dtype.kind in "bOSU":
            if not np.array_equal(got, want):
                return f"mismatch: {name} differs in {int(np.sum(got != want))} elements"
            continue
        try:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
        except AssertionError:
            g, w = got.astype(np.float64), want.astype(np.float64)
            err = np.abs(g - w)
            err[np.isnan(g) & np.isnan(w)] = 0
            err[np.isnan(err)] = np.inf
            worst = float(err.max()) if err.size else 0.0
            return (f"mismatch: {name} max abs err {worst:.3g} "
                    f"(rtol {rtol:g}, atol {atol:g})")
    return ""


@functools.lru_cache(maxsize=1)
def _run_all_cached() -> tuple[CaseResult, ...]:
    return tuple(run_case(c) for c in supported_cases())


def run_all() -> list[CaseResult]:
    """Run every supported case (cached for the process: the test and the docs share one run)."""
    return list(_run_all_cached())


# -- expected failures file ------------------------------------------------------------------
def read_expected_failures(path) -> dict[str, str]:
    """``case_name  # reason`` lines -> {name: reason}; blank lines and ``#`` comments skipped."""
    entries: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition("#")
            entries[name.strip()] = reason.strip()
    return entries


def format_expected_failures(results: Iterable[CaseResult]) -> str:
    failed = sorted((r for r in results if not r.passed), key=lambda r: r.name)
    width = max((len(r.name) for r in failed), default=0)
    return "".join(f"{r.name.ljust(width)}  # {r.reason}\n" for r in failed)


def summary(results: list[CaseResult]) -> str:
    passed = sum(r.passed for r in results)
    total = len(results)
    rate = 100.0 * passed / max(total, 1)
    return f"{passed}/{total} supported ONNX node cases pass ({rate:.1f}%)"


def main(argv: list[str] | None = None) -> int:
    """``python -m mlc.testing.node_suite [-v] [-k substring]``: run and print failures."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    parser.add_argument("-v", action="store_true", help="print passing cases too")
    parser.add_argument("--expected", action="store_true",
                        help="print the failures in expected_failures.txt format")
    args = parser.parse_args(argv)
    cases = [c for c in supported_cases() if args.k in c.name]
    results = [run_case(c) for c in cases]
    if args.expected:
        sys.stdout.write(format_expected_failures(results))
        return 0
    for r in results:
        if args.v or not r.passed:
            print(f"{r.status:6} {r.name}: {r.reason}")
    print(summary(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
