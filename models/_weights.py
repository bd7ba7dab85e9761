"""Seeded random parameters for the untrained architectures (MLPerf Tiny shapes, tiny transformer).

Weights are He-normal so activations keep their scale through ReLU stacks; BatchNormalization
gets random but plausible statistics (mean N(0, 0.1), var U(0.5, 1.5), gamma N(1, 0.1),
beta N(0, 0.1)) so that folding BN into the convolution is real arithmetic, not a no-op.
Everything draws from one seeded `numpy.random.Generator` and uses no transcendental functions
after the draw, so a rebuild gives byte-identical .onnx files on any platform with the same numpy
(numpy does not promise Generator streams across releases; the zoo test would then say so).
"""

from __future__ import annotations

import math

import numpy as np

from models._nn import GraphMaker, T


class RandomLayers:
    """Layer helpers that draw their own parameters from a seeded generator."""

    def __init__(self, g: GraphMaker, seed: int) -> None:
        self.g = g
        self.rng = np.random.default_rng(seed)

    def he(self, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return (self.rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)

    def small(self, shape: tuple[int, ...], std: float = 0.05) -> np.ndarray:
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    def bn(self, x: T, scope: str) -> T:
        c = x.shape[1]
        g = self.g
        scale = g.param(f"{scope}.weight", 1.0 + self.small((c,), 0.1))
        bias = g.param(f"{scope}.bias", self.small((c,), 0.1))
        mean = g.param(f"{scope}.running_mean", self.small((c,), 0.1))
        var = g.param(f"{scope}.running_var", self.rng.uniform(0.5, 1.5, (c,)).astype(np.float32))
        return g.batch_norm(x, scale, bias, mean, var, scope)

    def conv(self, x: T, cout: int, k: tuple[int, int], scope: str, *, strides=(1, 1),
             pads=(0, 0, 0, 0), group: int = 1, bias: bool = True, auto_pad: str | None = None) -> T:
        cin_g = x.shape[1] // group
        w = self.g.param(f"{scope}.weight", self.he((cout, cin_g) + k, cin_g * k[0] * k[1]))
        b = self.g.param(f"{scope}.bias", self.small((cout,))) if bias else None
        return self.g.conv(x, w, b, scope, strides=strides, pads=pads, group=group, auto_pad=auto_pad)

    def dense(self, x: T, n: int, scope: str) -> T:
        """A Gemm layer (weight [N, K], transB=1) with a small random bias."""
        k = x.shape[1]
        w = self.g.param(f"{scope}.weight", self.he((n, k), k))
        b = self.g.param(f"{scope}.bias", self.small((n,)))
        return self.g.gemm(x, w, b, scope)
