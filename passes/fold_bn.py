"""fold-bn: fold inference batch_norm into the weights of the conv/matmul/gemm that feeds it.

batch_norm(y) = (y − mean)·s + beta with s = gamma / sqrt(var + eps), per channel (axis 1).
When y is an affine function of constant weights, s scales the weights along their output-channel
axis and the shift becomes the bias (β_g is gemm's own beta attribute):

  conv2d            w [Cout, Cin/g, kh, kw]   w' = w·s[o]             b' = (b − mean)·s + beta
  conv2d_transpose  w [Cin, Cout/g, kh, kw]   w' = w·s[g·Cout/g + j]  (same bias)
  gemm (rank 2)     B' [K, N]                 columns of B' scaled    C' = (β_g·C − mean)·s + beta
  matmul (rank 2)   B [K, N]                  columns scaled          + add of (beta − mean·s)

It fires only when the weights (and bias) are constants and the producer's output has no other
reader. Any other batch_norm becomes mul + add by per-channel constants shaped to broadcast on
axis 1 (``fallback``), so no batch_norm survives -O2.

With ``affine`` (the default) the per-channel map also absorbs the mul/add/sub/div by per-channel
constants that follow it (Caffe-style Scale layers after BatchNorm, as in Inception-v2 and
DenseNet), and a conv followed directly by such constants folds them too (onnxruntime's
ConvMulFusion/ConvAddFusion). Arithmetic is float64, cast back once, so results stay within
float32 rounding of the original.

Two rules of the pattern rewriter, producers first: one rooted at each batch_norm with constant
statistics, one at each conv. Each extends its match over the run of per-channel constants after
the root (``match.extend``), which no fixed pattern can spell, and replaces the run's last node.
"""

from __future__ import annotations

import numpy as np

from mlc.ir import GraphBuilder, Node, Value, remove_if_dead
from mlc.ir.types import TensorType

from .base import register_pass
from .rewrite import Match, PatternBuilder, RewritePass, Rule, RuleSet, per_channel


def _f64(value: Value | None) -> np.ndarray | None:
    return None if value is None or value.const is None else np.asarray(value.const, np.float64)


def _fold_conv(b: GraphBuilder, conv: Node, s: np.ndarray, t: np.ndarray) -> bool:
    x, w, bias = (list(conv.inputs) + [None])[:3]
    w64, b64 = _f64(w), _f64(bias)
    if w64 is None or (bias is not None and b64 is None):
        return False
    if conv.op == "conv2d":
        w_new = w64 * s.reshape(-1, 1, 1, 1)
    else:  # conv2d_transpose: output channel g·(Cout/g) + j lives at w[g-th block of Cin, j]
        group = conv.attrs["group"]
        cin, cout_g = w64.shape[:2]
        w_new = (w64.reshape(group, cin // group, cout_g, *w64.shape[2:])
                 * s.reshape(group, 1, cout_g, 1, 1)).reshape(w64.shape)
    b_new = (0.0 if b64 is None else b64) * s + t
    dtype = w.dtype.numpy
    _set_constant(b, conv, 1, w_new.astype(dtype), w)
    if bias is not None or np.any(t != 0):
        conv.inputs = [x, conv.inputs[1], bias]
        _set_constant(b, conv, 2, b_new.astype(dtype), bias, f"{conv.output.name}.bias")
    return True


def _fold_gemm(b: GraphBuilder, gemm: Node, s: np.ndarray, t: np.ndarray) -> bool:
    a, w, c = (list(gemm.inputs) + [None])[:3]
    w64 = _f64(w)
    beta = gemm.attrs["beta"]
    c64 = None if c is None or beta == 0.0 else _f64(c)
    if w64 is None or (c is not None and beta != 0.0 and c64 is None):
        return False
    w_new = w64 * (s.reshape(-1, 1) if gemm.attrs["trans_b"] else s.reshape(1, -1))
    c_new = t if c64 is None else (beta * c64) * s + t  # broadcasts C against [N]
    dtype = w.dtype.numpy
    gemm.inputs = [a, w, c]
    gemm.attrs["beta"] = 1.0
    _set_constant(b, gemm, 1, w_new.astype(dtype), w)
    _set_constant(b, gemm, 2, c_new.astype(dtype), c, f"{gemm.output.name}.bias")
    return True


def _fold_matmul(b: GraphBuilder, matmul: Node, s: np.ndarray, t: np.ndarray) -> Value | None:
    a, w = matmul.inputs
    w64 = _f64(w)
    if w64 is None or w64.ndim != 2 or matmul.output.type.rank != 2:
        return None  # channel axis 1 is the columns of B only for a rank-2 product
    dtype = w.dtype.numpy
    _set_constant(b, matmul, 1, (w64 * s.reshape(1, -1)).astype(dtype), w)
    shift = b.graph.add_constant(t.astype(dtype), name=f"{matmul.output.name}.bias")
    return b.add(matmul.output, shift, output_names=[None])


def _set_constant(b: GraphBuilder, node: Node, index: int, array: np.ndarray,
                  old: Value | None, name: str | None = None) -> None:
    """Make ``node``'s input ``index`` a constant holding ``array`` (see :func:`_constant`)."""
    new = _constant(b, array, old, node, name)
    if new is not old:
        node.set_input(index, new)
        if old is not None:  # a computed gemm C that beta=0 ignored goes, and frees its name
            remove_if_dead(b.graph, old)
            if b.graph.unique_name(old.name) == old.name:
                b.graph.rename(new, old.name)


def _constant(b: GraphBuilder, array: np.ndarray, old: Value | None, reader: Node,
              name: str | None = None) -> Value:
    """A constant holding ``array``: ``old`` itself, updated in place, when its one use is by
    ``reader`` (so it keeps its name and its place in the printed IR), else a new constant.

    One use, not one reader: after cse a batch_norm may read a single constant as both gamma and
    beta. Only the value's array is rebound, never written, so graph copies sharing it are safe.
    """
    if old is None:
        return b.graph.add_constant(array, name=name)
    if old.graph is b.graph and old.is_const and not old.is_graph_output \
            and len(old.uses) == 1 and old.uses[0].node is reader:
        frozen = np.asarray(array, order="C").view()
        frozen.flags.writeable = False
        old.const = frozen
        old.type = TensorType.of(frozen)
        return old
    return b.graph.add_constant(array, name=old.name + ".bn")


def _channel_constant(b: GraphBuilder, values: np.ndarray, old: Value, y: Value,
                      reader: Node) -> Value:
    """``values`` shaped to broadcast along axis 1 of ``y``, in ``old``'s place (see
    :func:`_constant`) and, once the rewrite frees it, under ``old``'s name."""
    shape = (-1,) + (1,) * (y.type.rank - 2)
    return b.adopt(_constant(b, values.reshape(shape).astype(y.dtype.numpy), old, reader),
                   old.name)


def absorb_affine(value: Value, s: np.ndarray,
                  t: np.ndarray) -> tuple[list[Node], np.ndarray, np.ndarray]:
    """Follow ``value`` through sole-reader mul/add/sub/div by per-channel constants.

    Returns the nodes absorbed and the combined (s, t) so that the last node's output equals
    (input of the chain)·s + t per channel.
    """
    chain: list[Node] = []
    while not value.is_graph_output and len(value.uses) == 1:
        use = value.uses[0]
        node = use.node
        if node.op not in ("mul", "add", "sub", "div") or node.output.type != value.type:
            break
        other = node.inputs[1 - use.index]
        if other is None or other.const is None or (node.op in ("sub", "div") and use.index != 0):
            break
        c = per_channel(other.const, value)
        if c is None or (node.op == "div" and not np.all(c != 0)):
            break
        if node.op == "mul":
            s, t = s * c, t * c
        elif node.op == "div":
            s, t = s / c, t / c
        else:
            t = t + c if node.op == "add" else t - c
        chain.append(node)
        value = node.output
    return chain, s, t


def fold_into_producer(b: GraphBuilder, y: Value, head: Node, s: np.ndarray,
                       t: np.ndarray) -> Value | None:
    """Fold ``y``·s + t (computed from ``head`` on) into the conv/gemm/matmul of ``y``; the value
    that now computes it, or None (and nothing changed) when the producer cannot take it."""
    producer = y.producer
    if producer is None or producer.graph is not b.graph or y.is_graph_output \
            or any(use.node is not head for use in y.uses):
        return None
    if not y.dtype.is_float:
        return None  # integer weights cannot absorb a real-valued scale
    if producer.op in ("conv2d", "conv2d_transpose") and _fold_conv(b, producer, s, t):
        return y
    if producer.op == "gemm" and _fold_gemm(b, producer, s, t):
        return y
    return _fold_matmul(b, producer, s, t) if producer.op == "matmul" else None


class BatchNormFold(Rule):
    """batch_norm with constant statistics (and the per-channel run after it) → its producer's
    weights, or mul + add by per-channel constants (``fallback``)."""

    def __init__(self, fallback: bool, affine: bool):
        self.fallback, self.affine = fallback, affine

    def pattern(self, p: PatternBuilder):
        return p.batch_norm(p.any("y"), p.const("gamma"), p.const("beta"), p.const("mean"),
                            p.const("var"))

    def rewrite(self, match: Match, b: GraphBuilder) -> Value | None:
        bn, y = match.root, match["y"]
        gamma, beta, mean, var = (np.asarray(v.const, np.float64) for v in bn.inputs[1:])
        s = gamma / np.sqrt(var + bn.attrs["epsilon"])
        t = beta - mean * s
        if self.affine:
            chain, s, t = absorb_affine(bn.output, s, t)
            match.extend(chain)
        folded = fold_into_producer(b, y, bn, s, t)
        if folded is not None or not self.fallback:
            return folded
        scale = _channel_constant(b, s, match["gamma"], y, bn)
        shift = _channel_constant(b, t, match["beta"], y, bn)
        return b.add(b.mul(y, scale, output_names=[None]), shift, output_names=[None])  # numbered


class ConvAffine(Rule):
    """conv → mul/add/sub/div by per-channel constants: the constants fold into the conv."""

    def pattern(self, p: PatternBuilder):
        args = (p.any(), p.any(), p.any(optional=True))
        return p.either(p.conv2d(*args), p.conv2d_transpose(*args))

    def check(self, match: Match) -> str | None:
        y = match.root.outputs[0]
        if not isinstance(y.shape[1], int) or not y.dtype.is_float:
            return f"{y.type} has no static float channels"
        return None

    def rewrite(self, match: Match, b: GraphBuilder) -> Value | None:
        y = match.root.outputs[0]
        chain, s, t = absorb_affine(y, np.ones(y.shape[1]), np.zeros(y.shape[1]))
        match.extend(chain)
        return fold_into_producer(b, y, chain[0], s, t) if chain else None


@register_pass("fold-bn")
class FoldBatchNorm(RewritePass):
    """Fold batch_norm into conv/conv-transpose/gemm/matmul weights; others become mul + add."""

    bodies = True
    producers_first = True
    fallback: bool = True  # turn a batch_norm that cannot fold into mul + add by constants
    affine: bool = True  # also fold mul/add/sub/div by per-channel constants after a bn or conv

    def rules(self) -> RuleSet:
        fold = BatchNormFold(self.fallback, self.affine)
        return RuleSet([fold, ConvAffine()] if self.affine else [fold])
