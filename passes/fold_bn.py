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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlc.ir import Graph
from mlc.ir.graph import Node, Value
from mlc.ir.types import TensorType

from .base import Pass, register_pass
from .dce import drop_if_dead, replace_node


def _f64(value: Value | None) -> np.ndarray | None:
    return None if value is None or value.const is None else np.asarray(value.const, np.float64)


def bn_scale_shift(bn: Node) -> tuple[np.ndarray, np.ndarray] | None:
    """(s, t) with batch_norm(y) = y·s + t per channel, or None if a statistic is not constant."""
    _, gamma, beta, mean, var = (_f64(v) for v in bn.inputs)
    if any(a is None for a in (gamma, beta, mean, var)):
        return None
    s = gamma / np.sqrt(var + bn.attrs["epsilon"])
    return s, beta - mean * s


def _sole_reader(value: Value, reader: Node) -> bool:
    return not value.is_graph_output and all(use.node is reader for use in value.uses)


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


def _fold_matmul(graph: Graph, matmul: Node, tail: Node, s: np.ndarray,
                 t: np.ndarray) -> Value | None:
    a, b = matmul.inputs
    b64 = _f64(b)
    if b64 is None or b64.ndim != 2 or matmul.output.type.rank != 2:
        return None  # channel axis 1 is the columns of B only for a rank-2 product
    dtype = b.dtype.numpy
    _set_constant(graph, matmul, 1, (b64 * s.reshape(1, -1)).astype(dtype), b)
    shift = graph.add_constant(t.astype(dtype), name=f"{matmul.output.name}.bias")
    return graph.add_node("add", [matmul.output, shift], index=graph.node_index(tail)).output


def _set_constant(graph: Graph, node: Node, index: int, array: np.ndarray, old: Value | None,
                  name: str | None = None) -> None:
    """Make ``node``'s input ``index`` a constant holding ``array`` (see :func:`_constant`)."""
    new = _constant(graph, array, old, node, name)
    if new is not old:
        node.set_input(index, new)
        if old is not None:
            drop_if_dead(graph, old)
            _adopt_name(graph, new, old.name)


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


def _adopt_name(graph: Graph, value: Value, name: str) -> None:
    if graph.unique_name(name) == name:
        graph.rename(value, name)


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


def fold_into_producer(graph: Graph, y: Value, head: Node, tail: Node, s: np.ndarray,
                       t: np.ndarray) -> bool:
    """Fold ``y``·s + t (computed by ``head`` … ``tail``) into the conv/gemm/matmul of ``y``."""
    producer = y.producer
    if producer is None or producer.graph is not graph or not _sole_reader(y, head):
        return False
    if not y.dtype.is_float:
        return False  # integer weights cannot absorb a real-valued scale
    if producer.op in ("conv2d", "conv2d_transpose") and _fold_conv(graph, producer, s, t):
        return _replace(graph, tail, y)
    if producer.op == "gemm" and _fold_gemm(graph, producer, s, t):
        return _replace(graph, tail, y)
    if producer.op == "matmul":
        added = _fold_matmul(graph, producer, tail, s, t)
        if added is not None:
            return _replace(graph, tail, added, fresh=True)
    return False


def fold_batch_norm(graph: Graph, bn: Node, fallback: bool, affine: bool) -> bool:
    stats = bn_scale_shift(bn)
    if stats is None:
        return False
    s, t = stats
    chain, s, t = absorb_affine(bn.output, s, t) if affine else ([], s, t)
    tail = chain[-1] if chain else bn
    y = bn.inputs[0]
    if fold_into_producer(graph, y, bn, tail, s, t):
        return True
    if not fallback:
        return False
    dtype = y.dtype.numpy
    shape = (-1,) + (1,) * (y.type.rank - 2)
    gamma, beta = bn.inputs[1:3]
    scale = _constant(graph, s.reshape(shape).astype(dtype), gamma, bn)
    shift = _constant(graph, t.reshape(shape).astype(dtype), beta, bn)
    index = graph.node_index(tail)
    scaled = graph.add_node("mul", [y, scale], index=index).output
    shifted = graph.add_node("add", [scaled, shift], index=index + 1).output
    _replace(graph, tail, shifted, fresh=True)
    _adopt_name(graph, scale, gamma.name)  # once the statistics are gone, the names are free
    _adopt_name(graph, shift, beta.name)
    return True


def fold_conv_affine(graph: Graph, conv: Node) -> bool:
    """conv → mul/add by per-channel constants: fold the constants into the conv's weights."""
    y = conv.output
    channels = y.shape[1]
    if not isinstance(channels, int) or not y.dtype.is_float:
        return False
    chain, s, t = absorb_affine(y, np.ones(channels), np.zeros(channels))
    return bool(chain) and fold_into_producer(graph, y, chain[0], chain[-1], s, t)


def _replace(graph: Graph, tail: Node, value: Value, fresh: bool = False) -> bool:
    """Replace the chain ending at ``tail`` by ``value``; the rest of the chain (and the batch
    norm's statistics) then has no reader and goes."""
    inputs = tail.inputs
    ok = replace_node(graph, tail, [value], adopt_names=fresh)
    assert ok, "a node output that is no graph output can always take the chain's place"
    for v in inputs:
        drop_if_dead(graph, v)
    return True


@register_pass("fold-bn")
@dataclass
class FoldBatchNorm(Pass):
    """Fold batch_norm into conv/conv-transpose/gemm/matmul weights; others become mul + add."""

    fallback: bool = True  # turn a batch_norm that cannot fold into mul + add by constants
    affine: bool = True  # also fold mul/add/sub/div by per-channel constants after a bn or conv
    recurse: bool = True  # also inside the bodies of fused nodes

    def run(self, graph: Graph) -> bool:
        return fold_all(graph, self.fallback, self.affine, self.recurse)


def fold_all(graph: Graph, fallback: bool, affine: bool, recurse: bool) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.graph is not graph:
            continue  # removed as part of an earlier chain
        if recurse and node.body is not None:
            changed |= fold_all(node.body, fallback, affine, recurse)
        elif node.op == "batch_norm":
            changed |= fold_batch_norm(graph, node, fallback, affine)
        elif affine and node.op in ("conv2d", "conv2d_transpose"):
            changed |= fold_conv_affine(graph, node)
    return changed
