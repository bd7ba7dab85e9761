"""Elementwise and broadcasting ops: activations, arithmetic, comparisons, casts."""

from __future__ import annotations

import numpy as np

from .common import broadcast_types, same_as_input
from .registry import FusionKind, register


@register("relu", inputs=["x"], fusion=FusionKind.ELEMWISE, infer=same_as_input, onnx=["Relu"])
def relu(x):
    """max(x, 0)."""
    return np.maximum(x, np.zeros((), x.dtype))


def _binary(a, b, **attrs):
    return broadcast_types(a, b, op="binary op")


@register("add", inputs=["a", "b"], fusion=FusionKind.BROADCAST, infer=_binary, onnx=["Add", "Sum"])
def add(a, b):
    """a + b with numpy broadcasting."""
    return np.add(a, b)
