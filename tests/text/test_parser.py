"""Parsing: hand-written text builds the intended graph; every mistake is a located ParseError."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.errors import ParseError
from mlc.interp import run
from mlc.ir import DType
from mlc.text import parse_text, print_graph

HAND_WRITTEN = """\
// comments and free layout are accepted; types after ':' may be left to inference
graph @"hand made"(%x: f32[2,3],
                   %w: f32[3,2]) -> (f32[2,2], f32[2,1], f32[2,1]) {
  @bias: f32[2] = [0.5, -0.5]
  %mm = matmul(%x, %w)
  %y = add(%mm, @bias) : f32[2,2]   // trailing comment
  %a, %b = split(%y) {axis=1, sizes=[1,1]}
  return %y, %a, %b
}
"""


def test_hand_written_text_builds_the_intended_graph():
    g = parse_text(HAND_WRITTEN)
    assert g.name == "hand made"
    assert [v.name for v in g.inputs] == ["x", "w"]
    assert [n.op for n in g.nodes] == ["matmul", "add", "split"]
    assert g.nodes[2].attrs == {"axis": 1, "sizes": (1, 1)}
    assert [str(v.type) for v in g.outputs] == ["f32[2,2]", "f32[2,1]", "f32[2,1]"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    w = np.ones((3, 2), np.float32)
    out = run(g, {"x": x, "w": w})
    np.testing.assert_array_equal(out["y"], x @ w + np.array([0.5, -0.5], np.float32))
    np.testing.assert_array_equal(out["a"], out["y"][:, :1])


def test_the_canonical_form_is_the_printed_one():
    text = print_graph(parse_text(HAND_WRITTEN))
    assert "//" not in text
    assert "  %mm = matmul(%x, %w) : f32[2,2]\n" in text
    assert print_graph(parse_text(text)) == text


def test_defaults_are_filled_through_the_registry(attr_op):
    g = parse_text(f"graph @g(%x: f32[2]) -> (f32[2]) {{\n"
                   f"  %y = {attr_op}(%x) {{req=4, b=true, f=2}}\n  return %y\n}}\n")
    attrs = g.nodes[0].attrs
    assert attrs["req"] == 4 and attrs["b"] is True and attrs["i"] == 3
    assert attrs["f"] == 2.0 and isinstance(attrs["f"], float)
    assert attrs["ints"] == (1, 2) and attrs["fs"] == (0.25,) and attrs["dt"] is DType.float32
    assert attrs["arr"] is None


def test_array_attributes_parse_to_typed_arrays(attr_op):
    g = parse_text(f"graph @g(%x: f32[2]) -> (f32[2]) {{\n"
                   f"  %y = {attr_op}(%x) {{req=0, arr=i8[2,1] [-3, 4]}}\n  return %y\n}}\n")
    arr = g.nodes[0].attrs["arr"]
    assert arr.dtype == np.int8 and arr.shape == (2, 1) and arr.tolist() == [[-3], [4]]


def _graph(*lines: str, header: str = "graph @g(%x: f32[2]) -> (f32[2]) {") -> str:
    return "\n".join([header, *("  " + line for line in lines), "}"]) + "\n"


ERRORS = [
    # (text, line, column, fragment of the first message line)
    (_graph("%y = frobnicate(%x) : f32[2]", "return %y"), 2, 8, "unknown op 'frobnicate'"),
    (_graph("%y = relu(%z) : f32[2]", "return %y"), 2, 13, "unknown value %z"),
    (_graph("%x = relu(%x) : f32[2]", "return %x"), 2, 3, "%x is already defined (line 1, column 10)"),
    (_graph("%y = relu(%x) : f32[3]", "return %y"), 2, 19,
     "type annotation f32[3] of %y disagrees with the registry's inference f32[2]"),
    (_graph("%y = relu(%x) : i32[2]", "return %y"), 2, 19, "disagrees"),
    (_graph("%y = relu(%x : f32[2]", "return %y"), 2, 16, "unexpected ':'; expected one of: ')', ','"),
    (_graph("%y = relu(%x) : f32[2]", "return %y").rstrip("}\n"), 3, 12, "unexpected end of input"),
    (_graph("%y = relu(%x) : f32[2]", "return %y $"), 3, 13, "unexpected character '$'"),
    (_graph("%y = relu(%x) {alpha=1} : f32[2]", "return %y"), 2, 18, "op relu has no attribute alpha"),
    (_graph("%y = leaky_relu(%x) {alpha=true} : f32[2]", "return %y"), 2, 30,
     "attribute alpha of leaky_relu expects a number, got true"),
    (_graph("%y = leaky_relu(%x) {alpha=1, alpha=2} : f32[2]", "return %y"), 2, 33,
     "attribute alpha is given twice"),
    (_graph("%a, %b = split(%x) {axis=0, sizes=[1.5,0.5]}", "return %a"), 2, 37,
     "expects a list of integers"),
    (_graph("%a, %b, %c = split(%x) {axis=0, sizes=[1,1]}", "return %a"), 2, 16,
     "split produces 2 result(s) here but the text names 3"),
    (_graph("%y = concat(%x, %x) : f32[4]", "return %y"), 2, 8, "needs attribute axis"),
    (_graph("@w: f32[3] = external", "return %x"), 2, 16, "stored externally"),
    (_graph("@w: f32[2] = [1, 2, 3]", "return %x"), 2, 16, "holds 2 element(s), the literal has 3"),
    (_graph("@w: i8[2] = [1, 300]", "return %x"), 2, 19, "300 is out of range for i8"),
    (_graph("@w: i32[1] = [1.5]", "return %x"), 2, 17, "1.5 is not an integer"),
    (_graph("@w: bool[1] = [1]", "return %x"), 2, 18, "must be true or false"),
    (_graph("@w: f16[1] = [1e10]", "return %x"), 2, 17, "out of range for f16"),
    (_graph("@w: f32[N] = [1]", "return %x"), 2, 16, "symbolic dims"),
    (_graph("@w: f32[1] = [1]", "%y = add(%x, %w) : f32[2]", "return %y"), 3, 16,
     "%w is a constant; write @w"),
    (_graph("%y = relu(@x) : f32[2]", "return %y"), 2, 13, "@x is not a constant; write %x"),
    (_graph('%"bad\\q" = relu(%x) : f32[2]', "return %x"), 2, 3, "malformed quoted name"),
    (_graph('%"" = relu(%x) : f32[2]', "return %x"), 2, 3, "a name cannot be empty"),
    (_graph("%y = relu(%x) : f32[2]", "return %y", header="graph @g(%x: f32[2]) -> (f32[3]) {"),
     3, 10, "the returned values have types (f32[2]) but the graph's signature declares (f32[3])"),
    (_graph("%y = fused(%x) : f32[2]", "return %y"), 2, 8, "op fused needs a body"),
    (_graph("%y = relu(%x) {", "  ^b(%p: f32[2]):", "  yield %p", "} : f32[2]", "return %y"), 2, 17,
     "op relu takes no body"),
    (_graph("%y = fused(%x) {", "  ^b(%p: f32[3]):", "  yield %p", "} : f32[3]", "return %y"), 2, 18,
     "the body's parameters (f32[3]) do not match the node's inputs (f32[2])"),
    (_graph("%y = fused(%x) {", "  ^b(%p: f32[2]):", "  %q = relu(%x) : f32[2]", "  yield %q",
            "} : f32[2]", "return %y"), 4, 15, "unknown value %x"),
]


@pytest.mark.parametrize("text, line, column, fragment", ERRORS,
                         ids=[e[3][:40] for e in ERRORS])
def test_mistakes_are_parse_errors_with_file_line_column_and_context(text, line, column, fragment):
    with pytest.raises(ParseError) as info:
        parse_text(text, source="model.mlc")
    first, *context = info.value.message.splitlines()
    assert first.startswith(f"model.mlc: line {line}, column {column}: "), first
    assert fragment in first
    bad_line = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
    assert context and context[0].strip() in bad_line.strip() or not bad_line
    assert context[-1].index("^") == len("    ") + column - 1


def test_an_unknown_op_message_lists_nothing_else():
    with pytest.raises(ParseError) as info:
        parse_text(_graph("%y = frobnicate(%x) : f32[2]", "return %y"))
    first = info.value.message.splitlines()[0]
    assert first == "<text>: line 2, column 8: unknown op 'frobnicate'"


def test_syntax_errors_name_what_was_expected_in_words():
    with pytest.raises(ParseError) as info:
        parse_text("graph @g(%x: float[2]) -> () {\n  return\n}\n")
    message = info.value.message
    assert "line 1, column 14" in message and "a dtype (f32, i64, bool, …)" in message


def test_node_locations_and_none_attributes_parse():
    g = parse_text(_graph('%y = leaky_relu(%x) {alpha=none} loc("LeakyRelu_0")', "return %y"))
    assert g.nodes[0].name == "LeakyRelu_0"
    assert g.nodes[0].attrs["alpha"] is None


DOCUMENTED = """\
graph @mnist(%x: f32[1,1,28,28]) -> (f32[1,4,28,28]) {
  @shape: i64[2] = [1, -1]
  @conv1.w: f32[8,1,3,3] = external
  %0 = conv2d(%x, @conv1.w, _) {pads=[1,1,1,1]} : f32[1,8,28,28]
  %a, %b = split(%0) {axis=1, sizes=[4,4]} : f32[1,4,28,28], f32[1,4,28,28]
  %1 = fused(%a) {
    ^body(%p0: f32[1,4,28,28]):
    %t = relu(%p0) : f32[1,4,28,28]
    yield %t
  } : f32[1,4,28,28] loc("Relu_3")
  return %1
}
"""


def test_the_documented_example_parses_and_prints_back_unchanged():
    w = np.random.default_rng(0).standard_normal((8, 1, 3, 3)).astype(np.float32)
    g = parse_text(DOCUMENTED, {"conv1.w": w})
    assert print_graph(g) == DOCUMENTED
    x = np.random.default_rng(1).standard_normal((1, 1, 28, 28)).astype(np.float32)
    y = run(g, {"x": x})["1"]
    assert y.shape == (1, 4, 28, 28) and (y >= 0).all()
