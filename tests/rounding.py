"""How far two correct float evaluations of one computation may differ by rounding alone.

The backend tests compare a compiled kernel (LLVM, C, TVM, or the loop-IR evaluator) with the
reference interpreter. Both round correctly, but differently: they sum in other orders (blocked,
vectorized, pairwise; numpy hands matmul to a BLAS whose kernel depends on the CPU), and they
contract ``a·b + c`` into a fused multiply-add or not. For a sum of n terms, in any order and with
or without FMA (which only removes roundings), the classic bound is (Higham, *Accuracy and
Stability of Numerical Algorithms*, 2nd ed., §3.1, (3.4)–(3.5))

    |fl(x₁ + … + xₙ) − (x₁ + … + xₙ)|  ≤  γₙ · (|x₁| + … + |xₙ|),    γₙ = n·u / (1 − n·u),

with u the unit roundoff of the dtype (2⁻²⁴ for float32). That worst case grows like n; rounding
errors of either sign mostly cancel, and Higham & Mary (SIAM J. Sci. Comput. 41(5), 2019,
Thm. 2.4 and 3.1) prove that, modelling them as independent with mean zero, the same bound holds
with γₙ replaced by γ̃ₙ(λ) = exp(λ·√n·u + n·u²/(1 − u)) − 1 ≈ λ·√n·u except with probability
at most 2n·exp(−λ²(1 − u)²/2). We take the smaller of the two with λ = 8, which fails with
probability below n·3e-14 per element. Two evaluations are then within 2·γ·M of each other,
where M is the magnitude of the *terms*, not of the result: an output of 4e-4 made by cancelling
terms of magnitude 5 legitimately carries an absolute error of a few ulps of 5, and no relative
tolerance on 4e-4 can say so.

``rounding_bounds`` gives 2·γ·M per element of each float output of a node or graph. M comes from
evaluating the computation in float64 on magnitudes, one node at a time:

- contractions and linear reductions (matmul, gemm, conv, reduce_sum/mean, average pools) and the
  ops that only move or pick elements (injective ops, reduce_max/min, max pools) are evaluated on
  their inputs' magnitudes, with gemm's alpha and beta taken by absolute value: for a sum of
  products this is exactly Σ|terms|;
- elementwise ops propagate magnitudes to first order, M = |f(x)| + Σⱼ |∂f/∂xⱼ|·Mⱼ (the standard
  forward error propagation: the op's own rounding plus its inputs' errors times its slopes), the
  slope being the larger one-sided difference quotient of the op's numpy kernel around x;
- any other op (softmax, norms, resize, …) starts afresh at |f(x)|: its rounding is relative to
  its result (the callers' rtol), and the error it receives from inside a fused group is not
  modelled — fusion puts only elementwise ops before such an op.

n is the number of roundings along the longest chain, bounded by the sum over the nodes of each
one's terms per output element (K + 2 for a K-deep matmul or gemm, its alpha and its bias; 1 for an
elementwise op).

Non-finite values contribute no magnitude: inf and NaN propagate by IEEE rules alike in every
order, so the result there must match exactly. Where M itself exceeds the dtype's range, finite
terms overflow, and whether the result is a number, ±inf or NaN depends on the order and on
contraction (a·b overflows, fma(a, b, c) may not); the bound there is inf and the element is not
constrained.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from mlc.ir import Graph
from mlc.ir.graph import Node, Value
from mlc.ops import FusionKind, get_op

SUMS_OF_PRODUCTS = frozenset({"matmul", "gemm", "conv2d", "conv2d_transpose", "reduce_sum",
                              "reduce_mean", "avg_pool2d", "global_avg_pool"})
"""Non-elementwise ops whose result is a sum of products of their inputs (linear in each)."""

PICKS = frozenset({"reduce_max", "reduce_min", "max_pool2d", "global_max_pool"})
"""Non-elementwise ops whose result is one of their input elements."""

ELEMENTWISE = frozenset({FusionKind.ELEMWISE, FusionKind.BROADCAST})

LAMBDA = 8.0
"""Higham & Mary's λ: the probabilistic bound fails with probability ≤ 2n·exp(−λ²/2) ≈ n·2.5e-14."""


def rounding_bounds(node_or_graph: Node | Graph,
                    inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{output name: 2·γ·M per element} for each float output; ``inputs`` maps the names of the
    node's (or graph's) non-constant inputs to the arrays they are run on."""
    if isinstance(node_or_graph, Graph):
        params, values, outputs = node_or_graph.inputs, node_or_graph.inputs, \
            node_or_graph.outputs
        nodes = node_or_graph.nodes
        results = list(outputs)
    elif node_or_graph.body is not None:
        body = node_or_graph.body
        params, values, nodes = body.inputs, node_or_graph.inputs, body.nodes
        outputs, results = node_or_graph.outputs, body.outputs
    else:
        params = values = [v for v in node_or_graph.inputs if v is not None]
        nodes, outputs = [node_or_graph], node_or_graph.outputs
        results = list(outputs)
    walk = _Walk()
    for param, value in zip(params, values):
        walk.leaf(param, value.const if value.is_const else inputs[value.name])
    terms = sum(walk.run(n) for n in nodes)
    bounds = {}
    for out, made in zip(outputs, results):
        if not out.dtype.is_float:
            continue
        magnitude = walk.magnitude(made)
        gamma = _gamma(terms, np.finfo(out.dtype.numpy).eps / 2)
        with np.errstate(over="ignore", invalid="ignore"):
            bounds[out.name] = np.where(magnitude > np.finfo(out.dtype.numpy).max,
                                        np.inf,  # the terms overflow
                                        2 * gamma * np.asarray(magnitude, np.float64))
    return bounds


def _gamma(n: int, unit: float) -> float:
    """min(γₙ, γ̃ₙ(λ)): the worst-case and the probabilistic (λ = LAMBDA) relative bound for a
    chain of n roundings (see the module docstring)."""
    worst = n * unit / (1 - n * unit) if n * unit < 1 else math.inf
    likely = math.expm1(LAMBDA * math.sqrt(n) * unit + n * unit * unit / (1 - unit))
    return min(worst, likely)


def within(got: np.ndarray, want: np.ndarray, *, rtol: float, atol: float,
           bound: np.ndarray | None = None) -> np.ndarray:
    """Where ``got`` matches ``want``: equal (NaN to NaN, inf to the same inf), or both finite
    and within atol + rtol·|want| + ``bound`` (rounding_bounds), or anything where the bound is
    inf (the terms overflow). An inf is never "close" to a number, however large rtol·inf is."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    extra = np.zeros(want.shape) if bound is None else np.asarray(bound, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.isfinite(got) & np.isfinite(want) & \
            (np.abs(got - want) <= atol + rtol * np.abs(want) + extra)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    return close | same | np.isinf(extra)


def assert_within(got: np.ndarray, want: np.ndarray, what: str, *, rtol: float, atol: float,
                  bound: np.ndarray | None = None) -> None:
    """``within`` everywhere, or an AssertionError with the count and the first element off."""
    ok = within(got, want, rtol=rtol, atol=atol, bound=bound)
    if ok.all():
        return
    bad = np.argwhere(~ok)
    first = tuple(int(i) for i in bad[0])
    limit = atol + rtol * abs(float(want[first])) + (0.0 if bound is None else bound[first])
    raise AssertionError(
        f"{what}: {len(bad)} of {ok.size} elements differ by more than rounding; first at "
        f"{list(first)}: got {got[first]!r}, want {want[first]!r}, allowed ±{limit:.3g} "
        f"(rtol {rtol:g}, atol {atol:g}"
        + ("" if bound is None else f", rounding bound {bound[first]:.3g}") + ")")


class _Walk:
    """The reference values (in their own dtypes, as the interpreter makes them) and the float64
    magnitudes M of every value of a computation."""

    def __init__(self):
        self.values: dict[int, np.ndarray] = {}
        self.magnitudes: dict[int, np.ndarray | None] = {}

    def leaf(self, value: Value, array: np.ndarray) -> None:
        array = np.asarray(array, dtype=value.dtype.numpy)
        self.values[id(value)] = array
        self.magnitudes[id(value)] = _finite_abs(array) if value.dtype.is_float else None

    def value(self, value: Value) -> np.ndarray:
        if id(value) not in self.values:  # a constant a fused body holds itself
            self.leaf(value, value.const)
        return self.values[id(value)]

    def magnitude(self, value: Value) -> np.ndarray:
        self.value(value)
        return self.magnitudes[id(value)]

    def run(self, node: Node) -> int:
        """Evaluate ``node``; returns its terms per output element (the n it adds)."""
        if node.body is not None:
            for param, value in zip(node.body.inputs, node.inputs):
                self.values[id(param)] = self.value(value)
                self.magnitudes[id(param)] = self.magnitude(value)
            terms = sum(self.run(inner) for inner in node.body.nodes)
            for out, made in zip(node.outputs, node.body.outputs):
                self.values[id(out)] = self.value(made)
                self.magnitudes[id(out)] = self.magnitude(made)
            return terms
        op = get_op(node.op)
        args = [None if v is None else self.value(v) for v in node.inputs]
        results = [np.asarray(r, dtype=v.dtype.numpy)
                   for r, v in zip(op.compute(args, node.attrs), node.outputs)]
        if node.op in SUMS_OF_PRODUCTS or node.op in PICKS or op.fusion is FusionKind.INJECTIVE:
            mags = self._on_magnitudes(node)
        elif op.fusion in ELEMENTWISE:
            mags = [self._propagated(node, args, results[0])]
        else:
            mags = [_finite_abs(r) for r in results]
        for out, result, mag in zip(node.outputs, results, mags):
            self.values[id(out)] = result
            self.magnitudes[id(out)] = mag if out.dtype.is_float else None
        if op.fusion in ELEMENTWISE or op.fusion is FusionKind.INJECTIVE:
            return 1
        out_numel = max(1, node.outputs[0].type.numel)
        macs = op.cost([v.type if v is not None else None for v in node.inputs],
                       [v.type for v in node.outputs], node.attrs).macs
        widest = max([v.type.numel for v in node.inputs if v is not None] + [1])
        # the terms of the reduction, and two roundings more for a final scale and bias
        # (gemm's alpha· and + beta·C, reduce_mean's division)
        return max(1, -(-macs // out_numel), -(-widest // out_numel)) + 2

    def _on_magnitudes(self, node: Node) -> list[np.ndarray | None]:
        """The op applied to its inputs' magnitudes in float64 (integer inputs as they are)."""
        args = []
        for v in node.inputs:
            if v is None:
                args.append(None)
            elif v.dtype.is_float:
                args.append(self.magnitude(v))
            else:
                args.append(self.value(v))
        attrs = dict(node.attrs)
        if node.op == "gemm":  # |alpha|·|A||B| + |beta|·|C|; an infinite one leaves M infinite
            attrs.update(alpha=abs(attrs["alpha"]), beta=abs(attrs["beta"]))
        elif node.op == "pad" and "value" in attrs:  # the pad value as the reference stores it
            with np.errstate(over="ignore"):
                stored = np.asarray(attrs["value"], node.outputs[0].dtype.numpy)
            attrs["value"] = float(_finite_abs(stored))
        with np.errstate(all="ignore"):
            results = get_op(node.op).compute(args, attrs)
        return [np.asarray(r, np.float64) for r in results]

    def _propagated(self, node: Node, args: Sequence[np.ndarray | None],
                    result: np.ndarray) -> np.ndarray | None:
        """|f(x)| + Σⱼ |∂f/∂xⱼ|·Mⱼ for an elementwise op, slopes by difference quotients."""
        if not node.outputs[0].dtype.is_float:
            return None
        op = get_op(node.op)
        wide = [None if a is None else (a.astype(np.float64) if a.dtype.kind == "f" else a)
                for a in args]
        total = _finite_abs(result)
        with np.errstate(all="ignore"):
            for j, v in enumerate(node.inputs):
                if v is None or not v.dtype.is_float:
                    continue
                x, m = wide[j], self.magnitude(v)
                step = 2.0 ** -20 * np.maximum(np.maximum(np.abs(x), m), np.finfo(np.float64).tiny)
                step = np.where(np.isfinite(step), step, 0.0)
                centre = np.asarray(op.compute(wide, node.attrs)[0], np.float64)
                slope = np.zeros(np.broadcast_shapes(centre.shape, x.shape))
                for sign in (1.0, -1.0):
                    moved = list(wide)
                    moved[j] = x + sign * step
                    there = np.asarray(op.compute(moved, node.attrs)[0], np.float64)
                    quotient = np.abs(there - centre) / step
                    slope = np.fmax(slope, np.where(np.isfinite(quotient), quotient, 0.0))
                total = total + slope * m
        return total


def _finite_abs(array: np.ndarray) -> np.ndarray:
    """|array| in float64, with inf and NaN (which propagate alike in any order) as 0."""
    wide = np.abs(np.asarray(array, np.float64))
    return np.where(np.isfinite(wide), wide, 0.0)
