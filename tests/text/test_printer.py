"""The printed form: exact spellings of names, types, numbers, attributes, bodies and constants."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.ir import DType, Graph, GraphBuilder
from mlc.ir.graph import Node, Value
from mlc.ir.types import TensorType
from mlc.text import INLINE_LIMIT, external_constants, parse_text, print_graph, print_node


def test_a_small_graph_prints_as_documented():
    b = GraphBuilder("mlp")
    x = b.input("x", (1, 4))
    bias = b.const(np.array([1, 2, 3, 4], np.float32), name="fc.b")
    h = b.relu(b.add(x, bias), output_names=["h"])
    b.outputs(h, x)
    assert print_graph(b.graph) == (
        "graph @mlp(%x: f32[1,4]) -> (f32[1,4], f32[1,4]) {\n"
        "  @fc.b: f32[4] = [1.0, 2.0, 3.0, 4.0]\n"
        "  %0 = add(%x, @fc.b) : f32[1,4]\n"
        "  %h = relu(%0) : f32[1,4]\n"
        "  return %h, %x\n"
        "}\n")


@pytest.mark.parametrize("name, printed", [
    ("plain_name.0-1", "%plain_name.0-1"),
    ("my tensor/0", '%"my tensor/0"'),
    ('say "hi"', '%"say \\"hi\\""'),
    ("naïve", '%"na\\u00efve"'),
    ("*/", '%"*/"'),
    ("a\nb", '%"a\\nb"'),
])
def test_names_outside_the_bare_set_print_quoted_json_in_ascii(name, printed):
    b = GraphBuilder("g")
    x = b.input(name, (2,))
    b.outputs(x)
    text = print_graph(b.graph)
    assert text.isascii()
    assert f"graph @g({printed}: f32[2])" in text
    assert parse_text(text).inputs[0].name == name


def test_floats_print_shortest_and_parse_back_bit_exactly():
    values = np.array([0.1, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4028235e38, 1 / 3, 16777217],
                      np.float32)
    b = GraphBuilder("g")
    b.outputs(b.const(values, name="c"))
    text = print_graph(b.graph)
    assert "@c: f32[9] = [0.1, -0.0, inf, -inf, nan, 1e-45, 3.4028235e+38, 0.33333334, 1.6777216e+07]" in text
    back = parse_text(text).constants["c"].const
    assert back.dtype == np.float32
    assert back.tobytes() == values.tobytes()


@pytest.mark.parametrize("array, literal", [
    (np.array(0.1, np.float16), "f16[] = 0.1"),
    (np.array([0.1], np.float64), "f64[1] = [0.1]"),
    (np.array([-128, 127], np.int8), "i8[2] = [-128, 127]"),
    (np.array([2**63 - 1], np.int64), "i64[1] = [9223372036854775807]"),
    (np.array([[True, False]]), "bool[1,2] = [true, false]"),
    (np.zeros((0, 3), np.float32), "f32[0,3] = []"),
])
def test_inline_constants_spell_their_dtype_and_values(array, literal):
    b = GraphBuilder("g")
    b.outputs(b.const(array, name="c"))
    text = print_graph(b.graph)
    assert f"@c: {literal}\n" in text
    back = parse_text(text).constants["c"].const
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()


def test_constants_above_the_inline_limit_print_as_external():
    b = GraphBuilder("g")
    small = b.const(np.zeros(INLINE_LIMIT, np.float32), name="small")
    big = b.const(np.zeros(INLINE_LIMIT + 1, np.float32), name="big")
    b.outputs(small, big)
    text = print_graph(b.graph)
    assert f"@small: f32[{INLINE_LIMIT}] = [0.0" in text
    assert f"@big: f32[{INLINE_LIMIT + 1}] = external\n" in text
    assert list(external_constants(b.graph)) == ["big"]
    assert "external" not in print_graph(b.graph, inline_limit=None)


def test_attributes_print_in_declaration_order_without_defaults(attr_op):
    b = GraphBuilder("g")
    x = b.input("x", (2,))
    y = b.op(attr_op, x, req=7, b=True, fs=(float("inf"), 1e-300), i=-1, f=-0.0, s='a"b', ints=(),
             dt=DType.int8, arr=np.array([0.5, -1.0], np.float32))
    z = b.op(attr_op, x, None, req=1, i=3, f=0.5, s="same", ints=(1, 2), fs=(0.25,), dt="f32")
    b.outputs(y, z)
    text = print_graph(b.graph)
    assert ('%0 = text_test_attrs(%x) {req=7, i=-1, f=-0.0, s="a\\"b", ints=[], fs=[inf,1e-300], '
            'dt=i8, arr=f32[2] [0.5, -1.0], b=true} : f32[2]\n') in text
    assert "%1 = text_test_attrs(%x, _) {req=1} : f32[2]\n" in text
    assert print_graph(parse_text(text)) == text


def test_a_zero_d_array_attribute_prints_a_bare_scalar(attr_op):
    b = GraphBuilder("g")
    b.outputs(b.op(attr_op, b.input("x", ()), req=0, arr=np.array(3, np.uint8)))
    assert "{req=0, arr=u8[] 3}" in print_graph(b.graph)


def test_fused_bodies_print_nested_with_their_own_constants_and_names():
    body = GraphBuilder("group")
    p = body.input("p0", (2,))
    body.outputs(body.relu(body.add(p, body.const(np.float32(1.5), name="k"))))
    b = GraphBuilder("g")
    x = b.input("x", (2,))
    node = b.node("fused", x, body=body.graph, output_names=["y"], name="Relu_7")
    b.outputs(node.outputs[0])
    assert print_graph(b.graph) == (
        "graph @g(%x: f32[2]) -> (f32[2]) {\n"
        "  %y = fused(%x) {\n"
        "    ^group(%p0: f32[2]):\n"
        "    @k: f32[] = 1.5\n"
        "    %0 = add(%p0, @k) : f32[2]\n"
        "    %1 = relu(%0) : f32[2]\n"
        "    yield %1\n"
        '  } : f32[2] loc("Relu_7")\n'
        "  return %y\n"
        "}\n")
    assert print_node(node).splitlines()[0] == "%y = fused(%x) {"


def test_large_body_constants_get_an_explicit_sidecar_key():
    body = GraphBuilder("group")
    p = body.input("p0", (20,))
    body.outputs(body.add(p, body.const(np.arange(20, dtype=np.float32), name="w")))
    b = GraphBuilder("g")
    b.const(np.ones(20, np.float32), name="y/w")  # would clash with the body key "y/w"
    node = b.node("fused", b.input("x", (20,)), body=body.graph, output_names=["y"])
    b.outputs(node.outputs[0])
    text = print_graph(b.graph)
    assert '@w: f32[20] = external "y/w~2"\n' in text
    arrays = external_constants(b.graph)
    assert sorted(arrays) == ["y/w", "y/w~2"]
    assert print_graph(parse_text(text, arrays)) == text


def test_symbolic_dims_print_bare_or_quoted():
    b = GraphBuilder("g")
    b.outputs(b.input("x", ("N", 3, "batch size", "7", "true", "f32")))
    text = print_graph(b.graph)
    assert '%x: f32[N,3,"batch size","7",true,f32]' in text
    assert parse_text(text).inputs[0].shape == ("N", 3, "batch size", "7", "true", "f32")


def test_print_node_never_raises_on_a_broken_node():
    dangling = Value("ghost", TensorType((1,), "f32"))
    broken = Node("no_such_op", [dangling, None], [Value("out", None)],  # type: ignore[arg-type]
                  attrs={"weird": object(), "k": 2})
    text = print_node(broken)
    assert "no_such_op(%ghost, _)" in text and "%out" in text

    class Hostile:
        def __getattr__(self, name):
            raise RuntimeError("boom")

    assert "<?>" in print_node(Hostile())  # type: ignore[arg-type]


def test_graph_str_is_the_printed_text():
    g = Graph("empty")
    assert str(g) == "graph @empty() -> () {\n  return\n}\n"
    assert print_graph(parse_text(str(g))) == str(g)


def test_print_graph_shows_the_rest_of_a_graph_around_a_broken_node():
    b = GraphBuilder("g")
    x = b.input("x", (2,))
    y = b.relu(x)
    b.outputs(y)
    y.producer.outputs.append(Value("typeless", None))  # type: ignore[arg-type]
    lines = print_graph(b.graph).splitlines()
    assert lines[0] == "graph @g(%x: f32[2]) -> (f32[2]) {"
    assert "relu(%x)" in lines[1] and "%typeless" in lines[1]
    assert lines[2:] == ["  return %0", "}"]
