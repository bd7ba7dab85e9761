"""Per-op lowerings, defined once each and looked up by op name.

Two shapes of lowering, matching the two ways an op can sit in a fused loop nest:

- ``@compute("relu", …)``: ``fn(ctx, node, k, idx) -> Expr`` gives output ``k`` of ``node`` at
  the per-axis index ``idx`` as an expression of its inputs, read through ``ctx.arg``/``ctx.load``.
  Elementwise, broadcast and injective ops are all of this form, which is what lets a producer
  inline into its consumer's loads (TVM's compute_inline).
- ``@reduction("softmax", …)``: ``fn(ctx, node, store) -> Stmt`` emits the whole loop nest of an
  anchor (a reduction, pool, norm, conv or matrix product: any op that is not a function of one
  input element) and calls ``store(idx, value)`` for each finished output element; the group's
  elementwise epilogue is applied inside ``store``.
- ``@scheduled("conv2d", …)``: ``fn(ctx, node, store, schedules) -> Stmt | None``, the fast
  form of an anchor for targets with schedules (tiled, packed, vectorized, parallel); it returns
  None for the nodes it does not handle, which then take the plain ``@reduction`` form.
"""

from __future__ import annotations

from typing import Callable

from mlc.registry import Registry

# An op lowers one way, as a compute or as an anchor (tests/loop/test_lower.py holds them apart).
COMPUTE: Registry[Callable] = Registry("compute lowering")
REDUCE: Registry[Callable] = Registry("reduction lowering")
SCHEDULED: Registry[Callable] = Registry("scheduled lowering")
compute, reduction, scheduled = COMPUTE.register, REDUCE.register, SCHEDULED.register


def has_lowering(op: str) -> bool:
    return op in COMPUTE or op in REDUCE


def lowered_ops() -> list[str]:
    return sorted(set(COMPUTE) | set(REDUCE))


from . import elementwise, gemm, nn, norm, quant, reduce, resize, shape  # noqa: E402,F401

__all__ = ["COMPUTE", "REDUCE", "SCHEDULED", "compute", "elementwise", "gemm", "has_lowering",
           "lowered_ops", "nn", "norm", "quant", "reduce", "reduction", "resize", "scheduled", "shape"]
