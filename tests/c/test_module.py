"""model.c and model.h as a whole: restrict only where the memory plan allows it, mlc_run's
argument checks, model.h's macros, and the weights formats."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import numpy as np

import mlc
from mlc.inputs import make_feeds
from mlc.interp import run
from mlc.runtime import load, read_manifest
from mlc.testing.models import zoo_model_path


def _kernel_signatures(artifact) -> list[str]:
    text = (Path(artifact) / "model" / "model.c").read_text()
    return [line for line in text.splitlines()
            if re.match(r"static void k\d+_\w+\(", line) and "_task" not in line]


def test_in_place_kernels_drop_restrict_and_stay_right(tmp_path):
    """At -O0 the planner runs each relu in place over its input: the two pointers alias, so
    neither may be restrict; every other kernel keeps restrict on every pointer."""
    graph = mlc.load(zoo_model_path("digits_mlp"))
    artifact = mlc.compile(graph, target="c", output=tmp_path / "o0", level="O0", werror=True)
    signatures = _kernel_signatures(artifact)
    in_place = [s for s in signatures if "_relu_" in s]
    assert in_place and all("restrict p_" not in s for s in in_place)
    others = [s for s in signatures if s not in in_place]
    assert others and all(s.count("restrict") == s.count(",") + 1 for s in others)
    feeds = make_feeds(graph)
    (got,) = load(artifact).run(feeds)
    np.testing.assert_allclose(got, run(graph, feeds, as_list=True)[0], rtol=1e-5, atol=1e-6)


def test_mlc_run_refuses_null_and_misaligned_pointers_and_writes_nothing(tmp_path):
    graph = mlc.load(zoo_model_path("digits_cnn"))
    artifact = mlc.compile(graph, target="c", output=tmp_path / "cnn")
    manifest = read_manifest(artifact)
    lib = ctypes.CDLL(str(Path(artifact) / "model.so"))
    lib.mlc_run.argtypes = [ctypes.c_void_p] * 3
    lib.mlc_arena_bytes.restype = ctypes.c_size_t
    assert lib.mlc_arena_bytes() == manifest.arena_bytes
    x = np.zeros(manifest.inputs[0].shape, np.float32)
    out = np.full(manifest.outputs[0].shape, 7.0, np.float32)
    arena = np.zeros(manifest.arena_bytes + 128, np.uint8)
    aligned = arena.ctypes.data + (-arena.ctypes.data % 64)
    ins = (ctypes.c_void_p * 1)(x.ctypes.data)
    outs = (ctypes.c_void_p * 1)(out.ctypes.data)
    null_in = (ctypes.c_void_p * 1)(None)
    for args in ((None, outs, aligned), (ins, None, aligned), (ins, outs, None),
                 (null_in, outs, aligned), (ins, outs, aligned + 4)):
        assert lib.mlc_run(*args) == 1  # MLC_ERR_ARGUMENT
    assert np.all(out == 7.0)  # nothing written
    assert lib.mlc_run(ins, outs, aligned) == 0 and not np.all(out == 7.0)


def test_model_h_describes_the_tensors_and_the_arena(tmp_path):
    graph = mlc.load(zoo_model_path("tiny_transformer"))
    artifact = mlc.compile(graph, target="c", output=tmp_path / "tt")
    manifest = read_manifest(artifact)
    header = (Path(artifact) / "model" / "model.h").read_text()
    assert f"#define MLC_MODEL_ARENA_BYTES {manifest.arena_bytes}\n" in header
    assert f"#define MLC_MODEL_INPUT_BYTES {{ {manifest.inputs[0].nbytes} }}" in header
    assert "#define MLC_MODEL_INPUT_tokens 0 /* int64 1x64 */" in header
    assert '#include "mlc_runtime.h"' in header


def test_weights_c_holds_exact_literals():
    """Every weight array of weights.c, parsed back as a C compiler does (nearest float to the
    decimal), is bit-identical to the array the program placed."""
    from mlc.backends.c.module import RenderOptions, render_program
    from mlc.backends.names import NameTable
    from mlc.backends.loop.schedule import default_schedules
    from mlc.backends.program import build_program

    program = build_program(mlc.load(zoo_model_path("digits_cnn")), level="O2",
                            schedules=default_schedules("avx512"))
    text = render_program(program, RenderOptions(weights="c")).files["weights.c"]
    arrays = dict((name, body) for name, body in re.findall(
        r"const float (\w+)\[\d+\] MLC_ALIGNED\(\d+\) = \{(.*?)\};", text, re.S))
    assert len(arrays) == len(program.weights.entries)
    names = NameTable({"mlc_run", "mlc_arena_bytes"})  # as render_program names them, in order
    for entry in program.weights.entries.values():
        body = arrays[names.prefixed(entry.key, "mlc_w_")]
        parsed = np.array([float(v.strip().rstrip("f")) for v in body.split(",")], np.float32)
        assert parsed.tobytes() == entry.array.astype(np.float32).tobytes(), entry.key


def test_a_body_constant_named_like_a_graph_value_binds_to_its_own_data(tmp_path):
    """A fused body holding constants named "x" and "w", like the graph's input and weight:
    the kernel owns the body's constants, so the program binds "x" to the input and "w" to the
    outer weight (it looked every name up in one table where the body's constants won)."""
    from mlc.ir import GraphBuilder
    from tests.loop.helpers import hand_fused

    rng = np.random.default_rng(0)
    b = GraphBuilder("g")
    x = b.input("x", (2, 4))
    w = b.const(rng.standard_normal((2, 4)).astype(np.float32), name="w")
    (y,) = hand_fused(b, [x, w], lambda g, p, q: [g.add(
        g.mul(p, g.const(rng.standard_normal((4,)).astype(np.float32), name="x")),
        g.mul(q, g.const(rng.standard_normal((2, 4)).astype(np.float32), name="w")))])
    b.outputs(y)
    artifact = mlc.compile(b.graph, target="c", output=tmp_path / "a", level="O0")
    feeds = {"x": rng.standard_normal((2, 4)).astype(np.float32)}
    (got,) = load(artifact).run(feeds)
    np.testing.assert_allclose(got, run(b.graph, feeds, as_list=True)[0], rtol=1e-6, atol=0)
