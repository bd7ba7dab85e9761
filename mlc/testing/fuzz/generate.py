"""Random well-typed graphs over the registered ops, and feeds for them, from one integer seed.

In the spirit of NNSmith: each graph grows node by node from a pool of typed values; an op's
recipe picks operands the op accepts (shapes that broadcast, channels that match, axes in
range) and attributes in range, and the op registry's shape inference checks the result, so a
recipe that draws an impossible combination is simply skipped. Two things bias the draw towards
bugs a compiler can have:

* **chains**: operands are mostly the newest values, and some recipes are motifs a fusion pass
  looks for (conv → bias → activation, matmul → add → activation, elementwise runs), so fused
  groups with several ops, broadcasts and multiple consumers are common;
* **edge values**: some feeds hold NaN, ±inf, -0.0, zeros and denormals, and some inputs
  have an empty dimension.

Everything is drawn from ``numpy.random.default_rng(seed)``, so a graph is reproduced from its
seed alone: the campaign stores seeds, not graphs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from mlc.errors import MlcError
from mlc.ir import DType, Graph, GraphBuilder, Value
from mlc.ops import all_ops

MAX_NODES = 8  # recipes drawn per graph (a motif adds up to three nodes)
SPECIAL_FEED_CHANCE = 0.2  # graphs whose feeds hold NaN, ±inf, -0.0, zeros or denormals
EMPTY_DIM_CHANCE = 0.03  # graphs with an input that has a zero-sized dimension
SPECIAL_VALUES = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-40, -1e-42, 0.0],
                          dtype=np.float32)


@dataclass
class Case:
    """One generated graph and the feeds to run it on."""

    seed: int
    graph: Graph
    feeds: dict[str, np.ndarray]

    @property
    def special(self) -> bool:
        """Whether the feeds hold NaN or ±inf (comparisons then allow the documented freedom in
        how NaN travels, see :mod:`mlc.testing.fuzz.compare`)."""
        return any(a.dtype.kind == "f" and not np.all(np.isfinite(a)) for a in self.feeds.values())


class _Pool:
    """The graph being built and its values that later nodes may take as operands."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.b = GraphBuilder("fuzz")
        self.values: list[Value] = []
        self.names = 0

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def pick(self, accept: Callable[[Value], bool] = lambda v: True) -> Value | None:
        """An operand: the newest acceptable value more often than not, so graphs form chains."""
        candidates = [v for v in self.values if accept(v)]
        if not candidates:
            return None
        if self.rng.random() < 0.6:
            return candidates[-1]
        return candidates[int(self.rng.integers(len(candidates)))]

    def const(self, shape: tuple[int, ...], dtype: DType = DType.float32,
              scale: float = 1.0) -> Value:
        if dtype.is_float:
            array = (self.rng.standard_normal(shape) * scale).astype(dtype.numpy)
        elif dtype is DType.bool:
            array = self.rng.random(shape) < 0.5
        else:
            array = self.rng.integers(-4, 5, size=shape).astype(dtype.numpy)
        return self.b.const(array, name=self.name("k"))

    def op(self, op: str, *inputs: Value | None, **attrs) -> list[Value]:
        """Add ``op``; its outputs join the pool. The registry refusing it raises MlcError."""
        node = self.b.node(op, *inputs, name=self.name("n"), **attrs)
        self.values.extend(node.outputs)
        return list(node.outputs)

    def dim(self, low: int = 1, high: int = 5) -> int:
        return int(self.rng.integers(low, high + 1))

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def coin(self, p: float = 0.5) -> bool:
        return bool(self.rng.random() < p)


def _float(v: Value) -> bool:
    return v.dtype.is_float


def _f32(v: Value) -> bool:
    return v.dtype is DType.float32


def _image(v: Value) -> bool:
    return v.dtype is DType.float32 and v.type.rank == 4 and all(d > 0 for d in v.shape)


def _nonempty(v: Value) -> bool:
    return all(d > 0 for d in v.shape)


def _partner_shape(p: _Pool, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: a suffix with some dims set to 1, or a longer one."""
    keep = int(p.rng.integers(0, len(shape) + 1))
    suffix = tuple(1 if p.coin(0.4) else d for d in shape[len(shape) - keep:])
    if len(shape) < 4 and p.coin(0.15):
        return (p.dim(1, 3), *shape)  # the result grows a leading dim
    return suffix


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _second(p: _Pool, a: Value, dtype: DType | None = None) -> Value:
    """A second operand for ``a``: a pool value that broadcasts with it, or a new constant."""
    dtype = dtype or a.dtype
    if p.coin():
        other = p.pick(lambda v: v is not a and v.dtype is dtype and _broadcasts(v.shape, a.shape))
        if other is not None:
            return other
    return p.const(_partner_shape(p, a.shape), dtype)


def _positive(p: _Pool, x: Value) -> Value:
    """``|x| + c``: the operand of log, sqrt or a divisor, kept in the op's domain most of the time
    (the rest of the time the raw value goes in, so NaN and inf paths are exercised too)."""
    if p.coin(0.2):
        return x
    (shifted,) = p.op("add", p.op("abs", x)[0], p.b.const(np.asarray(0.5, x.dtype.numpy),
                                                           name=p.name("k")))
    return shifted


# -- recipes: each adds one op (or a short motif) to the pool, or returns without adding ----------

def _unary(op: str, **attrs: Callable[[_Pool], object]):
    def recipe(p: _Pool) -> None:
        x = p.pick(_float)
        if x is not None:
            p.op(op, x, **{k: draw(p) for k, draw in attrs.items()})
    return recipe


def _domain_unary(op: str):
    def recipe(p: _Pool) -> None:
        x = p.pick(_float)
        if x is not None:
            p.op(op, _positive(p, x))
    return recipe


def _binary(op: str, accept: Callable[[Value], bool] = _float, domain: bool = False):
    def recipe(p: _Pool) -> None:
        a = p.pick(accept)
        if a is None:
            return
        b = _second(p, a)
        if domain:
            b = _positive(p, b)
        p.op(op, *((b, a) if p.coin(0.3) and not domain else (a, b)))
    return recipe


def _pow(p: _Pool) -> None:
    a = p.pick(_float)
    if a is not None:
        exponent = p.b.const(np.asarray(p.choice([2.0, 3.0, 0.5, -1.0, 1.5]), a.dtype.numpy),
                             name=p.name("k"))
        p.op("pow", _positive(p, a), exponent)


def _compare(op: str):
    def recipe(p: _Pool) -> None:
        a = p.pick(lambda v: v.dtype is not DType.bool)
        if a is None:
            return
        (mask,) = p.op(op, a, _second(p, a))
        if p.coin(0.6):  # a bool output is rare in models: mostly it selects at once
            x = p.pick(lambda v: _float(v) and _broadcasts(v.shape, mask.shape))
            if x is not None:
                p.op("where", mask, x, _second(p, x))
    return recipe


def _not(p: _Pool) -> None:
    x = p.pick(lambda v: v.dtype is DType.bool)
    if x is not None:
        p.op("not", x)


def _cast(p: _Pool) -> None:
    x = p.pick(lambda v: v.dtype is not DType.bool)
    if x is None:
        return
    to = p.choice([DType.int32, DType.int64, DType.float32, DType.float16] if x.dtype.is_float
                  else [DType.float32, DType.int64, DType.int32])
    (y,) = p.op("cast", x, to=to)
    if to is not DType.float32 and p.coin(0.7):
        p.op("cast", y, to=DType.float32)


def _clip(p: _Pool) -> None:
    x = p.pick(_float)
    if x is None:
        return
    low = float(p.choice([0.0, -1.0, -0.5, -np.inf]))
    high = float(p.choice([6.0, 1.0, 0.5, np.inf]))
    p.op("clip", x, min=low, max=high)


def _concat(p: _Pool) -> None:
    a = p.pick(lambda v: v.type.rank >= 1)
    if a is None:
        return
    axis = int(p.rng.integers(a.type.rank))
    parts = [a]
    for _ in range(p.dim(1, 2)):
        same = p.pick(lambda v: v.dtype is a.dtype and v.type.rank == a.type.rank
                      and all(x == y for i, (x, y) in enumerate(zip(v.shape, a.shape)) if i != axis))
        if same is not None and p.coin():
            parts.append(same)
        else:
            shape = list(a.shape)
            shape[axis] = p.dim(1, 3)
            parts.append(p.const(tuple(shape), a.dtype))
    p.rng.shuffle(parts)
    p.op("concat", *parts, axis=axis - a.type.rank if p.coin(0.3) else axis)


def _reshape(p: _Pool) -> None:
    x = p.pick()
    if x is None:
        return
    numel = math.prod(x.shape)
    options = [(numel,), (1, numel), tuple(reversed(x.shape)), (*x.shape, 1), (numel, 1, 1)]
    if x.type.rank >= 2:
        options.append((x.shape[0], math.prod(x.shape[1:])))  # flatten before a matmul
    p.op("reshape", x, shape=p.choice(options))


def _transpose(p: _Pool) -> None:
    x = p.pick(lambda v: v.type.rank >= 2)
    if x is not None:
        p.op("transpose", x, perm=tuple(int(i) for i in p.rng.permutation(x.type.rank)))


def _split(p: _Pool) -> None:
    x = p.pick(lambda v: any(d >= 2 for d in v.shape))
    if x is None:
        return
    axis = p.choice([i for i, d in enumerate(x.shape) if d >= 2])
    first = int(p.rng.integers(1, x.shape[axis]))
    p.op("split", x, axis=axis, sizes=(first, x.shape[axis] - first))


def _on_an_axis(recipe: Callable[[_Pool, Value, int], None]) -> Callable[[_Pool], None]:
    """A recipe that works on a non-empty value of rank ≥ 1 along one of its axes."""
    def pick_and_apply(p: _Pool) -> None:
        x = p.pick(lambda v: v.type.rank >= 1 and _nonempty(v))
        if x is not None:
            recipe(p, x, int(p.rng.integers(x.type.rank)))
    return pick_and_apply


@_on_an_axis
def _slice(p: _Pool, x: Value, axis: int) -> None:
    size = x.shape[axis]
    if p.coin(0.3) and size >= 2:  # a reversed or strided slice
        p.op("slice", x, starts=(size - 1,), ends=(-size - 1,), axes=(axis,),
             steps=(-p.dim(1, 2),))
        return
    start = int(p.rng.integers(size))
    p.op("slice", x, starts=(start,), ends=(int(p.rng.integers(start + 1, size + 1)),),
         axes=(axis,), steps=(p.dim(1, 2),))


def _tile(p: _Pool) -> None:
    x = p.pick(lambda v: 1 <= v.type.rank)
    if x is not None:
        p.op("tile", x, repeats=tuple(p.dim(1, 2) for _ in x.shape))


def _expand(p: _Pool) -> None:
    x = p.pick(lambda v: v.type.rank <= 3)
    if x is not None:
        shape = tuple(p.dim(2, 3) if d == 1 else d for d in x.shape)
        p.op("expand", x, shape=(p.dim(1, 2), *shape) if p.coin(0.3) else shape)


@_on_an_axis
def _gather(p: _Pool, x: Value, axis: int) -> None:
    size = x.shape[axis]
    count = p.choice([(), (p.dim(1, 4),), (2, p.dim(1, 3))])
    indices = p.rng.integers(-size, size, size=count).astype(p.choice([np.int64, np.int32]))
    p.op("gather", x, p.b.const(indices, name=p.name("idx")), axis=axis)


def _matmul(p: _Pool) -> None:
    """matmul → optional bias add → optional activation: the chain a fusion pass looks for."""
    a = p.pick(lambda v: _f32(v) and v.type.rank >= 1 and _nonempty(v))
    if a is None:
        return
    n = p.dim(1, 8)
    if a.type.rank >= 3 and p.coin(0.3):
        b = p.const((*a.shape[:-2], a.shape[-1], n))  # batched
    else:
        b = p.const((a.shape[-1], n))
    (y,) = p.op("matmul", a, b)
    _epilogue(p, y, (n,))


def _gemm(p: _Pool) -> None:
    a = p.pick(lambda v: _f32(v) and v.type.rank == 2 and _nonempty(v))
    if a is None:
        return
    trans_a, trans_b = p.coin(), p.coin()
    k = a.shape[0] if trans_a else a.shape[1]
    n = p.dim(1, 8)
    b = p.const((n, k) if trans_b else (k, n))
    c = p.const(p.choice([(n,), (1, n), ()])) if p.coin(0.7) else None
    (y,) = p.op("gemm", a, b, c, alpha=float(p.choice([1.0, 0.5, -2.0])),
                beta=float(p.choice([1.0, 0.0, 3.0])), trans_a=trans_a, trans_b=trans_b)
    _epilogue(p, y, None)


def _conv(p: _Pool) -> None:
    """conv2d (grouped or depthwise now and then) → optional bias/BN → optional activation."""
    x = p.pick(_image)
    if x is None:
        return
    _, c, h, w = x.shape
    group = p.choice([1, 1, 1, c] + ([g for g in (2, 3) if c % g == 0]))
    out = group * p.dim(1, 2) if group > 1 else p.dim(1, 6)
    kh, kw = p.dim(1, min(3, h)), p.dim(1, min(3, w))
    dilations = (1, 1) if p.coin(0.8) or kh * 2 > h + 1 else (2, 1)
    weight = p.const((out, c // group, kh, kw), scale=0.5)
    bias = p.const((out,)) if p.coin(0.6) else None
    pads = tuple(int(v) for v in p.rng.integers(0, 2, size=4))
    strides = (p.dim(1, 2), p.dim(1, 2))
    (y,) = p.op("conv2d", x, weight, bias, strides=strides, pads=pads, dilations=dilations,
                group=group)
    if p.coin(0.25):
        stats = [p.const((out,)) for _ in range(3)]
        var = p.b.const(np.abs(p.rng.standard_normal(out)).astype(np.float32) + 0.1,
                        name=p.name("var"))
        (y,) = p.op("batch_norm", y, stats[0], stats[1], stats[2], var, epsilon=1e-5)
    _epilogue(p, y, None)


def _conv_transpose(p: _Pool) -> None:
    x = p.pick(_image)
    if x is None:
        return
    c = x.shape[1]
    out = p.dim(1, 4)
    k = p.dim(1, 3)
    stride = p.dim(1, 2)
    weight = p.const((c, out, k, k), scale=0.5)
    bias = p.const((out,)) if p.coin() else None
    p.op("conv2d_transpose", x, weight, bias, strides=(stride, stride),
         pads=tuple(int(v) for v in p.rng.integers(0, min(k, 2), size=4)),
         output_padding=(stride - 1, 0) if p.coin(0.3) else (0, 0))


def _epilogue(p: _Pool, y: Value, bias_shape: tuple[int, ...] | None) -> None:
    if bias_shape is not None and p.coin(0.6):
        (y,) = p.op("add", y, p.const(bias_shape))
    if p.coin(0.6):
        act = p.choice(["relu", "sigmoid", "tanh", "hard_swish", "silu", "gelu", "clip",
                        "leaky_relu"])
        if act == "clip":
            p.op("clip", y, min=0.0, max=6.0)
        elif act == "leaky_relu":
            p.op("leaky_relu", y, alpha=0.1)
        else:
            p.op(act, y)


def _pool2d(op: str):
    def recipe(p: _Pool) -> None:
        x = p.pick(_image)
        if x is None:
            return
        _, _, h, w = x.shape
        kernel = (p.dim(1, min(3, h)), p.dim(1, min(3, w)))
        pads = tuple(int(v) for v in p.rng.integers(0, 2, size=4))
        pads = tuple(min(v, kernel[i % 2] - 1) for i, v in enumerate(pads))
        attrs = {"kernel": kernel, "strides": (p.dim(1, 2), p.dim(1, 2)), "pads": pads,
                 "ceil_mode": p.coin(0.3)}
        if op == "avg_pool2d":
            attrs["count_include_pad"] = p.coin()
        p.op(op, x, **attrs)
    return recipe


def _global_pool(op: str):
    def recipe(p: _Pool) -> None:
        x = p.pick(_image)
        if x is not None:
            p.op(op, x)
    return recipe


def _reduce(op: str):
    def recipe(p: _Pool) -> None:
        x = p.pick(lambda v: _float(v) and v.type.rank >= 1 and _nonempty(v))
        if x is None:
            return
        axes = sorted(int(a) for a in p.rng.choice(x.type.rank, size=p.dim(1, x.type.rank),
                                                   replace=False))
        p.op(op, x, axes=tuple(axes), keepdims=p.coin())
    return recipe


def _softmax(op: str):
    def recipe(p: _Pool) -> None:
        x = p.pick(lambda v: _float(v) and v.type.rank >= 1)
        if x is not None:
            p.op(op, x, axis=int(p.rng.integers(-x.type.rank, x.type.rank)))
    return recipe


def _layer_norm(p: _Pool) -> None:
    x = p.pick(lambda v: _f32(v) and v.type.rank >= 1 and _nonempty(v))
    if x is None:
        return
    scale = p.const(x.shape[-1:])
    bias = p.const(x.shape[-1:]) if p.coin() else None
    p.op("layer_norm", x, scale, bias, epsilon=float(p.choice([1e-5, 1e-3])))


def _prelu(p: _Pool) -> None:
    x = p.pick(_f32)
    if x is None:
        return
    slope = (p.const((x.shape[1], 1, 1), scale=0.3) if _image(x)
             else p.const(_partner_shape(p, x.shape), scale=0.3))
    p.op("prelu", x, slope)


def _lrn(p: _Pool) -> None:
    x = p.pick(_image)
    if x is not None:
        p.op("lrn", x, size=p.choice([1, 3, 5]), alpha=1e-3, beta=0.75, bias=1.0)


def _pad(p: _Pool) -> None:
    x = p.pick(lambda v: _float(v) and v.type.rank >= 1 and _nonempty(v))
    if x is None:
        return
    mode = p.choice(["constant", "constant", "edge", "reflect"])
    high = 1 if mode == "reflect" else 2
    pads = tuple(min(int(p.rng.integers(0, high + 1)), d - 1 if mode == "reflect" else high)
                 for d in (*x.shape, *x.shape))
    p.op("pad", x, pads=pads, mode=mode, value=float(p.choice([0.0, 1.5, -np.inf])))


def _resize(p: _Pool) -> None:
    x = p.pick(_image)
    if x is None:
        return
    mode = p.choice(["nearest", "linear"])
    factors = (1, 1, p.choice([1, 2, 3]), p.choice([1, 2]))
    size = tuple(d * f for d, f in zip(x.shape, factors))
    attrs = {"size": size, "scales": tuple(float(f) for f in factors), "mode": mode}
    if mode == "nearest":
        attrs["coordinate_transformation_mode"] = p.choice(["half_pixel", "asymmetric"])
        attrs["nearest_mode"] = p.choice(["round_prefer_floor", "floor"])
    else:
        attrs["coordinate_transformation_mode"] = p.choice(["half_pixel", "align_corners"])
    p.op("resize", x, **attrs)


def _quantize(p: _Pool) -> None:
    """quantize → dequantize, the pair a QDQ model is made of."""
    x = p.pick(_f32)
    if x is None:
        return
    dtype = p.choice([DType.uint8, DType.int8])
    scale = np.asarray(p.choice([0.02, 0.05, 0.1]), np.float32)
    zero = np.asarray(128 if dtype is DType.uint8 else 0, dtype.numpy)
    (q,) = p.op("quantize", x, scale=scale, zero_point=zero, dtype=dtype)
    p.op("dequantize", q, scale=scale, zero_point=zero)


def _dropout(p: _Pool) -> None:
    x = p.pick(_float)
    if x is not None:
        p.op("dropout", x, ratio=0.5)


def _elementwise_run(p: _Pool) -> None:
    """Two to four elementwise ops in a row, some with a broadcast constant: a loop-fusion group."""
    x = p.pick(_f32)
    if x is None:
        return
    for _ in range(p.dim(2, 4)):
        op = p.choice(["add", "mul", "sub", "relu", "sigmoid", "tanh", "exp", "neg", "abs",
                       "max", "min", "erf"])
        if op in ("add", "mul", "sub", "max", "min"):
            (x,) = p.op(op, x, p.const(_partner_shape(p, x.shape)))
        else:
            (x,) = p.op(op, x)


_UNARY = ["relu", "sigmoid", "tanh", "erf", "exp", "neg", "abs", "hard_swish", "silu",
          "identity"]

RECIPES: dict[str, Callable[[_Pool], None]] = {
    **{op: _unary(op) for op in _UNARY},
    **{op: _domain_unary(op) for op in ("sqrt", "log", "reciprocal")},
    **{op: _binary(op) for op in ("add", "sub", "mul")},
    **{op: _binary(op, lambda v: v.dtype is not DType.bool) for op in ("min", "max")},
    "div": _binary("div", _float, domain=True), "pow": _pow,
    **{op: _compare(op) for op in ("equal", "less", "greater")},
    "leaky_relu": _unary("leaky_relu", alpha=lambda p: float(p.choice([0.01, 0.2, -1.0]))),
    "hard_sigmoid": _unary("hard_sigmoid", alpha=lambda p: float(p.choice([0.2, 1 / 6])),
                           beta=lambda p: 0.5),
    "gelu": _unary("gelu", approximate=lambda p: p.choice(["none", "tanh"])),
    "clip": _clip, "not": _not, "cast": _cast, "concat": _concat, "reshape": _reshape,
    "transpose": _transpose, "split": _split, "slice": _slice, "tile": _tile, "expand": _expand,
    "gather": _gather, "matmul": _matmul, "gemm": _gemm, "conv2d": _conv,
    "conv2d_transpose": _conv_transpose, "max_pool2d": _pool2d("max_pool2d"),
    "avg_pool2d": _pool2d("avg_pool2d"), "global_avg_pool": _global_pool("global_avg_pool"),
    "global_max_pool": _global_pool("global_max_pool"),
    **{op: _reduce(op) for op in ("reduce_mean", "reduce_sum", "reduce_max", "reduce_min")},
    "softmax": _softmax("softmax"), "log_softmax": _softmax("log_softmax"),
    "layer_norm": _layer_norm, "prelu": _prelu, "lrn": _lrn, "pad": _pad, "resize": _resize,
    "quantize": _quantize, "dropout": _dropout, "elementwise": _elementwise_run,
}
"""Recipe name -> recipe. A name is an op (its recipe may add a short motif around it) or
``elementwise`` (a run of elementwise ops)."""

COVERED_OPS = frozenset(RECIPES) - {"elementwise"} | {"batch_norm", "where", "dequantize"}
"""The registered ops the fuzzer draws (``mlc fuzz --ops`` lists them; tests check each is
registered and, as the registry grows, which are not drawn)."""


def recipes_for(ops: set[str] | None = None) -> list[str]:
    """The recipes whose op is registered (all of them, or those named in ``ops``)."""
    registered = all_ops()
    return [name for name in RECIPES
            if (name == "elementwise" or name in registered) and (ops is None or name in ops)]


def _inputs(p: _Pool) -> None:
    """One to three graph inputs: an NCHW image most of the time, vectors and matrices, now and
    then an integer or an empty one."""
    count = p.dim(1, 3)
    for index in range(count):
        kind = p.rng.random()
        if index == 0 and kind < 0.5:
            shape: tuple[int, ...] = (p.dim(1, 2), p.dim(1, 4), p.dim(3, 8), p.dim(3, 8))
        else:
            shape = tuple(p.dim(1, 6) for _ in range(p.dim(0, 4)))
        dtype = DType.float32
        if index > 0 and p.coin(0.15):
            dtype = p.choice([DType.int32, DType.int64])
        if shape and p.coin(EMPTY_DIM_CHANCE):
            shape = tuple(0 if i == len(shape) - 1 else d for i, d in enumerate(shape))
        p.values.append(p.b.input(f"x{index}", shape, dtype))


def generate_graph(seed: int, max_nodes: int = MAX_NODES,
                   ops: set[str] | None = None) -> Graph:
    """The graph of ``seed``: the same seed gives the same graph on every machine."""
    rng = np.random.default_rng(seed)
    p = _Pool(rng)
    _inputs(p)
    recipes = recipes_for(ops)
    for _ in range(p.dim(1, max_nodes)):
        recipe = RECIPES[p.choice(recipes)]
        try:
            recipe(p)
        except MlcError:  # the registry refused a combination the recipe did not foresee
            continue
    produced = [v for v in p.values if v.producer is not None]
    if not produced:  # no recipe applied: one relu keeps the graph non-trivial
        p.op("identity", p.values[0])
        produced = p.values[-1:]
    consumers = {id(v) for node in p.b.graph.nodes for v in node.inputs if v is not None}
    unused = [v for v in produced[:-1] if id(v) not in consumers]
    extra = [unused[i] for i in sorted(set(int(i) for i in rng.integers(0, len(unused) or 1,
                                                                         size=2)))] if unused else []
    p.b.outputs(produced[-1], *[v for v in extra if v is not produced[-1]])
    return p.b.graph


def generate_feeds(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Feeds for ``graph``: normal floats, small integers; for some seeds a few edge values."""
    rng = np.random.default_rng([seed, 1])
    special = rng.random() < SPECIAL_FEED_CHANCE
    feeds = {}
    for value in graph.inputs:
        if value.dtype.is_float:
            array = rng.standard_normal(value.shape).astype(value.dtype.numpy)
            if special and array.size:
                spots = rng.integers(0, array.size, size=max(1, array.size // 8))
                array.flat[spots] = rng.choice(SPECIAL_VALUES, size=len(spots))
        else:
            array = rng.integers(-5, 6, size=value.shape).astype(value.dtype.numpy)
        feeds[value.name] = array
    return feeds


def generate(seed: int, max_nodes: int = MAX_NODES, ops: set[str] | None = None) -> Case:
    graph = generate_graph(seed, max_nodes, ops)
    return Case(seed, graph, generate_feeds(graph, seed))
