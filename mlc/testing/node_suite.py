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

Targets (``run_all(target)``, ``-t``): ``ref`` runs each case on the numpy interpreter; ``llvm``,
``c`` and ``tvm-llvm`` compile the imported graphs in merged batches and run them through
``mlc.runtime.load`` (mlc/testing/node_batch.py: ~40 compiles instead of ~620, a failing batch
bisected so each case fails with its own reason). All compare with the case's own tolerance
(default rtol 1e-3, atol 1e-7), and a case that fails to import fails the same way on every target.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from mlc.errors import single_line
from mlc.testing.models import REPO_ROOT

if TYPE_CHECKING:
    from mlc.ir import Graph

MLC_ELEM_TYPES = {1: "float32", 10: "float16", 11: "float64", 3: "int8", 2: "uint8", 5: "int16",
                  6: "int32", 7: "int64", 9: "bool"}

PASSED, FAILED = "passed", "failed"
REASON_CHARS = 160  # a failure's reason is cut to this length (tables, expected-failures files)


def conformance_targets() -> list[str]:
    """The targets held to the node suite (``ref``, the numpy interpreter, first; the others are
    compiled and run): those registered with ``conformance=True``."""
    from mlc.runtime.targets import TARGETS

    return [name for name, target in TARGETS.items() if target.conformance]


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

    with _silenced(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        return tuple(collect_testcases(""))


@contextlib.contextmanager
def _silenced():
    """No Python warnings and no numpy floating-point warnings: the cases divide by zero, take
    logs of negatives and overflow on purpose."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def failure_reason(stage: str, exc: Exception) -> str:
    """A failed case's reason: ``<stage>: …`` for an MlcError (mlc refusing the case), ``crash in
    <stage>: …`` for any other exception (a bug in mlc, recorded so the run goes on)."""
    from mlc.errors import MlcError

    if isinstance(exc, MlcError):
        return f"{stage}: {type(exc).__name__}: {single_line(exc.one_line(), REASON_CHARS)}"
    return f"crash in {stage}: {type(exc).__name__}: {single_line(exc, REASON_CHARS)}"


def supported_ops() -> dict[str, frozenset[int] | None]:
    """ONNX op type -> the schema since-versions the importer handles (None: every version)."""
    from mlc.frontend import supported_onnx_ops

    return {op: (frozenset(int(v) for v in versions) if versions else None)
            for op, versions in supported_onnx_ops().items()}


def case_opset(model) -> int:
    return next((imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")), 0)


def case_ops(model) -> tuple[str, ...]:
    return tuple(sorted({n.op_type for n in model.graph.node}))


def unsupported_because(case, ops: dict[str, frozenset[int] | None] | None = None) -> str | None:
    """Why a case is outside mlc's claim (see the module doc), or None when it is supported."""
    import onnx

    from mlc.frontend.importer import resolve_version

    ops = supported_ops() if ops is None else ops
    opset = case_opset(case.model)
    for node in case.model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            return f"op {node.domain}.{node.op_type}: not in the default domain"
        if node.op_type not in ops:
            return f"op {node.op_type}: not imported"
        versions = ops[node.op_type]
        if versions is not None:
            # resolved as the importer does (a newer schema that only adds element types reads
            # as the last since-version it knows)
            resolved = resolve_version(node.op_type, opset)
            if resolved is None:
                return f"op {node.op_type} at opset {opset}: version not imported"
            if resolved[0] not in versions:
                return f"op {node.op_type}-{resolved[0]}: version not imported"
    for vi in [*case.model.graph.input, *case.model.graph.output]:
        if not vi.type.HasField("tensor_type"):
            return "a non-tensor input or output (sequence, optional or map)"
        elem = vi.type.tensor_type.elem_type
        if elem not in MLC_ELEM_TYPES:
            name = onnx.TensorProto.DataType.Name(elem).lower()
            return f"dtype {name}: not in mlc's IR"
    return None


def supported_cases(cases: Iterable | None = None) -> list:
    ops = supported_ops()
    return [c for c in (collect_cases() if cases is None else cases)
            if unsupported_because(c, ops) is None]


# -- running ---------------------------------------------------------------------------------------


def _import(case, inputs: dict[str, np.ndarray]):
    """Import the case's model, binding shape-like graph inputs the importer asks for."""
    from mlc.frontend import NeedsConstantError, import_model

    bind: dict[str, np.ndarray] = {}
    for _ in range(len(inputs) + 1):
        try:
            return import_model(case.model, bind=bind) if bind else import_model(case.model), bind
        except NeedsConstantError as exc:
            # the inputs it names, else the integer inputs not bound yet (shape-like ones are int64)
            names = ([n for n in exc.names if n in inputs and n not in bind]
                     or [n for n, a in inputs.items() if n not in bind and a.dtype.kind in "iu"])
            if not names:
                raise
            bind.update({n: inputs[n] for n in names})
    raise AssertionError("unreachable: every input is bound")


def _array(data) -> np.ndarray:
    """A data-set entry as numpy: most are arrays, some (Cast's) are TensorProtos."""
    if hasattr(data, "raw_data") and hasattr(data, "data_type"):
        from onnx import numpy_helper

        return numpy_helper.to_array(data)
    return np.asarray(data)


@dataclass
class Prepared:
    """A case imported and ready to run on any target: its graph, feeds and expected outputs."""

    result: CaseResult  # status FAILED until a target's outputs are compared
    graph: Graph
    feeds: dict[str, np.ndarray]
    expected: list[np.ndarray]
    output_names: list[str]
    rtol: float
    atol: float

    def check(self, actual: list) -> CaseResult:
        """The result with ``actual`` (a target's outputs) compared to the expected ones."""
        self.result.reason = _compare(actual, self.expected, self.output_names, self.rtol,
                                      self.atol)
        self.result.status = PASSED if not self.result.reason else FAILED
        return self.result


def prepare_case(case) -> Prepared | CaseResult:
    """Import a case (binding shape-like inputs); a failed CaseResult if the import fails."""
    result = CaseResult(case.name, case_ops(case.model), FAILED, opset=case_opset(case.model))
    input_names = [vi.name for vi in case.model.graph.input]
    inputs_list, expected = case.data_sets[0]
    inputs = {n: _array(a) for n, a in zip(input_names, inputs_list)}
    try:
        with _silenced():
            graph, bind = _import(case, inputs)
    except Exception as exc:  # noqa: BLE001 (see failure_reason)
        result.reason = failure_reason("import", exc)
        return result
    result.bound = tuple(bind)
    return Prepared(result, graph, {v.name: inputs[v.name] for v in graph.inputs},
                    [_array(a) for a in expected],
                    [vi.name for vi in case.model.graph.output],
                    case.rtol if case.rtol is not None else 1e-3,
                    case.atol if case.atol is not None else 1e-7)


def run_case(case, target: str = "ref") -> CaseResult:
    """Import, run on ``target`` and compare one case; never raises for a failing case."""
    if target != "ref":
        return run_cases([case], target)[0]
    from mlc.interp import run

    start = time.perf_counter()
    prepared = prepare_case(case)
    if isinstance(prepared, CaseResult):
        prepared.seconds = time.perf_counter() - start
        return prepared
    result = prepared.result
    try:
        with _silenced():
            actual = run(prepared.graph, prepared.feeds, as_list=True)
        prepared.check(actual)
    except Exception as exc:  # noqa: BLE001 (see failure_reason)
        result.reason = failure_reason("run", exc)
    result.seconds = time.perf_counter() - start
    return result


def run_cases(cases: Iterable, target: str = "ref", threads: int = 1) -> list[CaseResult]:
    """Run ``cases`` on ``target``. A compiled target compiles them in merged batches
    (mlc/testing/node_batch.py); a case that fails to import fails the same way everywhere."""
    if target == "ref":
        return [run_case(c) for c in cases]
    if target not in conformance_targets():
        raise ValueError(f"unknown target {target!r}; choose from "
                         f"{', '.join(conformance_targets())}")
    from mlc.testing.node_batch import run_batched

    start = time.perf_counter()
    prepared = [prepare_case(c) for c in cases]
    ready = [p for p in prepared if isinstance(p, Prepared)]
    compile_fn = functools.partial(_compile, target=target, threads=threads)
    outcomes = run_batched([p.graph for p in ready], [p.feeds for p in ready], compile_fn)
    _check(ready, outcomes)
    # A mismatch seen in a merged batch is confirmed alone, so batching never decides a result.
    again = [p for p, o in zip(ready, outcomes) if not o.alone and not p.result.passed]
    _check(again, run_batched([p.graph for p in again], [p.feeds for p in again], compile_fn,
                              batch_size=1))
    results = [p.result if isinstance(p, Prepared) else p for p in prepared]
    share = (time.perf_counter() - start) / max(len(results), 1)
    for r in results:
        r.seconds = share
    return results


def _check(prepared: list[Prepared], outcomes: list) -> None:
    """Record each case's outcome from node_batch.run_batched: an error, or outputs to compare."""
    for p, outcome in zip(prepared, outcomes):
        p.result.status = FAILED
        if outcome.outputs is None:
            p.result.reason = outcome.error
            continue
        try:
            p.check(outcome.outputs)
        except Exception as exc:  # noqa: BLE001 (a bug in mlc: recorded, so the run goes on)
            p.result.reason = (f"crash in compare: {type(exc).__name__}: "
                               f"{single_line(exc, REASON_CHARS)}")


def _compile(graph, out_dir: str, target: str = "llvm", threads: int = 1):
    """Compile ``graph`` for ``target`` into ``out_dir``; the loaded artifact's ``run``."""
    import mlc
    from mlc.runtime import load

    return load(mlc.compile(graph, target=target, output=out_dir), threads=threads).run


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


@functools.lru_cache(maxsize=None)
def _run_all_cached(target: str) -> tuple[CaseResult, ...]:
    return tuple(run_cases(supported_cases(), target))


def run_all(target: str = "ref") -> list[CaseResult]:
    """Run every supported case on ``target`` (cached per process and target: the tests and the
    docs share one run)."""
    return list(_run_all_cached(target))


# -- expected failures file ------------------------------------------------------------------
def expected_failures_path(target: str) -> Path:
    """Where the expected failures of ``target`` are kept (``ref``'s, the others' beyond it)."""
    name = "expected_failures.txt" if target == "ref" else f"expected_failures_{target}.txt"
    return REPO_ROOT / "tests" / "conformance" / name


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


def format_expected_failures(results: Iterable[CaseResult],
                             reasons: dict[str, str] | None = None) -> str:
    """The failures as ``name  # reason`` lines; ``reasons`` (name -> a written explanation)
    replaces the runner's raw reason where it has the case."""
    reasons = reasons or {}
    failed = sorted((r for r in results if not r.passed), key=lambda r: r.name)
    width = max((len(r.name) for r in failed), default=0)
    return "".join(f"{r.name.ljust(width)}  # {reasons.get(r.name) or r.reason}\n"
                   for r in failed)


def write_expected_failures(path, results: list[CaseResult], reasons_from=()) -> None:
    """Rewrite the list at ``path`` for ``results``: its ``#`` header and the reasons it already
    gives are kept; a case it lacks takes its reason from the lists ``reasons_from`` (e.g. the
    ref list, for a case that fails on every target alike), else the runner's raw reason."""
    path = Path(path)
    header, reasons = "", {}
    for source in reversed(list(reasons_from)):
        reasons.update(read_expected_failures(source))
    if path.exists():
        text = path.read_text(encoding="utf-8")
        header = "".join(line for line in text.splitlines(keepends=True)
                         if line.startswith("#"))
        reasons.update(read_expected_failures(path))
    path.write_text(header + format_expected_failures(results, reasons), encoding="utf-8")


def summary(results: list[CaseResult]) -> str:
    passed = sum(r.passed for r in results)
    rate = 100.0 * passed / max(len(results), 1)
    return f"{passed}/{len(results)} supported ONNX node cases pass ({rate:.1f}%)"


def main(argv: list[str] | None = None) -> int:
    """``python -m mlc.testing.node_suite [-t llvm] [-v] [-k substring]``: run, print failures."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    parser.add_argument("-v", action="store_true", help="print passing cases too")
    parser.add_argument("-t", "--target", default="ref", choices=conformance_targets(),
                        help="where the cases run (default: ref, the numpy interpreter)")
    parser.add_argument("--expected", action="store_true",
                        help="print the failures in expected_failures.txt format")
    parser.add_argument("--write-expected", metavar="FILE",
                        help="rewrite this expected-failures list for the run (keeping its header "
                             "and written reasons)")
    parser.add_argument("--reasons-from", metavar="FILE", action="append", default=[],
                        help="with --write-expected: take a new failure's reason from this list")
    args = parser.parse_args(argv)
    cases = [c for c in supported_cases() if args.k in c.name]
    start = time.perf_counter()
    results = run_cases(cases, args.target)
    seconds = time.perf_counter() - start
    if args.expected:
        sys.stdout.write(format_expected_failures(results))
        return 0
    if args.write_expected:
        write_expected_failures(args.write_expected, results, args.reasons_from)
    for r in results:
        if args.v or not r.passed:
            print(f"{r.status:6} {r.name}: {r.reason}")
    print(f"{summary(results)} on {args.target} in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
