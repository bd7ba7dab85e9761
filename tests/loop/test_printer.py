"""Snapshot tests of the printed loop IR (the form students read)."""

from __future__ import annotations

import numpy as np

from mlc.backends.loop import lower_node, print_kernel
from mlc.ir import GraphBuilder

from tests.loop.helpers import fuse


def test_fused_bias_relu():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3))
    bias = b.const(np.arange(3, dtype=np.float32), name="bias")
    b.outputs(b.relu(b.add(x, bias), name="r", output_names=["y"]))
    node = fuse(b.graph).nodes[0]
    assert print_kernel(lower_node(node)) == """\
kernel fused_y(x: f32[2,3] input, bias: f32[3] const, y: f32[2,3] output)
  for i0 in 0..2:
    for i1 in 0..3:
      y[i0 * 3 + i1] = max(x[i0 * 3 + i1] + bias[i1], 0.0)
"""


def test_softmax():
    b = GraphBuilder("g")
    x = b.input("x", (2, 4))
    b.outputs(b.softmax(x, axis=1, output_names=["y"]))
    assert print_kernel(lower_node(b.graph.nodes[0])) == """\
kernel softmax_y(x: f32[2,4] input, y: f32[2,4] output)
  for i0 in 0..2:
    let max0: f32 = -inf
    for r0 in 0..4:
      max0 = max(max0, x[i0 * 4 + r0])
    let shift0: f32 = select(max0 - max0 == 0.0, max0, 0.0)
    let sum0: f32 = 0.0
    for r1 in 0..4:
      sum0 = sum0 + exp(x[i0 * 4 + r1] - shift0)
    for r2 in 0..4:
      y[i0 * 4 + r2] = exp(x[i0 * 4 + r2] - shift0) / sum0
"""


def test_awkward_names_are_quoted():
    b = GraphBuilder("g")
    x = b.input("in put\n*/", (2,))
    b.outputs(b.neg(x, output_names=["0"]))
    text = print_kernel(lower_node(b.graph.nodes[0]))
    assert text == ('kernel neg_0("in put\\n*/": f32[2] input, "0": f32[2] output)\n'
                    '  for i0 in 0..2:\n'
                    '    "0"[i0] = -"in put\\n*/"[i0]\n')
