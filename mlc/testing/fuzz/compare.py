"""When a target's outputs count as equal to onnxruntime's: the suite's tolerances, plus the
documented freedoms of IEEE arithmetic that random graphs run into.

The rules, in order (docs/security.md's fuzzing section lists them with their reasons):

1. Same number of outputs, same shapes, same dtypes: always.
2. Integers and bools: exactly equal.
3. Floats: ``|got - want| <= atol + rtol * |want|`` with ``mlc compare``'s defaults (rtol 1e-4,
   atol 1e-5) for float32 and float64 and one float16 rounding step (rtol 2e-3, atol 1e-3) for
   float16; NaN equals NaN, inf equals the same inf.
4. **Non-finite freedom**: when the run met a non-finite value (a NaN, ±inf or a number near the
   float32 limit in the feeds, or a NaN or inf anywhere in the reference's intermediate values),
   positions where either side is NaN or ±inf are not compared. ONNX does not say how NaN
   travels through max, min, relu, clip and pooling (onnxruntime's MaxPool skips NaN, its Max
   returns it), nor where a sum of huge numbers overflows, and the targets differ as onnxruntime's
   own kernels do. Every finite position is still compared by rule 3.
5. **Undefined conversions**: a float → integer or bool conversion (a cast, quantize, a
   comparison) that meets NaN or ±inf, or a cast of a value outside the integer type, has no
   result the targets share: such a cast is undefined in C and LLVM (``fptosi``), quantizing NaN
   gives the type's minimum in onnxruntime and 0 in numpy, and whether a NaN reaches a comparison
   at all is rule 4's freedom. Outputs computed from such a conversion, of any dtype, are not
   compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from mlc.ir import Graph

RTOL, ATOL = 1e-4, 1e-5  # mlc compare's defaults (runtime/compare.py)
HALF_RTOL, HALF_ATOL = 2e-3, 1e-3  # one float16 rounding step
EDGE_MAGNITUDE = 1e30  # feeds beyond this count as edge values (overflow within a few ops)


@dataclass(frozen=True)
class Freedom:
    """Which documented freedoms (rules 4 and 5) apply to one run of one graph."""

    non_finite: bool = False
    undefined_conversion_outputs: frozenset[int] = frozenset()  # output positions


def freedom(graph: Graph, feeds: Mapping[str, np.ndarray],
            trace: Mapping[str, np.ndarray]) -> Freedom:
    """The freedoms that ``graph`` run on ``feeds`` earns, from the reference's ``trace`` (every
    node output by value name, :func:`mlc.interp.run_traced`)."""
    edge_feeds = any(a.dtype.kind == "f" and a.size and
                     not np.all(np.abs(a.astype(np.float64)) < EDGE_MAGNITUDE)
                     for a in feeds.values())
    edge_trace = any(a.dtype.kind == "f" and a.size and not np.all(np.isfinite(a))
                     for a in trace.values())
    return Freedom(edge_feeds or edge_trace,
                   _undefined_conversion_outputs(graph, feeds, trace))


def _undefined_conversion_outputs(graph: Graph, feeds: Mapping[str, np.ndarray],
                                  trace: Mapping[str, np.ndarray]) -> frozenset[int]:
    """The outputs computed from a float → integer or bool conversion that met NaN or ±inf (in
    the reference's run), or from a float → integer cast of a value out of the integer's range."""
    def array(value) -> np.ndarray | None:
        if value.is_const:
            return value.const
        return trace.get(value.name, feeds.get(value.name))

    tainted: set[int] = set()
    for node in graph.nodes:
        inputs = [v for v in node.inputs if v is not None]
        bad = any(id(v) in tainted for v in inputs)
        if not bad and not all(o.dtype.is_float for o in node.outputs):
            bad = any(_undefined(array(v), node) for v in inputs if v.dtype.is_float)
        if bad:
            tainted.update(id(o) for o in node.outputs)
    return frozenset(i for i, v in enumerate(graph.outputs) if id(v) in tainted)


def _undefined(source: np.ndarray | None, node) -> bool:
    if source is None or not source.size:
        return False
    with np.errstate(invalid="ignore"):
        if node.op == "cast" and node.attrs["to"].is_int:
            info = np.iinfo(node.attrs["to"].numpy)
            return not bool(np.all((source > info.min - 1.0) & (source < info.max + 1.0)))
        return not bool(np.all(np.isfinite(source)))


def mismatch(got: Sequence[np.ndarray], want: Sequence[np.ndarray],
             allowed: Freedom = Freedom()) -> str:
    """'' when ``got`` equals ``want`` under the rules above, else the first difference, in words."""
    if len(got) != len(want):
        return f"returned {len(got)} outputs, onnxruntime {len(want)}"
    for index, (a, b) in enumerate(zip(got, want)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return (f"output {index} is {a.dtype}{list(a.shape)}, "
                    f"onnxruntime gives {b.dtype}{list(b.shape)}")
        if index in allowed.undefined_conversion_outputs:
            continue
        if b.dtype.kind != "f":
            if not np.array_equal(a, b):
                return f"output {index} differs in {int(np.sum(a != b))} of {a.size} elements"
            continue
        problem = _float_difference(a, b, allowed.non_finite)
        if problem:
            return f"output {index}: {problem}"
    return ""


def _float_difference(got: np.ndarray, want: np.ndarray, non_finite_free: bool) -> str:
    half = want.dtype == np.float16
    rtol, atol = (HALF_RTOL, HALF_ATOL) if half else (RTOL, ATOL)
    g, w = got.astype(np.float64), want.astype(np.float64)
    same = (g == w) | (np.isnan(g) & np.isnan(w))
    compared = np.ones(g.shape, bool)
    if non_finite_free:
        compared = np.isfinite(g) & np.isfinite(w)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(g - w) <= atol + rtol * np.abs(w)
    wrong = compared & ~same & ~close
    if not wrong.any():
        return ""
    where = np.flatnonzero(wrong)
    first = int(where[0])
    return (f"{len(where)} of {g.size} elements differ beyond rtol {rtol:g}, atol {atol:g} "
            f"(first at {first}: {got.flat[first]!r} vs {want.flat[first]!r})")
