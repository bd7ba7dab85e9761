"""Per-op TE computes for the TVM backend, defined once each and looked up by op name.

``@te_op("relu")`` registers ``fn(node, args) -> te.Tensor | tuple[te.Tensor, ...]``: the op's
outputs as TE computes of ``args`` (one ``te.Tensor`` per node input, None for an omitted optional
one), with the node's attributes read from ``node.attrs``. A fused group chains these computes in
one TE function, so its elementwise producers and epilogues become blocks of one PrimFunc that the
schedule inlines — the same contract as the loop IR's ``@compute``/``@reduction`` lowerings.
Results must follow the registry's numpy kernels exactly (dtype rules included): the tests hold
every op to the reference interpreter.
"""

from __future__ import annotations

from typing import Callable

from mlc.registry import Registry

TE_OPS: Registry[Callable] = Registry("TE compute")
te_op = TE_OPS.register


def has_te_op(op: str) -> bool:
    return op in TE_OPS


def te_ops() -> list[str]:
    return sorted(TE_OPS)


from . import elementwise, nn, quant, reduce, resize, shape  # noqa: E402,F401

__all__ = ["TE_OPS", "has_te_op", "te_op", "te_ops"]
