"""A two-layer pre-LN transformer encoder classifier, written as PyTorch's ONNX exporter writes it.

What makes it a useful test, rather than its (random) weights: token Gather from an embedding
table, the Shape → Gather → Unsqueeze → Concat → Reshape chains exporters emit around the
attention head split and merge (the frontend must fold them), MatMul/Transpose/Softmax attention
with Div by sqrt(d), LayerNormalization, GELU spelled out with Erf, and ReduceMean pooling.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from models._nn import GraphMaker, T
from models._weights import RandomLayers

VOCAB, SEQ, HIDDEN, HEADS, FFN, LAYERS, CLASSES = 1000, 64, 128, 2, 512, 2, 2
HEAD_DIM = HIDDEN // HEADS


class _Encoder:
    def __init__(self, g: GraphMaker, r: RandomLayers) -> None:
        self.g, self.r = g, r

    def dense(self, x: T, n: int, scope: str) -> T:
        """nn.Linear on [1, SEQ, K]: MatMul by the transposed weight [K, N], then Add the bias."""
        k = x.shape[-1]
        w = self.g.param(f"{scope}.weight", self.r.rng.standard_normal((k, n)).astype(np.float32)
                         / np.float32(math.sqrt(k)))
        b = self.g.param(f"{scope}.bias", self.r.small((n,)))
        return self.g.linear(x, w, b, scope)

    def layer_norm(self, x: T, scope: str) -> T:
        scale = self.g.param(f"{scope}.weight", 1.0 + self.r.small((HIDDEN,), 0.1))
        bias = self.g.param(f"{scope}.bias", self.r.small((HIDDEN,), 0.1))
        return self.g.layer_norm(x, scale, bias, scope)

    def shape_of(self, x: T, tail: list[int], scope: str) -> T:
        """[batch, seq] + tail, computed from x at run time as exporters do for dynamic axes."""
        g = self.g
        shape = g.node("Shape", [x], (len(x.shape),), scope, dtype=np.int64)
        dims = []
        for axis in (0, 1):
            d = g.node("Gather", [shape, g.const(axis, scope)], (), scope, dtype=np.int64, axis=0)
            dims.append(g.node("Unsqueeze", [d, g.const(np.array([0], np.int64), scope)], (1,), scope,
                               dtype=np.int64))
        tail_t = g.const(np.array(tail, np.int64), scope)
        return g.node("Concat", dims + [tail_t], (2 + len(tail),), scope, dtype=np.int64, axis=0)

    def attention(self, x: T, scope: str) -> T:
        g = self.g
        split = self.shape_of(x, [HEADS, HEAD_DIM], f"{scope}/split_shape")
        heads = (1, SEQ, HEADS, HEAD_DIM)
        q = g.reshape(self.dense(x, HIDDEN, f"{scope}.q_proj"), split, heads, f"{scope}/q")
        k = g.reshape(self.dense(x, HIDDEN, f"{scope}.k_proj"), split, heads, f"{scope}/k")
        v = g.reshape(self.dense(x, HIDDEN, f"{scope}.v_proj"), split, heads, f"{scope}/v")
        q = g.transpose(q, (0, 2, 1, 3), f"{scope}/q")
        kt = g.transpose(k, (0, 2, 3, 1), f"{scope}/k")
        v = g.transpose(v, (0, 2, 1, 3), f"{scope}/v")
        scores = g.matmul(q, kt, f"{scope}/scores")
        scores = g.binary("Div", scores, g.const(float(math.sqrt(HEAD_DIM)), scope), f"{scope}/scale")
        probs = g.softmax(scores, f"{scope}/softmax")
        ctx = g.transpose(g.matmul(probs, v, f"{scope}/context"), (0, 2, 1, 3), f"{scope}/merge")
        merge = self.shape_of(ctx, [HIDDEN], f"{scope}/merge_shape")
        ctx = g.reshape(ctx, merge, (1, SEQ, HIDDEN), f"{scope}/merge")
        return self.dense(ctx, HIDDEN, f"{scope}.out_proj")

    def gelu(self, x: T, scope: str) -> T:
        """x * 0.5 * (1 + erf(x / sqrt(2))), node for node as torch.onnx writes nn.GELU()."""
        g = self.g
        e = g.node("Erf", [g.binary("Div", x, g.const(float(math.sqrt(2.0)), scope), scope)],
                   x.shape, scope)
        e = g.binary("Add", e, g.const(1.0, scope), scope)
        return g.binary("Mul", g.binary("Mul", x, e, scope), g.const(0.5, scope), scope)

    def layer(self, x: T, scope: str) -> T:
        x = self.g.add(x, self.attention(self.layer_norm(x, f"{scope}.ln1"), f"{scope}.attn"),
                       f"{scope}/residual1")
        h = self.dense(self.layer_norm(x, f"{scope}.ln2"), FFN, f"{scope}.fc1")
        h = self.dense(self.gelu(h, f"{scope}/gelu"), HIDDEN, f"{scope}.fc2")
        return self.g.add(x, h, f"{scope}/residual2")


def tiny_transformer(seed: int = 5) -> tuple[onnx.ModelProto, int]:
    """Token ids [1, 64] → 2 class logits."""
    g = GraphMaker("tiny_transformer")
    r = RandomLayers(g, seed)
    enc = _Encoder(g, r)
    tokens = g.input("tokens", (1, SEQ), np.int64)
    table = g.param("embed.weight", r.rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32))
    x = g.node("Gather", [table, tokens], (1, SEQ, HIDDEN), "embed", axis=0)
    pos = g.param("pos_embed", r.small((1, SEQ, HIDDEN), 0.5))
    x = g.add(x, pos, "pos")
    for i in range(LAYERS):
        x = enc.layer(x, f"layer{i}")
    x = enc.layer_norm(x, "final_ln")
    x = g.node("ReduceMean", [x], (1, HIDDEN), "pool", axes=[1], keepdims=0)
    y = g.rename_output(r.dense(x, CLASSES, "classifier"), "output")
    doc = "Two-layer pre-LN transformer encoder classifier, random weights, untrained."
    return g.model([y], doc), g.macs
