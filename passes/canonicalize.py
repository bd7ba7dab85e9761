"""canonicalize: bring equivalent forms of the same computation to one, so later passes match once.

Built from rewrite rules (passes/rewrite.py), each a pattern, a check and a rewrite:

- ``gemm`` → ``add(matmul(x, W), b)``: trans_a/trans_b and alpha fold into constant weights at
  compile time (a transpose node only where the operand is computed), beta·C becomes a constant
  bias [N] (a mul where C is computed), no add when C is absent. The canonical dense layer is
  ``add(matmul(x, W), b)`` with constant W [K, N] and b [N].
- ``add(conv2d(x, w), c)`` with c constant per channel → ``conv2d(x, w, bias)``; the same for
  conv2d_transpose, and c adds to an existing constant bias.
- GELU written out with erf (PyTorch's ``x·(1+erf(x/√2))·0.5`` and the other orders exporters
  use) → ``gelu``; with tanh (``0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³)))``) → ``gelu{approximate=
  "tanh"}``. Constants match within 1e-4 relative.
- ``x·sigmoid(x)`` → ``silu``; ``x·hard_sigmoid(x){alpha=1/6, beta=0.5}`` and MobileNetV3's
  ``x·clip(x+3, 0, 6)/6`` → ``hard_swish``.
- LayerNorm written out (reduce_mean, sub, pow 2 or d·d, reduce_mean, add eps, sqrt, div or
  ·reciprocal, optionally ·scale + bias) → ``layer_norm{axis=-k, epsilon=eps}``.

x·1, x+0 and other trivia belong to ``simplify``.
"""

from __future__ import annotations

import math

import numpy as np

from mlc.ir import GraphBuilder, Value

from .base import register_pass
from .rewrite import Match, PatternBuilder, RewritePass, Rule, RuleSet, per_channel

CONST_RTOL = 1e-4  # how close a written-out constant (√2, 0.044715, 1/6) must be to the true one


def _is_float(value: Value) -> bool:
    return value.dtype.is_float


def _as(array: np.ndarray, like: Value) -> np.ndarray:
    # C order here, so the graph's constant needs no second copy (a transposed 400 MB weight).
    return np.asarray(array).astype(like.dtype.numpy, order="C")


def _scaled(array: np.ndarray, factor: float) -> np.ndarray | None:
    """factor·array in array's dtype, or None where that overflows or flushes a value to zero (the
    unscaled form might not: folding must not invent an inf or lose a weight)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        result = (np.asarray(array, np.float64) * factor).astype(array.dtype)
    if not np.array_equal(np.isfinite(result), np.isfinite(array)) or \
            np.any((result == 0) & (array != 0)):
        return None
    return result


# -- gemm ------------------------------------------------------------------------------------------

class GemmToMatmulAdd(Rule):
    """gemm(A, B, C){alpha, beta, trans_a, trans_b} → add(matmul(A', B'), beta·C)."""

    def pattern(self, p: PatternBuilder):
        return p.gemm(p.any("a"), p.any("b"), p.any("c", optional=True))

    def check(self, match: Match) -> str | None:
        attrs = match.root.attrs
        if not _is_float(match["a"]) and (attrs["alpha"] != 1.0 or attrs["beta"] not in (0.0, 1.0)):
            return "alpha/beta scaling of an integer gemm has no exact matmul form"
        return None

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        attrs = match.root.attrs
        alpha, beta = attrs["alpha"], attrs["beta"]
        a, w = match["a"], match["b"]
        if attrs["trans_a"]:
            a = self.transposed(a, b)
        if attrs["trans_b"]:
            w = self.transposed(w, b)
        # fold alpha into a constant operand, the weights first
        if alpha != 1.0 and w.is_const and (scaled := _scaled(w.const, alpha)) is not None:
            w, alpha = b.const(scaled, w.name), 1.0
        elif alpha != 1.0 and a.is_const and (scaled := _scaled(a.const, alpha)) is not None:
            a, alpha = b.const(scaled, a.name), 1.0
        y = b.matmul(a, w)
        if alpha != 1.0:
            y = b.mul(y, b.const(_as(np.asarray(alpha), y), f"{match.root.outputs[0].name}.alpha"))
        c = match.get("c")
        if c is None or beta == 0.0:
            return y
        if c.is_const and (beta == 1.0 or _scaled(c.const, beta) is not None):
            return b.add(y, self.bias(c, beta, y.shape[-1], b))
        if beta != 1.0:
            c = b.mul(c, b.const(_as(np.asarray(beta), c), f"{c.name}.beta"))
        return b.add(y, c)

    @staticmethod
    def transposed(v: Value, b: GraphBuilder) -> Value:
        """vᵀ: a new constant when v is one, else a transpose node."""
        if v.is_const:
            return b.const(_as(v.const.T, v), f"{v.name}.T")
        return b.transpose(v, perm=(1, 0))

    @staticmethod
    def bias(c: Value, beta: float, n: int, b: GraphBuilder) -> Value:
        """beta·C as a constant, shaped [N] when it is one row (or one number) broadcast."""
        array = _scaled(c.const, beta) if beta != 1.0 else c.const
        if array.size == 1:
            array = np.full(n, array.reshape(-1)[0])
        elif array.ndim > 1 and all(d == 1 for d in array.shape[:-1]):
            array = array.reshape(-1)
        if array is c.const:
            return c
        return b.const(_as(array, c), c.name)


# -- conv bias -------------------------------------------------------------------------------------

class ConvAddBias(Rule):
    """add(conv2d(x, w, b?), c) with c constant per channel → conv2d(x, w, b + c)."""

    def pattern(self, p: PatternBuilder):
        args = (p.any("x"), p.any("w"), p.any("bias", optional=True))
        conv = p.either(p.conv2d(*args, name="conv"), p.conv2d_transpose(*args, name="conv"))
        return p.add(conv, p.const("c"), commutative=True)

    def check(self, match: Match) -> str | None:
        bias = match.get("bias")
        if bias is not None and not bias.is_const:
            return f"the conv's bias %{bias.name} is computed, not a constant"
        channels = match["conv"].shape[1]
        if per_channel(match.const("c"), match["conv"]) is None:
            return (f"{match['c'].type} does not broadcast to [1, {channels}, 1, 1] along "
                    "channels only")
        return None

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        conv = match.node("conv")
        out = conv.outputs[0]
        total = per_channel(match.const("c"), out)
        bias = match.get("bias")
        if bias is not None:
            total = total + np.asarray(bias.const, np.float64)
        name = bias.name if bias is not None else f"{match.root.outputs[0].name}.bias"
        new_bias = b.const(_as(total, out), name)
        return b.op(conv.op, match["x"], match["w"], new_bias, **conv.attrs)


# -- GELU ----------------------------------------------------------------------------------------

def _half_times(p: PatternBuilder, x, gate):
    """0.5·x·gate in the three orders exporters write: (x·g)·½, (x·½)·g, x·(g·½)."""
    half = p.scalar(value=0.5, rtol=CONST_RTOL)
    return p.either(p.mul(p.mul(x, gate, commutative=True), half, commutative=True),
                    p.mul(p.mul(x, half, commutative=True), gate, commutative=True),
                    p.mul(x, p.mul(gate, half, commutative=True), commutative=True))


def _one_plus(p: PatternBuilder, t):
    return p.add(t, p.scalar(value=1.0, rtol=CONST_RTOL), commutative=True)


class GeluErf(Rule):
    """x·0.5·(1 + erf(x/√2)), in any of the usual orders → gelu."""

    def pattern(self, p: PatternBuilder):
        x = p.any("x")
        scaled = p.either(p.div(x, p.scalar(value=math.sqrt(2.0), rtol=CONST_RTOL)),
                          p.mul(x, p.scalar(value=math.sqrt(0.5), rtol=CONST_RTOL),
                                commutative=True))
        return _half_times(p, x, _one_plus(p, p.erf(scaled)))

    def check(self, match: Match) -> str | None:
        return None if _is_float(match["x"]) else "x is not a float tensor"

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        return b.gelu(match["x"])


class GeluTanh(Rule):
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) → gelu{approximate="tanh"}."""

    def pattern(self, p: PatternBuilder):
        x = p.any("x")
        cube = p.either(p.pow(x, p.scalar(value=3.0)),
                        p.mul(x, p.mul(x, x), commutative=True))
        inner = p.add(x, p.mul(cube, p.scalar(value=0.044715, rtol=CONST_RTOL), commutative=True),
                      commutative=True)
        scaled = p.mul(inner, p.scalar(value=math.sqrt(2.0 / math.pi), rtol=CONST_RTOL),
                       commutative=True)
        return _half_times(p, x, _one_plus(p, p.tanh(scaled)))

    def check(self, match: Match) -> str | None:
        return None if _is_float(match["x"]) else "x is not a float tensor"

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        return b.gelu(match["x"], approximate="tanh")


# -- SiLU, HardSwish -------------------------------------------------------------------------------

class Silu(Rule):
    """x·sigmoid(x) → silu."""

    def pattern(self, p: PatternBuilder):
        x = p.any("x")
        return p.mul(x, p.sigmoid(x), commutative=True)

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        return b.silu(match["x"])


class HardSwishFromHardSigmoid(Rule):
    """x·hard_sigmoid(x){alpha=1/6, beta=0.5} → hard_swish."""

    def pattern(self, p: PatternBuilder):
        x = p.any("x")
        sixth = lambda alpha: math.isclose(alpha, 1.0 / 6.0, rel_tol=CONST_RTOL)  # noqa: E731
        return p.mul(x, p.hard_sigmoid(x, alpha=sixth, beta=0.5), commutative=True)

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        return b.hard_swish(match["x"])


class HardSwishFromRelu6(Rule):
    """x·clip(x + 3, 0, 6)/6 (MobileNetV3), with /6 or ·(1/6) anywhere → hard_swish."""

    def pattern(self, p: PatternBuilder):
        x = p.any("x")
        relu6 = p.clip(p.add(x, p.scalar(value=3.0), commutative=True), min=0.0, max=6.0)
        six = p.scalar(value=6.0, rtol=CONST_RTOL)
        sixth = p.scalar(value=1.0 / 6.0, rtol=CONST_RTOL)
        return p.either(p.div(p.mul(x, relu6, commutative=True), six),
                        p.mul(p.mul(x, relu6, commutative=True), sixth, commutative=True),
                        p.mul(x, p.div(relu6, six), commutative=True),
                        p.mul(x, p.mul(relu6, sixth, commutative=True), commutative=True))

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        return b.hard_swish(match["x"])


# -- LayerNorm -------------------------------------------------------------------------------------

class LayerNormWrittenOut(Rule):
    """(x − mean)/√(var + eps) [·scale] [+ bias] over the last k axes → layer_norm{axis=-k}."""

    def __init__(self, scale: bool, bias: bool):
        self.has_scale, self.has_bias = scale, bias
        self.name = "layer-norm" + ("-scale" if scale else "") + ("-bias" if bias else "")

    def pattern(self, p: PatternBuilder):
        x = p.any("x")
        d = p.sub(x, p.reduce_mean(x, keepdims=True, name="mean"))
        square = p.either(p.pow(d, p.scalar(value=2.0)), p.mul(d, d))
        shifted = p.add(p.reduce_mean(square, keepdims=True, name="var"), p.scalar("eps"),
                        commutative=True)
        y = p.either(p.div(d, p.sqrt(shifted)),
                     p.mul(d, p.reciprocal(p.sqrt(shifted)), commutative=True),
                     p.mul(d, p.pow(shifted, p.scalar(value=-0.5)), commutative=True))
        if self.has_scale:
            y = p.mul(y, p.any("scale"), commutative=True)
        if self.has_bias:
            y = p.add(y, p.any("bias"), commutative=True)
        return y

    @staticmethod
    def reduced(match: Match, name: str) -> list[int]:
        rank = match["x"].type.rank
        return sorted({a % rank for a in match.node(name).attrs["axes"]} or range(rank))

    def check(self, match: Match) -> str | None:
        x = match["x"]
        if not _is_float(x):
            return "x is not a float tensor"
        rank = x.type.rank
        axes = [self.reduced(match, "mean"), self.reduced(match, "var")]
        if axes[0] != axes[1]:
            return f"mean and variance reduce different axes ({axes[0]} and {axes[1]})"
        k = len(axes[0])
        if axes[0] != list(range(rank - k, rank)):
            return f"the reduced axes {axes[0]} are not the last ones of {x.type}"
        if match.scalar("eps") < 0:
            return f"epsilon {match.scalar('eps'):g} is negative"
        normalized = tuple(x.shape[rank - k:])
        for role in ("scale", "bias"):
            t = match.get(role)
            if t is None:
                continue
            if t.dtype != x.dtype or len(t.shape) > k or \
                    np.broadcast_shapes(t.shape, normalized) != normalized:
                return (f"{role} {t.type} does not broadcast to the normalised shape "
                        f"{list(normalized)}")
        return None

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        x = match["x"]
        rank = x.type.rank
        k = len(self.reduced(match, "mean"))
        scale = match.get("scale")
        if scale is None:
            scale = b.const(np.ones(x.shape[rank - k:], x.dtype.numpy),
                            f"{match.root.outputs[0].name}.scale")
        # epsilon as the shortest decimal of the constant's own dtype: 1e-05, not 9.99999974e-06
        epsilon = float(str(np.asarray(match.const("eps")).reshape(-1)[0]))
        return b.layer_norm(x, scale, match.get("bias"), axis=-k, epsilon=epsilon)


# -- the pass ------------------------------------------------------------------------------------

RULES = RuleSet([
    GemmToMatmulAdd(),
    ConvAddBias(),
    GeluErf(),
    GeluTanh(),
    Silu(),
    HardSwishFromHardSigmoid(),
    HardSwishFromRelu6(),
    # the largest LayerNorm form first: on one node, the first rule that applies wins
    LayerNormWrittenOut(scale=True, bias=True),
    LayerNormWrittenOut(scale=True, bias=False),
    LayerNormWrittenOut(scale=False, bias=True),
    LayerNormWrittenOut(scale=False, bias=False),
])


@register_pass("canonicalize")
class Canonicalize(RewritePass):
    """One form per computation: gemm → matmul+add, conv+add → bias; GELU, SiLU, HardSwish, LayerNorm.

    The rules and the forms each recognises are listed in the module docstring.
    """

    def rules(self) -> RuleSet:
        return RULES
