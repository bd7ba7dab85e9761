"""Untrusted names never reach generated C raw: a model whose graph and tensor names hold ``*/``,
quotes, newlines, C keywords, leading digits, non-ASCII text and colliding spellings still
compiles warning-free (host and Cortex-M4) and computes the right thing, and no generated file
contains any of those names or characters raw (identifiers and comments use sanitized forms)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import mlc
from mlc.backends.names import C_KEYWORDS, NameTable, clean
from mlc.interp import run
from mlc.runtime import load
from tests.mcu.tools import need

PAYLOAD = "payload"
EVIL = {
    "model": f'evil */ #include "{PAYLOAD}"\n',
    "input": f"in*/{PAYLOAD}",
    "weight": f'quote"{PAYLOAD}',
    "bias": f"line\n{PAYLOAD}",
    "hidden": "int",
    "hidden2": "3d",
    "hidden3": f"名前{PAYLOAD}",
    "a_dot": "a.b",
    "a_under": "a_b",
    "output": "return",
}


def evil_model(path) -> None:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 6)).astype(np.float32), EVIL["weight"])
    b = numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), EVIL["bias"])
    nodes = [
        helper.make_node("MatMul", [EVIL["input"], EVIL["weight"]], [EVIL["hidden"]],
                         name='node*/"x"'),
        helper.make_node("Add", [EVIL["hidden"], EVIL["bias"]], [EVIL["hidden2"]]),
        helper.make_node("Relu", [EVIL["hidden2"]], [EVIL["hidden3"]]),
        helper.make_node("Sigmoid", [EVIL["hidden3"]], [EVIL["a_dot"]]),
        helper.make_node("Tanh", [EVIL["hidden3"]], [EVIL["a_under"]]),
        helper.make_node("Add", [EVIL["a_dot"], EVIL["a_under"]], [EVIL["output"]]),
    ]
    graph = helper.make_graph(
        nodes, EVIL["model"], [helper.make_tensor_value_info(EVIL["input"], TensorProto.FLOAT,
                                                             [3, 4])],
        [helper.make_tensor_value_info(EVIL["output"], TensorProto.FLOAT, [3, 6]),
         helper.make_tensor_value_info(EVIL["a_dot"], TensorProto.FLOAT, [3, 6])],
        [w, b])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _generated_text(artifact) -> str:
    from pathlib import Path

    model = Path(artifact) / "model"
    return "\n".join(p.read_text() for p in sorted(model.iterdir()) if p.suffix in (".c", ".h"))


@pytest.mark.parametrize("target", ["c", "c-cortex-m4"])
def test_evil_names_compile_clean_and_never_appear_raw(tmp_path, target):
    if target != "c":
        need("cmake", "arm-none-eabi-gcc", "qemu-system-arm")
    evil_model(tmp_path / "evil.onnx")
    graph = mlc.load(tmp_path / "evil.onnx")
    artifact = mlc.compile(graph, target=target, output=tmp_path / "out", werror=True)
    text = _generated_text(artifact)
    assert text.isascii()
    for dangerous in (f"*/{PAYLOAD}", f'"{PAYLOAD}', f"\n{PAYLOAD}", f"#include \"{PAYLOAD}"):
        assert dangerous not in text, dangerous  # sanitized forms (in_payload) may appear
    for raw in EVIL.values():
        if not raw.isidentifier():  # (keywords are checked by compiling: used raw, they'd fail)
            assert raw not in text, raw
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    got = load(artifact).run({EVIL["input"]: x})
    want = run(graph, {EVIL["input"]: x}, as_list=True)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_name_table_sanitizes_prefixes_and_disambiguates():
    table = NameTable()
    names = [table.prefixed(raw, "p_") for raw in ("a.b", "a_b", "a b", 'x*/"y"\n', "名前", "")]
    assert names[:3] == ["p_a_b", "p_a_b_2", "p_a_b_3"]
    assert names[3] == "p_x_y" and names[4] == "p" and names[5] == "p_2"
    assert all(n.isascii() and n.isidentifier() and "__" not in n for n in names)
    assert clean("__init__") == "init" and len(clean("x" * 200)) <= 48


def test_variables_keep_mlc_names_and_never_become_keywords_or_helpers():
    table = NameTable()
    assert table.variable("i0") == "i0" and table.variable("acc3") == "acc3"
    assert table.variable("i0") == "v_i0"  # taken: a new name, never a redeclaration
    for raw in ("int", "for", "3d", "mlc_add_i32", "_x", "ws", "ctx"):
        name = table.variable(raw)
        assert name not in C_KEYWORDS and name != raw and name.isidentifier()
