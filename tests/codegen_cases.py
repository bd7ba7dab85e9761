"""Kernel cases that hold every loop-IR renderer (LLVM, C) to the reference evaluator.

Kernels lowered from small graphs of the registry's ops, and hand-built kernels probing the
corners of ``backends/loop/scalar.py`` (division by zero, INT_MIN / -1, unsigned bytes, NaN in
max/min and in casts, half-to-even rounding). A renderer's test compiles them all into ONE
library (a build costs a compiler run) and compares each with ``evaluate``: bit-exact for ints
and bools, rtol 1e-5 for floats (2e-3 with float16).
"""

from __future__ import annotations

import functools

import numpy as np

import mlc
from mlc.backends.loop import LoweringError, evaluate, kernel_args, lower_node
from mlc.backends.loop import ir
from mlc.backends.loop.ir import Allocate, Assign, Buffer, For, Kernel, Let, Load, Store, Var
from mlc.interp import run_traced
from mlc.ir import DType
from mlc.passes import PassManager, parse_pipeline, run_pipeline
from mlc.testing.models import zoo_model_path
from tests.loop.helpers import hand_fused, op_graph, random_array
from tests.rounding import assert_within, rounding_bounds
from tests.strategies import random_feeds

rng = np.random.default_rng(0)


def assert_matches(got: dict, want: dict, what: str, rtol: float = 1e-5,
                   bounds: dict[str, np.ndarray] | None = None) -> None:
    """Ints and bools bit-exact; floats within atol 1e-6 + rtol·|want|, plus, where ``bounds``
    (tests/rounding.py) has the output, the rounding two evaluation orders may legitimately
    differ by — what cancellation in a reduction needs and a relative tolerance cannot give."""
    assert got.keys() == want.keys(), what
    for name, expected in want.items():
        actual = got[name]
        assert actual.shape == expected.shape and actual.dtype == expected.dtype, what
        if expected.dtype.kind == "f":
            assert_within(actual, expected, f"{what}: {name}", rtol=rtol, atol=1e-6,
                          bound=(bounds or {}).get(name))
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=f"{what}: {name}")


# -- kernels lowered from graphs -------------------------------------------------------------------

_data = functools.partial(random_array, rng)


def op_case(op, shapes, attrs=None, dtypes=None, consts=(), feeds_override=None, fuse=False):
    graph, feeds = op_graph(rng, op, shapes, attrs, dtypes, consts)
    if fuse:
        PassManager(parse_pipeline("fuse")).run(graph)
    feeds.update(feeds_override or {})
    return graph, feeds


def _chain(b, x, s):
    y = b.mul(b.sigmoid(x), x)
    y = b.reshape(b.transpose(b.add(y, s), perm=(0, 2, 1)), shape=(8, 3))
    return b.clip(y, min=0.0, max=0.6)


SPECIAL = np.array([[np.nan, np.inf, -np.inf, 0.5], [1.5, 2.5, -0.5, -2.5], [3e9, -3e9, 1e20, -0.0]],
                   np.float32)
GRAPHS = {
    **{f"unary_{op}": (op, [(2, 3, 4)]) for op in
       ["relu", "sigmoid", "tanh", "erf", "exp", "neg", "abs", "reciprocal", "hard_swish", "silu",
        "identity", "sqrt", "log"]},
    "leaky_relu": ("leaky_relu", [(3, 5)], {"alpha": 0.1}),
    "hard_sigmoid": ("hard_sigmoid", [(3, 5)], {"alpha": 0.3, "beta": 0.4}),
    "gelu": ("gelu", [(3, 5)], {"approximate": "none"}),
    "gelu_tanh": ("gelu", [(3, 5)], {"approximate": "tanh"}),
    "clip": ("clip", [(3, 5)], {"min": -0.5, "max": 0.5}),
    "clip_to_inf": ("clip", [(3, 5)], {"min": np.inf}),
    "clip_to_minus_inf": ("clip", [(3, 5)], {"max": -np.inf}),
    **{f"cast_{to}": ("cast", [(3, 4)], {"to": to}, None, (), {"x0": SPECIAL})
       for to in ["i32", "i8", "u8", "bool", "f16", "i64", "i16"]},
    "cast_u8_to_f32": ("cast", [(3, 4)], {"to": "f32"}, [np.uint8], (),
                       {"x0": np.array([[0, 1, 127, 128], [200, 255, 3, 9], [4, 5, 6, 7]],
                                       np.uint8)}),
    **{f"int_{op}": (op, [(3, 4), (4,)], None, [np.int32, np.int32])
       for op in ("add", "sub", "mul", "div", "max", "min")},
    "u8_ops": ("max", [(3, 4), (4,)], None, [np.uint8, np.uint8]),
    "clip_i8": ("clip", [(3, 4)], {"min": -3, "max": 300}, [np.int8]),
    "abs_i8": ("abs", [(5,)], None, [np.int8]),
    "equal": ("equal", [(2, 3), (3,)]),
    "less": ("less", [(2, 3), (3,)]),
    "greater_u8": ("greater", [(2, 3), (3,)], None, [np.uint8, np.uint8]),
    "where": ("where", [(2, 1), (3,), (2, 3)], None, [np.bool_, np.float32, np.float32]),
    "not": ("not", [(4,)], None, [np.bool_]),
    "pow": ("pow", [(3, 4), ()], None, None, (1,)),
    "pow_int": ("pow", [(3,), (3,)], None, [np.int32, np.int32]),
    "prelu": ("prelu", [(2, 3, 4), (3, 1)], None, None, (1,)),
    "reshape": ("reshape", [(2, 3, 4)], {"shape": (4, 6)}),
    "transpose": ("transpose", [(2, 3, 4)], {"perm": (2, 0, 1)}),
    "expand": ("expand", [(3, 1)], {"shape": (2, 3, 4)}),
    "tile": ("tile", [(2, 3)], {"repeats": (2, 1)}),
    "slice": ("slice", [(5, 6)], {"starts": (1, 5), "ends": (4, -1), "axes": (0, 1),
                                  "steps": (2, -2)}),
    "pad_constant": ("pad", [(3, 4)], {"pads": (1, 2, 0, 1), "mode": "constant", "value": 1.5}),
    "pad_edge": ("pad", [(3, 4)], {"pads": (2, 1, 1, 3), "mode": "edge"}),
    "pad_reflect": ("pad", [(3, 4)], {"pads": (2, 1, 1, 3), "mode": "reflect"}),
    "pad_wrap": ("pad", [(3, 4)], {"pads": (2, 5, 1, 3), "mode": "wrap"}),
    "split": ("split", [(6, 2)], {"axis": 0, "sizes": (1, 2, 3)}),
    "concat": ("concat", [(2, 1, 3), (2, 4, 3), (2, 2, 3)], {"axis": 1}),
    "gather": (lambda b, x: b.gather(x, b.const(np.array([[2, -1], [0, 1]]), name="idx"), axis=1),
               [(3, 4)]),
    **{f"{op}_{axes}": (op, [(2, 3, 4)], {"axes": axes, "keepdims": True})
       for op in ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]
       for axes in [(1,), (0, 2)]},
    "reduce_mean_i32": ("reduce_mean", [(3, 5)], {"axes": (1,), "keepdims": False}, [np.int32]),
    "reduce_sum_i8": ("reduce_sum", [(3, 5)], {"axes": (0,)}, [np.int8]),
    "reduce_max_bool": ("reduce_max", [(3, 4)], {"axes": (1,)}, [np.bool_]),
    "softmax": ("softmax", [(2, 3, 4)], {"axis": 1}),
    "log_softmax": ("log_softmax", [(2, 3, 4)], {"axis": -1}),
    "softmax_f16": ("softmax", [(2, 5)], {"axis": 1}, [np.float16]),
    "quantize_i8": ("quantize", [(2, 3, 4)], {"scale": np.float32(0.05),
                                              "zero_point": np.int64(3), "axis": 1,
                                              "dtype": "i8"}),
    "quantize_u8": ("quantize", [(2, 3, 4)], {"scale": np.array([0.02, 0.1, 0.5], np.float32),
                                              "zero_point": np.array([0, 10, 200]), "axis": 1,
                                              "dtype": "u8"}),
    "dequantize": ("dequantize", [(2, 3)], {"scale": np.array([0.5, 0.25], np.float32),
                                            "zero_point": np.array([1, -2]), "axis": 0},
                   [np.int8]),
}
FUSED = {
    "fused_chain": (_chain, [(2, 3, 4), (3, 1)]),
    "fused_softmax_epilogue": (lambda b, x: b.relu(b.sub(b.softmax(b.mul(
        x, b.const(np.float32(2.0))), axis=1), b.const(np.float32(0.1)))), [(3, 5)]),
    "fused_scratch_epilogue": (lambda b, x: b.exp(b.sub(x, b.reduce_max(x, axes=(1,),
                                                                        keepdims=True))),
                               [(3, 4)]),
    # groups the fuse pass does not make but the IR allows (the staged form of lower.py)
    "fused_two_anchors": (lambda b, x: hand_fused(b, [x], lambda g, p: [g.relu(g.reduce_sum(
        g.softmax(p, axis=1), axes=(0,), keepdims=True))]), [(3, 5)]),
    "fused_reduction_two_outputs": (lambda b, x: hand_fused(b, [x], lambda g, p: (
        lambda m: [g.exp(g.sub(p, m)), m])(g.reduce_max(p, axes=(1,), keepdims=True))),
        [(3, 4)]),
}


def graph_specs() -> dict:
    """name -> (graph, feeds) for every entry of GRAPHS and FUSED (the latter fused)."""
    specs = {}
    for name, spec in {**GRAPHS, **FUSED}.items():
        op, shapes, *rest = spec
        attrs = rest[0] if len(rest) > 0 else None
        dtypes = rest[1] if len(rest) > 1 else None
        consts = rest[2] if len(rest) > 2 else ()
        override = rest[3] if len(rest) > 3 else None
        specs[name] = op_case(op, shapes, attrs, dtypes, consts, override, name in FUSED)
    return specs


def graph_cases():
    cases = []
    for name, (graph, feeds) in graph_specs().items():
        env = {**feeds, **run_traced(graph, feeds)}
        for node in graph.nodes:
            kernel = lower_node(node)
            inputs = {v.name: env[v.name] for v in node.inputs if v is not None and
                      not v.is_const}
            cases.append((name, kernel, kernel_args(node, inputs)))
    return cases


# -- hand-built kernels for scalar semantics ------------------------------------------------------

INT_EDGES = {
    DType.int8: [-128, -1, 0, 1, 7, -7, 127, 3],
    DType.uint8: [0, 1, 255, 128, 7, 200, 3, 9],
    DType.int32: [-(2 ** 31), -1, 0, 1, 7, -7, 2 ** 31 - 1, 3],
    DType.int64: [-(2 ** 63), -1, 0, 1, 7, -7, 2 ** 63 - 1, 3],
}
FLOAT_EDGES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -2.5, 7.0, -7.0, 3e10, 0.5, 2.5]
INT_OPS = ("add", "sub", "mul", "div", "mod", "floordiv", "max", "min", "lt", "le", "eq", "ne")
# (float mod is checked on finite values only: scalar.binary raises on fmod(inf, y), which should
# be NaN — reported to the loop-IR owner)
FLOAT_OPS = tuple(op for op in INT_OPS if op != "mod") + ("gt", "ge")
FINITE_EDGES = [0.0, -0.0, 1.5, -2.5, 7.0, -7.0, 3e4, 0.5, 2.5, -0.75, 1e-3, 5.0]


def _pairwise_kernel(name: str, dtype: DType, ops, casts=(), calls=()) -> Kernel:
    """out_<op>[i*n + j] = a[i] <op> b[j] for all pairs (and unary casts/calls of a)."""
    n = len(INT_EDGES.get(dtype, FLOAT_EDGES))
    a, b = Buffer("a", dtype, (n,)), Buffer("b", dtype, (n,))
    i, j = Var("i"), Var("j")
    outs, stores = [], []
    for op in ops:
        result = ir.Binary(op, Load(a, i), Load(b, j))
        out = Buffer(f"out_{op}", result.dtype, (n * n,), "output")
        outs.append(out)
        stores.append(Store(out, ir.add(ir.mul(i, n), j), result))
    unary = []
    for to in casts:
        out = Buffer(f"cast_{to.short}", to, (n,), "output")
        outs.append(out)
        unary.append(Store(out, i, ir.Cast(to, Load(a, i))))
    for fn in calls:
        out = Buffer(f"call_{fn}", dtype, (n,), "output")
        outs.append(out)
        unary.append(Store(out, i, ir.Call(fn, (Load(a, i),))))
    body = ir.block(For(i, ir.const(0), ir.const(n), ir.block(
        For(j, ir.const(0), ir.const(n), ir.block(*stores)), *unary)))
    return Kernel(name, (a, b, *outs), body)


def scalar_cases():
    cases = []
    for dtype, edges in INT_EDGES.items():
        values = np.array(edges, dtype.numpy)
        casts = [DType.float32, DType.int8, DType.uint8, DType.int64, DType.bool]
        kernel = _pairwise_kernel(f"ints_{dtype.short}", dtype, INT_OPS, casts, ["abs"])
        cases.append((f"scalar_{dtype.short}", kernel, {"a": values, "b": values[::-1].copy()}))
    for dtype in (DType.float32, DType.float64, DType.float16):
        with np.errstate(over="ignore"):  # 3e10 is inf in half
            values = np.array(FLOAT_EDGES, dtype.numpy)
        casts = [DType.int32, DType.int8, DType.uint8, DType.int64, DType.bool, DType.float64,
                 DType.float16 if dtype != DType.float16 else DType.float32]
        calls = ["exp", "log", "sqrt", "abs", "floor", "ceil", "round", "tanh", "erf"]
        kernel = _pairwise_kernel(f"floats_{dtype.short}", dtype, FLOAT_OPS, casts, calls)
        cases.append((f"scalar_{dtype.short}", kernel, {"a": values, "b": values[::-1].copy()}))
        finite = np.array(FINITE_EDGES, dtype.numpy)
        kernel = _pairwise_kernel(f"finite_{dtype.short}", dtype, ("mod", "floordiv", "div"))
        cases.append((f"scalar_{dtype.short}", kernel, {"a": finite, "b": finite[::-1].copy()}))
    return cases


def local_and_scratch_case():
    """A Let accumulator, an Allocate'd scratch row, an unrolled loop, bool memory."""
    x = Buffer("x", DType.float32, (4, 6))
    flags = Buffer("flags", DType.bool, (4,), "output")
    out = Buffer("out", DType.float32, (4,), "output")
    tmp = Buffer("tmp", DType.float32, (6,), "scratch")
    r, c, u = Var("r"), Var("c"), Var("u")
    acc = Var("acc", DType.float32)
    body = For(r, ir.const(0), ir.const(4), Allocate(tmp, ir.block(
        For(c, ir.const(0), ir.const(6), Store(tmp, c, ir.mul(Load(x, ir.add(ir.mul(r, 6), c)),
                                                              ir.const(2.0, DType.float32)))),
        Let(acc, ir.const(0.0, DType.float32)),
        For(u, ir.const(0), ir.const(6), Assign(acc, ir.add(acc, Load(tmp, u))), kind="unrolled"),
        Store(out, r, acc),
        Store(flags, r, ir.lt(acc, ir.const(0.0, DType.float32))))))
    kernel = Kernel("locals", (x, out, flags), body)
    return [("locals_scratch", kernel, {"x": _data((4, 6))})]


def all_cases():
    """(case name, kernel, args) for every case."""
    return graph_cases() + scalar_cases() + local_and_scratch_case()


CASE_NAMES = sorted({name for name, _, _ in graph_cases()} | {"scalar_i8", "scalar_u8",
                    "scalar_i32", "scalar_i64", "scalar_f32", "scalar_f64", "scalar_f16",
                    "locals_scratch"})


def rtol_for(kernel: Kernel) -> float:
    return 2e-3 if any(p.dtype == DType.float16 for p in kernel.params) else 1e-5


# -- checks a renderer's test calls with its own library factory -----------------------------------

def check_case(library, cases, case: str) -> None:
    """Every kernel of ``case`` in ``library`` (built from ``cases``) matches ``evaluate``."""
    found = 0
    for index, (name, kernel, args) in enumerate(cases):
        if name != case:
            continue
        with np.errstate(all="ignore"):
            want = evaluate(kernel, args)
        got = library.run(args, kernel=index)
        assert_matches(got, want, f"{case}: {kernel.name}", rtol_for(kernel))
        found += 1
    assert found


def check_integer_division_edges(library, cases) -> None:
    """The corner cases scalar.py defines, checked against numbers written out here too."""
    index = next(k for k, (name, _, _) in enumerate(cases) if name == "scalar_i8")
    a = np.array(INT_EDGES[DType.int8], np.int8)
    got = library.run({"a": a, "b": a[::-1].copy()}, kernel=index)
    div = got["out_div"].reshape(8, 8)
    assert div[0, 6] == -128  # -128 / -1 wraps (b reversed: b[6] = -1)
    assert div[1, 5] == 0  # -1 / 0 == 0
    assert got["out_mod"].reshape(8, 8)[0, 6] == 0


def _node_cases(graph, feeds):
    with np.errstate(all="ignore"):
        env = {**feeds, **run_traced(graph, feeds)}
    cases = []
    for node in graph.nodes:
        try:
            kernel = lower_node(node)
        except LoweringError:
            continue
        inputs = {v.name: env[v.name] for v in node.inputs if v is not None and not v.is_const}
        cases.append((node, kernel, kernel_args(node, inputs), env))
    return cases


def check_zoo_model_kernels(model: str, make_library) -> None:
    """Every node of an -O2 zoo model computes what the interpreter does (the interpreter, not
    the evaluator, is the oracle here: the evaluator is too slow for convs).

    The interpreter's matmul is numpy's BLAS, whose summation order (and so its rounding) depends
    on the kernel it picks for the CPU; an output made by cancellation (terms of magnitude 5
    summing to 4e-4) then differs from ours by a few ulps of the terms, which rtol on the tiny
    result does not cover. The comparison allows that rounding, per element, from the
    magnitudes of the terms (tests/rounding.py)."""
    graph = mlc.load(zoo_model_path(model))
    run_pipeline(graph, "O2")
    cases = _node_cases(graph, random_feeds(graph, seed=0))
    assert cases, "no node of this model lowers"
    library = make_library([k for _, k, _, _ in cases])
    for index, (node, kernel, args, env) in enumerate(cases):
        want = {v.name: np.asarray(env[v.name]) for v in node.outputs}
        feeds = {v.name: env[v.name] for v in node.inputs if v is not None and not v.is_const}
        assert_matches(library.run(args, kernel=index), want, kernel.name, rtol=1e-4,
                       bounds=rounding_bounds(node, feeds))


def check_random_fused_graph(graph, make_library) -> None:
    PassManager(parse_pipeline("fuse")).run(graph)
    cases = _node_cases(graph, random_feeds(graph, seed=1))
    if not cases:
        return
    library = make_library([k for _, k, _, _ in cases])
    for index, (_, kernel, args, _) in enumerate(cases):
        with np.errstate(all="ignore"):
            want = evaluate(kernel, args)
        assert_matches(library.run(args, kernel=index), want, kernel.name, rtol_for(kernel))


def workspace_kernel(n: int = 20000) -> Kernel:
    """Scratch over 64 KiB (workspace) and under (stack); a parallel loop reads a workspace
    buffer allocated outside it."""
    x = Buffer("x", DType.float32, (n,))
    out = Buffer("out", DType.float32, (n,), "output")
    big = Buffer("big", DType.float32, (n,), "scratch")
    big2 = Buffer("big2", DType.int32, (n + 1,), "scratch")
    small = Buffer("small", DType.float32, (16,), "scratch")
    i, j = Var("i"), Var("j")
    body = Allocate(big, Allocate(big2, Allocate(small, ir.block(
        For(i, ir.const(0), ir.const(n), ir.block(
            Store(big, i, ir.mul(Load(x, i), ir.const(3.0, DType.float32))),
            Store(big2, ir.add(i, 1), ir.cast(DType.int32, i)))),
        For(j, ir.const(0), ir.const(16), Store(small, j, ir.const(1.0, DType.float32))),
        For(i, ir.const(0), ir.const(n), Store(out, i, ir.add(ir.add(
            Load(big, i), ir.cast(DType.float32, Load(big2, ir.add(i, 1)))), Load(
                small, ir.mod(i, 16)))), kind="parallel")))))
    return Kernel("workspace", (x, out), body)
