"""Scheduled lowerings of the matrix-product anchors: conv2d and matmul (``@scheduled``).

These are where nearly all of a CNN's time goes, so they are emitted as tiled, packed, vectorized
and parallel loop nests driven by ``schedules.gemm`` (mr, nr, conv, depthwise, parallel):

- conv2d: depthwise convs take a direct vectorized nest (``gemm_depthwise``); every other
  float32 conv with constant weights becomes a matrix product per image and group with the
  weights packed at compile time and the input im2col-packed (or read in place for pointwise
  convs) at run time (``gemm_conv``);
- matmul with a constant right operand: B packed into column panels (``gemm_matmul``).

The register-blocked micro-kernel they share is ``gemm_tile.tile``. Anything else (non-float32,
weights computed at run time, a matmul of two activations) returns None and takes the plain
lowering. ``kc`` (blocking K for the cache) is not used: each tile accumulates over all of K,
and a B panel of K × nr floats stays in L2 for the K of the models we run.
"""

from __future__ import annotations

from mlc.ir.dtypes import DType

from ..ir import Stmt
from . import scheduled
from .gemm_conv import ConvShape, lower_conv_gemm
from .gemm_depthwise import lower_depthwise
from .gemm_matmul import lower_matmul_const
from .gemm_tile import constant_of

__all__ = ["lower_conv2d", "lower_matmul"]


@scheduled("conv2d")
def lower_conv2d(ctx, node, store, schedules) -> Stmt | None:
    x, w = node.inputs[0], node.inputs[1]
    if x.dtype != DType.float32 or constant_of(ctx, w) is None or \
            node.outputs[0].dtype != DType.float32:
        return None
    shape = ConvShape.of(node)
    if 0 in node.outputs[0].shape or 0 in x.shape:
        return None
    if shape.cg == 1 and shape.groups == shape.c == shape.co and shape.groups > 1 and \
            schedules.gemm.depthwise:
        return lower_depthwise(ctx, node, store, schedules, shape)
    if not shape.pointwise and _im2col_bytes(shape, schedules) > schedules.gemm.im2col_kib * 1024:
        return None  # over the scratch budget: the plain loop nest, which needs none
    return lower_conv_gemm(ctx, node, store, schedules)


def _im2col_bytes(shape: ConvShape, schedules) -> int:
    """The im2col matrix's size: K × N (N rounded up to the tile's columns) floats per group."""
    nr = -(-schedules.gemm.nr // schedules.lanes(4)) * schedules.lanes(4)
    return shape.groups * shape.k * -(-shape.n // nr) * nr * 4


@scheduled("matmul")
def lower_matmul(ctx, node, store, schedules) -> Stmt | None:
    if any(v.dtype != DType.float32 for v in (*node.inputs, *node.outputs)):
        return None
    return lower_matmul_const(ctx, node, store, schedules)
