"""Hypothesis strategies for random valid graphs, shared by the text, pass and backend tests.

``random_graphs()`` builds graphs with GraphBuilder from the ops registered when the test runs
(an op that is not registered yet is simply never drawn), with awkward names (spaces, quotes,
unicode, ``*/``), inline and sidecar-sized constants, awkward floats (nan, -0.0, subnormals) in
constants and attributes, multi-output nodes (split, fused) and several graph outputs.

``random_feeds(graph, seed)`` gives inputs to run such a graph with.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlc.errors import MlcError
from mlc.ir import DType, Graph, GraphBuilder, Value
from mlc.ops import all_ops

WEIRD_NAMES = ["x y", 'quo"te', "back\\slash", "*/", "/*", "%0", "@w", "^b", "_", "-", "1", "0",
               "return", "graph", "f32", "a.b-c_d", "naïve", "日本", "tab\there", "new\nline",
               "emoji\U0001F600", "{}", "[1]", "=", ",", "x:y", "//comment", "loc"]

plain_names = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True)
"""Names that print bare."""

names = st.one_of(
    plain_names,
    st.sampled_from(WEIRD_NAMES),
    st.text(min_size=1, max_size=6),
)
"""Value and graph names, about a third of them needing quotes."""

any_float = st.floats(allow_nan=True, allow_infinity=True)
dims = st.integers(1, 4)
shapes = st.lists(dims, min_size=0, max_size=4).map(tuple)


def elements(dtype: DType) -> st.SearchStrategy:
    if dtype is DType.bool:
        return st.booleans()
    if dtype.is_int:
        info = np.iinfo(dtype.numpy)
        return st.integers(int(info.min), int(info.max))
    return st.floats(width=8 * dtype.itemsize, allow_nan=True, allow_infinity=True)


def arrays(dtype: DType, shape: tuple[int, ...]) -> st.SearchStrategy:
    return hnp.arrays(dtype.numpy, shape, elements=elements(dtype))


# -- op recipes: each draws operands and attributes for one op, or returns None to pass ----------
Recipe = Callable[[st.DrawFn, "_State"], "tuple[list[Value | None], dict] | None"]

UNARY_FLOAT = ["relu", "sigmoid", "tanh", "erf", "sqrt", "exp", "log", "neg", "abs", "reciprocal",
               "hard_swish", "identity"]
BINARY_FLOAT = ["add", "sub", "mul", "div", "min", "max", "pow"]
BINARY_ANY = ["add", "sub", "mul", "min", "max"]
COMPARE = ["equal", "less", "greater"]
REDUCE = ["reduce_mean", "reduce_sum", "reduce_max", "reduce_min"]


class _State:
    """The graph being built and the values available as operands."""

    def __init__(self, builder: GraphBuilder, names: st.SearchStrategy[str],
                 recipes: dict[str, Recipe], fused: bool):
        self.b = builder
        self.names = names
        self.recipes = recipes
        self.fused = fused
        self.pool: list[Value] = []

    def nested(self, builder: GraphBuilder) -> _State:
        return _State(builder, self.names, self.recipes, self.fused)

    def pick(self, draw, accept=lambda v: True) -> Value | None:
        candidates = [v for v in self.pool if accept(v)]
        if not candidates:
            return None
        # shrinks towards the newest value, so minimal examples are chains, not fans
        return candidates[len(candidates) - 1 - draw(st.integers(0, len(candidates) - 1))]

    def const(self, draw, dtype: DType, shape: tuple[int, ...]) -> Value:
        return self.b.const(draw(arrays(dtype, shape)), name=draw(st.none() | self.names))


def _is_float(v: Value) -> bool:
    return v.dtype.is_float


def _broadcast_partner(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: a suffix of it with some dims set to 1."""
    keep = draw(st.integers(0, len(shape)))
    suffix = shape[len(shape) - keep:]
    return tuple(1 if draw(st.booleans()) else d for d in suffix)


def _operand_like(draw, state: _State, a: Value, dtype: DType | None = None) -> Value:
    """A second operand that broadcasts with ``a``: from the pool, or a new constant."""
    dtype = dtype or a.dtype
    if draw(st.booleans()):
        other = state.pick(draw, lambda v: v.dtype == dtype and _broadcasts(v.shape, a.shape))
        if other is not None:
            return other
    return state.const(draw, dtype, _broadcast_partner(draw, a.shape))


def _broadcasts(s1, s2) -> bool:
    try:
        np.broadcast_shapes(s1, s2)
        return True
    except ValueError:
        return False


def _unary(op: str) -> Recipe:
    def recipe(draw, state):
        x = state.pick(draw, _is_float)
        return None if x is None else ([x], {})
    return recipe


def _binary(op: str, accept) -> Recipe:
    def recipe(draw, state):
        a = state.pick(draw, accept)
        if a is None:
            return None
        b = _operand_like(draw, state, a)
        return ([b, a] if draw(st.booleans()) else [a, b]), {}
    return recipe


def _leaky_relu(draw, state):
    x = state.pick(draw, _is_float)
    return None if x is None else ([x], {"alpha": draw(any_float)})


def _hard_sigmoid(draw, state):
    x = state.pick(draw, _is_float)
    return None if x is None else ([x], {"alpha": draw(any_float), "beta": draw(any_float)})


def _clip(draw, state):
    x = state.pick(draw, _is_float)
    attrs = {}
    if draw(st.booleans()):
        attrs["min"] = draw(any_float)
    if draw(st.booleans()):
        attrs["max"] = draw(any_float)
    return None if x is None else ([x], attrs)


def _gelu(draw, state):
    x = state.pick(draw, _is_float)
    return None if x is None else ([x], {"approximate": draw(st.sampled_from(["none", "tanh"]))})


def _cast(draw, state):
    x = state.pick(draw, _is_float)
    to = draw(st.sampled_from([DType.float16, DType.float32, DType.float64]))
    return None if x is None else ([x], {"to": to})


def _where(draw, state):
    cond = state.pick(draw, lambda v: v.dtype is DType.bool)
    if cond is None:
        return None
    a = state.pick(draw, _is_float)
    if a is None:
        return None
    b = _operand_like(draw, state, a)
    if not _broadcasts(np.broadcast_shapes(a.shape, b.shape), cond.shape):
        return None
    return [cond, a, b], {}


def _not(draw, state):
    x = state.pick(draw, lambda v: v.dtype is DType.bool)
    return None if x is None else ([x], {})


def _concat(draw, state):
    a = state.pick(draw, lambda v: v.type.rank >= 1)
    if a is None:
        return None
    axis = draw(st.integers(0, a.type.rank - 1))
    parts = [a]
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.booleans()):
            parts.append(a)
        else:
            shape = list(a.shape)
            shape[axis] = draw(dims)
            parts.append(state.const(draw, a.dtype, tuple(shape)))
    return draw(st.permutations(parts)), {"axis": axis}


def _reshape(draw, state):
    x = state.pick(draw)
    if x is None:
        return None
    numel = math.prod(x.shape)
    shape = draw(st.sampled_from([(numel,), (1, numel), tuple(reversed(x.shape)),
                                  (*x.shape, 1), (numel, 1, 1)]))
    return [x], {"shape": shape}


def _transpose(draw, state):
    x = state.pick(draw, lambda v: v.type.rank >= 1)
    if x is None:
        return None
    return [x], {"perm": tuple(draw(st.permutations(range(x.type.rank))))}


def _split(draw, state):
    x = state.pick(draw, lambda v: any(d >= 2 for d in v.shape))
    if x is None:
        return None
    axis = draw(st.sampled_from([i for i, d in enumerate(x.shape) if d >= 2]))
    first = draw(st.integers(1, x.shape[axis] - 1))
    return [x], {"axis": axis, "sizes": (first, x.shape[axis] - first)}


def _matmul(draw, state):
    a = state.pick(draw, lambda v: _is_float(v) and v.type.rank >= 1)
    if a is None:
        return None
    b = state.const(draw, a.dtype, (a.shape[-1], draw(dims)))
    return [a, b], {}


def _reduce(draw, state):
    x = state.pick(draw, lambda v: _is_float(v) and v.type.rank >= 1)
    if x is None:
        return None
    axes = draw(st.lists(st.integers(0, x.type.rank - 1), unique=True, max_size=x.type.rank))
    return [x], {"axes": tuple(sorted(axes)), "keepdims": draw(st.booleans())}


def _softmax(draw, state):
    x = state.pick(draw, lambda v: _is_float(v) and v.type.rank >= 1)
    if x is None:
        return None
    return [x], {"axis": draw(st.integers(-x.type.rank, x.type.rank - 1))}


def _conv2d(draw, state):
    x = state.pick(draw, lambda v: v.dtype is DType.float32 and v.type.rank == 4)
    if x is None:
        return None
    _, c, h, w = x.shape
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    weight = state.const(draw, DType.float32, (draw(dims), c, kh, kw))
    bias = None
    if draw(st.booleans()):
        bias = state.const(draw, DType.float32, (weight.shape[0],))
    pads = tuple(draw(st.lists(st.integers(0, 1), min_size=4, max_size=4)))
    inputs = [x, weight] if bias is None and draw(st.booleans()) else [x, weight, bias]
    return inputs, {"pads": pads, "strides": (draw(st.integers(1, 2)), draw(st.integers(1, 2)))}


def _quantize(draw, state):
    x = state.pick(draw, lambda v: v.dtype is DType.float32)
    if x is None:
        return None
    scale = np.float32(draw(st.floats(0.5, 8, width=32)))
    dtype = draw(st.sampled_from([DType.uint8, DType.int8]))
    zero = draw(elements(dtype))
    return [x], {"scale": np.array(scale), "zero_point": np.array(zero, dtype.numpy), "dtype": dtype}


def _dequantize(draw, state):
    x = state.pick(draw, lambda v: v.dtype in (DType.uint8, DType.int8))
    if x is None:
        return None
    scale = np.float32(draw(st.floats(0.5, 8, width=32)))
    return [x], {"scale": np.array(scale), "zero_point": np.array(draw(elements(x.dtype)), x.dtype.numpy)}


def _gemm(draw, state):
    a = state.pick(draw, lambda v: v.dtype is DType.float32 and v.type.rank == 2)
    if a is None:
        return None
    trans_a, trans_b = draw(st.booleans()), draw(st.booleans())
    k = a.shape[0] if trans_a else a.shape[1]
    n = draw(dims)
    b = state.const(draw, DType.float32, (n, k) if trans_b else (k, n))
    c = state.const(draw, DType.float32, (n,)) if draw(st.booleans()) else None
    return [a, b, c], {"alpha": draw(any_float), "beta": draw(any_float), "trans_a": trans_a,
                       "trans_b": trans_b}


def _pad(draw, state):
    x = state.pick(draw, lambda v: _is_float(v) and v.type.rank >= 1)
    if x is None:
        return None
    mode = draw(st.sampled_from(["constant", "edge"]))
    pads = tuple(draw(st.lists(st.integers(0, 2), min_size=2 * x.type.rank, max_size=2 * x.type.rank)))
    return [x], {"pads": pads, "mode": mode, "value": draw(any_float)}


def _slice(draw, state):
    x = state.pick(draw, lambda v: v.type.rank >= 1)
    if x is None:
        return None
    axis = draw(st.integers(0, x.type.rank - 1))
    start = draw(st.integers(0, x.shape[axis] - 1))
    return [x], {"starts": (start,), "ends": (x.shape[axis],), "axes": (axis,), "steps": (1,)}


def _tile(draw, state):
    x = state.pick(draw, lambda v: v.type.rank >= 1)
    if x is None:
        return None
    return [x], {"repeats": tuple(draw(st.lists(st.integers(1, 2), min_size=x.type.rank,
                                                 max_size=x.type.rank)))}


def _pool(draw, state):
    x = state.pick(draw, lambda v: v.dtype is DType.float32 and v.type.rank == 4)
    if x is None:
        return None
    kernel = (draw(st.integers(1, x.shape[2])), draw(st.integers(1, x.shape[3])))
    return [x], {"kernel": kernel, "strides": (draw(st.integers(1, 2)), draw(st.integers(1, 2)))}


def _resize(draw, state):
    x = state.pick(draw, lambda v: v.dtype is DType.float32 and v.type.rank >= 1)
    if x is None:
        return None
    factors = draw(st.lists(st.integers(1, 2), min_size=x.type.rank, max_size=x.type.rank))
    size = tuple(d * f for d, f in zip(x.shape, factors))
    return [x], {"size": size, "scales": tuple(float(f) for f in factors)}


def _layer_norm(draw, state):
    x = state.pick(draw, lambda v: v.dtype is DType.float32 and v.type.rank >= 1)
    if x is None:
        return None
    scale = state.const(draw, DType.float32, x.shape[-1:])
    bias = state.const(draw, DType.float32, x.shape[-1:]) if draw(st.booleans()) else None
    return [x, scale, bias], {"epsilon": draw(st.floats(1e-6, 1e-2))}


RECIPES: dict[str, Recipe] = {
    **{op: _unary(op) for op in UNARY_FLOAT},
    **{op: _binary(op, _is_float) for op in BINARY_FLOAT},
    **{op: _binary(op, lambda v: v.dtype is not DType.bool) for op in BINARY_ANY},
    **{op: _binary(op, _is_float) for op in COMPARE},
    **{op: _reduce for op in REDUCE},
    "leaky_relu": _leaky_relu, "hard_sigmoid": _hard_sigmoid, "clip": _clip, "gelu": _gelu,
    "cast": _cast, "where": _where, "not": _not, "concat": _concat, "reshape": _reshape,
    "transpose": _transpose, "split": _split, "matmul": _matmul, "softmax": _softmax,
    "log_softmax": _softmax, "conv2d": _conv2d, "quantize": _quantize, "dequantize": _dequantize,
    "gemm": _gemm, "pad": _pad, "slice": _slice, "tile": _tile, "max_pool2d": _pool,
    "avg_pool2d": _pool, "resize": _resize, "layer_norm": _layer_norm,
}


def available_recipes(ops: Iterable[str] | None = None) -> dict[str, Recipe]:
    """The recipes whose op is registered now (the registry grows as ops land), optionally only
    those named in ``ops``."""
    registered = all_ops()
    wanted = set(RECIPES if ops is None else ops)
    return {op: recipe for op, recipe in RECIPES.items() if op in registered and op in wanted}


def _fused(draw, state: _State, depth: int):
    inputs = [v for v in (state.pick(draw) for _ in range(draw(st.integers(1, 2)))) if v is not None]
    if not inputs:
        return None
    body = GraphBuilder(draw(state.names))
    inner = state.nested(body)
    inner.pool = [body.input(draw(state.names), v.shape, v.dtype) for v in inputs]
    _grow(draw, inner, draw(st.integers(1, 3)), depth + 1)
    body.outputs(*draw(st.lists(st.sampled_from(inner.pool), min_size=1, max_size=2)))
    return inputs, body.graph


def _grow(draw, state: _State, steps: int, depth: int = 0) -> None:
    ops = sorted(state.recipes) + (["fused"] if state.fused and depth < 2 else [])
    if not ops:
        return
    for _ in range(steps):
        op = draw(st.sampled_from(ops))
        output_names = draw(st.lists(st.none() | state.names, max_size=2))
        loc = draw(st.none() | st.none() | state.names)
        try:
            if op == "fused":
                made = _fused(draw, state, depth)
                if made is None:
                    continue
                node = state.b.node("fused", *made[0], body=made[1], output_names=output_names,
                                    name=loc)
            else:
                made = state.recipes[op](draw, state)
                if made is None:
                    continue
                node = state.b.node(op, *made[0], output_names=output_names, name=loc, **made[1])
        except MlcError:  # the registry refuses a combination this recipe did not foresee
            continue
        state.pool.extend(node.outputs)


@st.composite
def random_graphs(draw, max_nodes: int = 8, ops: Iterable[str] | None = None,
                  names: st.SearchStrategy[str] = names) -> Graph:
    """A valid graph of up to ``max_nodes`` top-level nodes over the registered ops.

    ``ops`` limits the ops drawn (``"fused"`` among them allows fused nodes; by default all recipes
    and fused); ``names`` replaces the awkward names, e.g. with ``plain_names`` for pass tests
    whose expected text should stay readable.
    """
    b = GraphBuilder(draw(names))
    state = _State(b, names, available_recipes(ops), ops is None or "fused" in ops)
    input_types = draw(st.lists(st.tuples(shapes, st.sampled_from(
        [DType.float32] * 4 + [DType.float16, DType.int32, DType.bool])), min_size=1, max_size=3))
    for shape, dtype in input_types:
        state.pool.append(b.input(draw(names), shape, dtype))
    if "conv2d" in state.recipes and draw(st.booleans()):
        state.pool.append(b.input(draw(names), (1, draw(dims), draw(dims), draw(dims))))
    for _ in range(draw(st.integers(0, 2))):
        big = draw(st.booleans())
        shape = (draw(st.integers(5, 8)), draw(st.integers(4, 6))) if big else draw(shapes)
        state.pool.append(state.const(draw, draw(st.sampled_from([DType.float32, DType.int64])), shape))
    _grow(draw, state, draw(st.integers(1, max_nodes)))
    outputs = draw(st.lists(st.sampled_from(state.pool), min_size=1, max_size=3))
    b.outputs(state.pool[-1], *outputs[1:])
    return b.graph


def random_feeds(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs for ``graph``: normal floats, small ints, random bools."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in graph.inputs:
        if value.dtype is DType.bool:
            array = rng.random(value.shape) < 0.5
        elif value.dtype.is_int:
            array = rng.integers(-5, 6, size=value.shape)
        else:
            array = rng.standard_normal(value.shape)
        feeds[value.name] = np.asarray(array).astype(value.dtype.numpy)
    return feeds
