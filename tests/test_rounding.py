"""tests/rounding.py, the rounding allowance of the backend comparisons: scaled to the terms of a
sum (not its result), strict about infinities, free only where finite terms overflow."""

from __future__ import annotations

import numpy as np

from mlc.ir import GraphBuilder
from tests.rounding import rounding_bounds, within

U = 2.0 ** -24  # float32's unit roundoff


def test_a_cancelling_sum_is_allowed_the_rounding_of_its_terms():
    """5 + (-5 + 4e-4) = 4e-4: the terms have magnitude 10, so two orders may differ by a few
    ulps of 10 — far more than rtol on 4e-4 allows, far less than a wrong term."""
    b = GraphBuilder("g")
    x = b.input("x", (1, 2))
    b.outputs(b.matmul(x, b.const(np.ones((2, 1), np.float32), name="w")))
    feeds = {"x": np.array([[5.0, -5.0 + 4e-4]], np.float32)}
    (bound,) = rounding_bounds(b.graph, feeds).values()
    # n = 2 terms + 2 for scale and bias: the worst case 4u/(1 - 4u) is the smaller here
    magnitude = np.abs(feeds["x"].astype(np.float64)).sum()  # 9.9996
    np.testing.assert_allclose(bound, 2 * (4 * U / (1 - 4 * U)) * magnitude, rtol=1e-12)
    want = np.float32(4e-4)
    assert within(want + np.float32(3e-6), want, rtol=1e-4, atol=0, bound=bound)
    assert not within(want + np.float32(1e-5), want, rtol=1e-4, atol=0, bound=bound)


def test_the_probabilistic_bound_takes_over_for_long_sums():
    """For K = 4096 terms, λ·√n·u (λ = 8) is below the worst case n·u."""
    b = GraphBuilder("g")
    x = b.input("x", (1, 4096))
    b.outputs(b.matmul(x, b.const(np.ones((4096, 1), np.float32), name="w")))
    (bound,) = rounding_bounds(b.graph, {"x": np.ones((1, 4096), np.float32)}).values()
    n = 4096 + 2
    assert 2 * 8 * np.sqrt(n) * U * 4096 < bound[0, 0] < 2 * 8.01 * np.sqrt(n) * U * 4096
    assert bound[0, 0] < 2 * n * U * 4096


def test_an_infinity_must_match_exactly():
    """inf + 1 is inf in every order: no tolerance lets a number stand for it."""
    b = GraphBuilder("g")
    x = b.input("x", (2,))
    b.outputs(b.add(x, b.const(np.float32(1.0))))
    feeds = {"x": np.array([np.inf, 2.0], np.float32)}
    (bound,) = rounding_bounds(b.graph, feeds).values()
    assert bound[0] == 0
    assert not within(np.float32(3e38), np.float32(np.inf), rtol=1e-4, atol=1e-6, bound=bound[0])
    assert within(np.float32(np.inf), np.float32(np.inf), rtol=1e-4, atol=1e-6, bound=bound[0])


def test_overflowing_terms_leave_the_element_free():
    """1e30·1e30 - 1e30·1e30: rounding each product gives inf - inf = NaN, a fused multiply-add
    gives -inf or a number; the element is not constrained, its neighbour still is."""
    b = GraphBuilder("g")
    x = b.input("x", (2, 2))
    w = b.const(np.array([[1e30, 1.0], [-1e30, 1.0]], np.float32), name="w")
    b.outputs(b.matmul(x, w))
    feeds = {"x": np.array([[1e30, 1e30], [1.0, 2.0]], np.float32)}
    with np.errstate(over="ignore"):
        (bound,) = rounding_bounds(b.graph, feeds).values()
    assert np.isinf(bound[0, 0]) and np.isfinite(bound[1, 1])
    assert within(np.float32(np.nan), np.float32(-np.inf), rtol=0, atol=0, bound=bound[0, 0])
