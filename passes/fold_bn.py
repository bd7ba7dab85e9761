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

from mlc.ir import Graph, GraphBuilder, Node, Value, remove_if_dead
from mlc.ir.types import TensorType

from .base import register_pass
from .rewrite import Match, PatternBuilder, RewritePass, Rule, RuleSet


def _f64(value: Value | None) -> np.ndarray | None:
    return None if value is None or value.const is None else np.asarray(value.const, np.float64)


def _fold_conv(graph: Graph, conv: Node, s: np.ndarray, t: np.ndarray) -> bool:
    x, w, b = (list(conv.inputs) + [None])[:3]
    w64, b64 = _f64(w), _f64(b)
    if w64 is None or (b is not None and b64 is None):
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
    _set_constant(graph, conv, 1, w_new.astype(dtype), w)
    if b is not None or np.any(t != 0):
        conv.inputs = [x, conv.inputs[1], b]
        _set_constant(graph, conv, 2, b_new.astype(dtype), b, f"{conv.output.name}.bias")
    return True


def _fold_gemm(graph: Graph, gemm: Node, s: np.ndarray, t: np.ndarray) -> bool:
    a, b, c = (list(gemm.inputs) + [None])[:3]
    b64 = _f64(b)
    beta = gemm.attrs["beta"]
    c64 = None if c is None or beta == 0.0 else _f64(c)
    if b64 is None or (c is not None and beta != 0.0 and c64 is None):
        return False
    b_new = b64 * (s.reshape(-1, 1) if gemm.attrs["trans_b"] else s.reshape(1, -1))
    c_new = t if c64 is None else (beta * c64) * s + t  # broadcasts C against [N]
    dtype = b.dtype.numpy
    gemm.inputs = [a, b, c]
    gemm.attrs["beta"] = 1.0
    _set_constant(graph, gemm, 1, b_new.astype(dtype), b)
    _set_constant(graph, gemm, 2, c_new.astype(dtype), c, f"{gemm.output.name}.bias")
    return True


def _fold_matmul(graph: Graph, matmul: Node, s: np.ndarray, t: np.ndarray,
                 b: GraphBuilder) -> Value | None:
    a, w = matmul.inputs
    w64 = _f64(w)
    if w64 is None or w64.ndim != 2 or matmul.output.type.rank != 2:
        return None  # channel axis 1 is the columns of B only for a rank-2 product
    dtype = w.dtype.numpy
    _set_constant(graph, matmul, 1, (w64 * s.reshape(1, -1)).astype(dtype), w)
    shift = graph.add_constant(t.astype(dtype), name=f"{matmul.output.name}.bias")
    return b.add(matmul.output, shift, output_names=[None])


def _set_constant(graph: Graph, node: Node, index: int, array: np.ndarray, old: Value | None,
                  name: str | None = None) -> None:
    """Make ``node``'s input ``index`` a constant holding ``array`` (see :func:`_constant`)."""
    new = _constant(graph, array, old, node, name)
    if new is not old:
        node.set_input(index, new)
        if old is not None:  # a computed gemm C that beta=0 ignored: it goes, its name is free
            remove_if_dead(graph, old)
            if graph.unique_name(old.name) == old.name:
                graph.rename(new, old.name)


def _constant(graph: Graph, array: np.ndarray, old: Value | None, reader: Node,
              name: str | None = None) -> Value:
    """A constant holding ``array``: ``old`` itself, updated in place, when its one use is by
    ``reader`` (so it keeps its name and its place in the printed IR), else a new constant.

    One use, not one reader: after cse a batch_norm may read a single constant as both gamma and
    beta. Only the value's array is rebound, never written, so graph copies sharing it are safe.
    """
    if old is not None and old.graph is graph and old.is_const and not old.is_graph_output \
            and len(old.uses) == 1 and old.uses[0].node is reader:
        frozen = np.asarray(array, order="C").view()
        frozen.flags.writeable = False
        old.const = frozen
        old.type = TensorType.of(frozen)
        return old
    return graph.add_constant(array, name=(old.name + ".bn") if old is not None else name)


def per_channel(array: np.ndarray, like: Value) -> np.ndarray | None:
    """``array`` as one float64 value per channel (axis 1) of ``like``, or None if it varies along
    another axis (or does not broadcast that way)."""
    rank, channels = like.type.rank, like.shape[1]
    if array.ndim > rank or not isinstance(channels, int):
        return None
    shape = (1,) * (rank - array.ndim) + array.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(np.asarray(array, np.float64).reshape(-1), (channels,))


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


def fold_into_producer(graph: Graph, y: Value, head: Node, s: np.ndarray, t: np.ndarray,
                       b: GraphBuilder) -> Value | None:
    """Fold ``y``·s + t (computed from ``head`` on) into the conv/gemm/matmul of ``y``; the value
    that now computes it, or None (and nothing changed) when the producer cannot take it."""
    producer = y.producer
    if producer is None or producer.graph is not graph or y.is_graph_output \
            or any(use.node is not head for use in y.uses):
        return None
    if not y.dtype.is_float:
        return None  # integer weights cannot absorb a real-valued scale
    if producer.op in ("conv2d", "conv2d_transpose") and _fold_conv(graph, producer, s, t):
        return y
    if producer.op == "gemm" and _fold_gemm(graph, producer, s, t):
        return y
    return _fold_matmul(graph, producer, s, t, b) if producer.op == "matmul" else None


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
        folded = fold_into_producer(b.graph, y, bn, s, t, b)
        if folded is not None or not self.fallback:
            return folded
        # gamma and beta are rewritten in place when the batch_norm was their last reader; new
        # constants take their names once the statistics are gone. The nodes are numbered.
        dtype, shape = y.dtype.numpy, (-1,) + (1,) * (y.type.rank - 2)
        old_scale, old_shift = match["gamma"], match["beta"]
        scale = _constant(b.graph, s.reshape(shape).astype(dtype), old_scale, bn)
        shift = _constant(b.graph, t.reshape(shape).astype(dtype), old_shift, bn)
        b.adopt(scale, old_scale.name)
        b.adopt(shift, old_shift.name)
        return b.add(b.mul(y, scale, output_names=[None]), shift, output_names=[None])


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
        return fold_into_producer(b.graph, y, chain[0], s, t, b) if chain else None


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
