"""The pattern rewriter: matching, commutativity, attribute constraints, checks, interior uses,
fixpoints with chained rewrites, and that the worklist always stops."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.interp import run
from mlc.ir import GraphBuilder, verify
from mlc.ops import OpError
from mlc.passes.rewrite import (PatternBuilder, RewriteError, RewritePass, Rule, RuleSet,
                                apply_rules)
from mlc.text import parse_text, print_graph

RNG = np.random.default_rng(0)


def ops(graph) -> list[str]:
    return [n.op for n in graph.nodes]


def dense_graph(bias_first: bool = False):
    b = GraphBuilder("dense")
    x = b.input("x", (2, 4))
    w = b.const(RNG.standard_normal((4, 3)).astype(np.float32), "w")
    c = b.const(np.ones(3, np.float32), "c")
    h = b.matmul(x, w)
    b.outputs(b.relu(b.add(c, h) if bias_first else b.add(h, c)))
    return b.graph


class DenseToGemm(Rule):
    """add(matmul(x, W), b) → gemm(x, W, b): a rule with all three parts."""

    commutative = True

    def pattern(self, p):
        return p.add(p.matmul(p.any("x"), p.const("w")), p.const("b"), commutative=self.commutative)

    def check(self, match):
        if match["x"].type.rank != 2:
            return f"x has rank {match['x'].type.rank}, gemm needs 2"
        return None

    def rewrite(self, match, b):
        return b.gemm(match["x"], match["w"], match["b"])


class StrictDenseToGemm(DenseToGemm):
    commutative = False


# -- matching ------------------------------------------------------------------------------------

def test_match_binds_names_and_the_rewrite_replaces_the_root():
    graph = dense_graph()
    before = run(graph, {"x": np.ones((2, 4), np.float32)}, as_list=True)
    assert apply_rules(graph, [DenseToGemm()]) is True
    verify(graph)
    assert ops(graph) == ["gemm", "relu"]
    gemm = graph.nodes[0]
    assert [v.name for v in gemm.inputs] == ["x", "w", "c"]
    after = run(graph, {"x": np.ones((2, 4), np.float32)}, as_list=True)
    np.testing.assert_allclose(after[0], before[0], rtol=1e-6)
    assert apply_rules(graph, [DenseToGemm()]) is False  # a fixpoint: nothing left to do


def test_match_object_gives_values_nodes_and_constants():
    class Capture(Rule):
        def pattern(self, p):
            return p.add(p.matmul(p.any("x"), p.const("w"), name="mm"), p.scalar("s"), name="sum")

        def check(self, match):
            seen.update(x=match["x"].name, mm=match.node("mm").op, w=match.const("w").shape,
                        s=match.scalar("s"), root=match.root.op, nodes=[n.op for n in match.nodes],
                        sum=match["sum"].name, has_y="y" in match)
            return "only looking"

    seen: dict = {}
    b = GraphBuilder()
    x = b.input("x", (2, 4))
    b.outputs(b.add(b.matmul(x, b.const(np.ones((4, 3), np.float32))), b.const(np.float32(2.5))))
    assert apply_rules(b.graph, [Capture()]) is False
    assert seen == {"x": "x", "mm": "matmul", "w": (4, 3), "s": 2.5, "root": "add",
                    "nodes": ["add", "matmul"], "sum": b.graph.outputs[0].name, "has_y": False}


def test_const_leaf_rejects_a_computed_value():
    b = GraphBuilder()
    x, w = b.input("x", (2, 4)), b.input("w", (4, 3))
    b.outputs(b.add(b.matmul(x, w), b.const(np.ones(3, np.float32))))
    assert apply_rules(b.graph, [DenseToGemm()]) is False


def test_commutative_tries_both_orders():
    graph = dense_graph(bias_first=True)  # add(c, matmul(x, w))
    assert apply_rules(graph, [StrictDenseToGemm()]) is False
    assert apply_rules(graph, [DenseToGemm()]) is True
    assert ops(graph) == ["gemm", "relu"]


def test_same_name_must_bind_the_same_value():
    class Silu(Rule):
        def pattern(self, p):
            x = p.any("x")
            return p.mul(x, p.sigmoid(x), commutative=True)

        def rewrite(self, match, b):
            return b.silu(match["x"])

    b = GraphBuilder()
    x, y = b.input("x", (3,)), b.input("y", (3,))
    b.outputs(b.mul(x, b.sigmoid(x)), b.mul(b.sigmoid(y), y), b.mul(x, b.sigmoid(y)))
    assert apply_rules(b.graph, [Silu()]) is True
    assert ops(b.graph) == ["silu", "silu", "sigmoid", "mul"]


def test_attribute_constraints_values_and_predicates():
    class LastAxisSoftmax(Rule):
        def pattern(self, p):
            return p.softmax(p.any("x"), axis=-1)

        def rewrite(self, match, b):
            return b.log_softmax(match["x"])

    class PositiveAxisSoftmax(LastAxisSoftmax):
        def pattern(self, p):
            return p.softmax(p.any("x"), axis=lambda a: a >= 0)

    b = GraphBuilder()
    x = b.input("x", (2, 3))
    b.outputs(b.softmax(x, axis=-1), b.softmax(x, axis=1), b.softmax(x, axis=0))
    assert apply_rules(b.graph, [LastAxisSoftmax()]) is True
    assert [(n.op, n.attrs["axis"]) for n in b.graph.nodes] == [
        ("log_softmax", -1), ("softmax", 1), ("softmax", 0)]
    assert apply_rules(b.graph, [PositiveAxisSoftmax()]) is True
    assert ops(b.graph) == ["log_softmax"] * 3


def test_float_attributes_match_within_float32_rounding():
    class HardSwish(Rule):
        def pattern(self, p):
            x = p.any("x")
            return p.mul(x, p.hard_sigmoid(x, alpha=1 / 6, beta=0.5))

        def rewrite(self, match, b):
            return b.hard_swish(match["x"])

    b = GraphBuilder()
    x = b.input("x", (4,))
    alpha = float(np.float32(1 / 6))  # what an ONNX model stores
    b.outputs(b.mul(x, b.hard_sigmoid(x, alpha=alpha, beta=0.5)),
              b.mul(x, b.hard_sigmoid(x, alpha=0.2, beta=0.5)))
    assert apply_rules(b.graph, [HardSwish()]) is True
    assert ops(b.graph) == ["hard_swish", "hard_sigmoid", "mul"]


def test_scalar_leaf_with_value_and_tolerance():
    class HalfSqrt2(Rule):
        def pattern(self, p):
            return p.div(p.any("x"), p.scalar("s", value=2 ** 0.5, rtol=1e-4))

        def rewrite(self, match, b):
            return b.mul(match["x"], b.const(np.float32(2 ** -0.5)))

    b = GraphBuilder()
    x = b.input("x", (4,))
    b.outputs(b.div(x, b.const(np.float32(1.4142))), b.div(x, b.const(np.float32(1.5))),
              b.div(x, b.const(np.full(2, 1.4142, np.float32)[:1])),
              b.div(x, b.const(np.full(4, 1.4142, np.float32))))
    assert apply_rules(b.graph, [HalfSqrt2()]) is True
    assert ops(b.graph) == ["mul", "div", "mul", "div"]  # 1.5 is not √2; four elements aren't one


def test_either_and_omitted_inputs():
    class BiaslessConv(Rule):
        def pattern(self, p):
            conv = p.conv2d(p.any("x"), p.const("w"), None)  # None: the bias must be omitted
            return p.either(p.relu(conv), p.sigmoid(conv))

        def rewrite(self, match, b):
            return b.tanh(match.root.inputs[0])

    b = GraphBuilder()
    x = b.input("x", (1, 2, 4, 4))
    w = b.const(np.ones((3, 2, 1, 1), np.float32))
    bias = b.const(np.ones(3, np.float32))
    b.outputs(b.relu(b.conv2d(x, w)), b.sigmoid(b.conv2d(x, w)), b.relu(b.conv2d(x, w, bias)))
    assert apply_rules(b.graph, [BiaslessConv()]) is True
    assert ops(b.graph) == ["conv2d", "tanh", "conv2d", "tanh", "conv2d", "relu"]


def test_optional_leaf_binds_an_omitted_input():
    class AnyConv(Rule):
        def pattern(self, p):
            return p.relu(p.conv2d(p.any("x"), p.const("w"), p.any("b", optional=True)))

        def rewrite(self, match, b):
            seen.append(match.get("b"))
            return b.sigmoid(b.conv2d(match["x"], match["w"], match.get("b")))

    seen: list = []
    b = GraphBuilder()
    x = b.input("x", (1, 2, 4, 4))
    w = b.const(np.ones((3, 2, 1, 1), np.float32))
    bias = b.const(np.ones(3, np.float32), "bias")
    b.outputs(b.relu(b.conv2d(x, w)), b.relu(b.conv2d(x, w, bias)))
    assert apply_rules(b.graph, [AnyConv()]) is True
    assert sorted(str(v and v.name) for v in seen) == ["None", "bias"]


# -- rejections ------------------------------------------------------------------------------------

def test_check_rejects_with_a_reason_that_explain_reports():
    b = GraphBuilder()
    x = b.input("x", (2, 3, 4))
    w, c = b.const(np.ones((4, 5), np.float32)), b.const(np.ones(5, np.float32))
    b.outputs(b.add(b.matmul(x, w), c))
    lines: list[str] = []
    assert apply_rules(b.graph, [DenseToGemm()], explain=lines.append) is False
    assert ops(b.graph) == ["matmul", "add"]
    assert len(lines) == 1 and "dense-to-gemm: rejected" in lines[0]
    assert "x has rank 3, gemm needs 2" in lines[0]


def test_explain_reports_near_misses_and_rewrites(capsys, monkeypatch):
    b = GraphBuilder()
    x = b.input("x", (2, 4))
    w = b.const(np.ones((4, 3), np.float32))
    c = b.const(np.ones(3, np.float32))
    b.outputs(b.add(b.matmul(x, w), b.matmul(x, w)), b.add(b.matmul(x, w), c))
    monkeypatch.setenv("MLC_EXPLAIN_REWRITES", "1")
    assert apply_rules(b.graph, [DenseToGemm()]) is True
    err = capsys.readouterr().err
    assert "dense-to-gemm: no match" in err and "the pattern has a constant" in err
    assert "dense-to-gemm: rewrote" in err
    monkeypatch.setenv("MLC_EXPLAIN_REWRITES", "0")
    apply_rules(b.graph, [DenseToGemm()])
    assert capsys.readouterr().err == ""


class SiluRule(Rule):
    def pattern(self, p):
        x = p.any("x")
        return p.mul(x, p.sigmoid(x), commutative=True)

    def rewrite(self, match, b):
        return b.silu(match["x"])


class SharingSiluRule(SiluRule):
    allow_interior_uses = True


def test_interior_value_used_elsewhere_rejects_the_match():
    b = GraphBuilder()
    x = b.input("x", (3,))
    s = b.sigmoid(x)
    b.outputs(b.mul(x, s), b.add(s, s))  # the sigmoid is also read outside the pattern
    lines: list[str] = []
    assert apply_rules(b.graph, [SiluRule()], explain=lines.append) is False
    assert "inside the match" in lines[0] and "also read by" in lines[0]
    assert apply_rules(b.graph, [SharingSiluRule()]) is True
    assert ops(b.graph) == ["sigmoid", "silu", "add"]  # the shared sigmoid stays


def test_interior_graph_output_rejects_the_match():
    b = GraphBuilder()
    x = b.input("x", (3,))
    s = b.sigmoid(x)
    b.outputs(b.mul(x, s), s)
    assert apply_rules(b.graph, [SiluRule()]) is False


# -- the driver ------------------------------------------------------------------------------------

class SubConstToAdd(Rule):
    """sub(x, c) → add(x, -c)."""

    def pattern(self, p):
        return p.sub(p.any("x"), p.const("c"))

    def rewrite(self, match, b):
        return b.add(match["x"], b.const(-match.const("c")))


class AddAddConsts(Rule):
    """add(add(x, c1), c2) → add(x, c1 + c2)."""

    def pattern(self, p):
        return p.add(p.add(p.any("x"), p.const("c1")), p.const("c2"))

    def rewrite(self, match, b):
        return b.add(match["x"], b.const(match.const("c1") + match.const("c2"), "sum"))


def test_chained_rewrites_reach_a_fixpoint_and_keep_output_names():
    graph = parse_text("""
    graph @g(%x: f32[3]) -> (f32[3]) {
      @one: f32[] = 1.0
      @two: f32[] = 2.0
      @three: f32[] = 3.0
      %a = sub(%x, @one) : f32[3]
      %b = add(%a, @two) : f32[3]
      %y = sub(%b, @three) : f32[3]
      return %y
    }""")
    feeds = {"x": np.arange(3, dtype=np.float32)}
    before = run(graph, feeds, as_list=True)
    assert apply_rules(graph, RuleSet([SubConstToAdd(), AddAddConsts()])) is True
    verify(graph)
    # Every sub became an add (new nodes go back on the worklist) and the adds folded into one;
    # the constants the rewrites no longer read are gone, the output keeps its name, and the
    # second "sum" takes the plain name once the first is deleted.
    assert print_graph(graph) == print_graph(parse_text("""
    graph @g(%x: f32[3]) -> (f32[3]) {
      @sum: f32[] = -2.0
      %y = add(%x, @sum) : f32[3]
      return %y
    }"""))
    np.testing.assert_allclose(run(graph, feeds, as_list=True)[0], before[0])


class ReluRelu(Rule):
    def pattern(self, p):
        return p.relu(p.relu(p.any("x")))

    def rewrite(self, match, b):
        return match.root.inputs[0]


def test_idempotent_chain_collapses():
    b = GraphBuilder()
    h = b.input("x", (3,))
    for _ in range(6):
        h = b.relu(h)
    b.outputs(h)
    assert apply_rules(b.graph, [ReluRelu()]) is True
    assert ops(b.graph) == ["relu"]


def test_rules_that_undo_each_other_stop_with_an_error():
    class Swap(Rule):
        def pattern(self, p):
            return p.add(p.any("a"), p.any("b"))

        def rewrite(self, match, b):
            return b.add(match["b"], match["a"])

    b = GraphBuilder()
    x, y = b.input("x", (3,)), b.input("y", (3,))
    b.outputs(b.add(x, y))
    with pytest.raises(RewriteError, match="fixpoint after 50 rewrites.*swap"):
        apply_rules(b.graph, [Swap()], max_rewrites=50)


def test_a_rewrite_that_gives_back_the_root_is_no_change():
    class Decline(Rule):
        def pattern(self, p):
            return p.relu(p.any("x"))

        def rewrite(self, match, b):
            return match.root.outputs[0]

    b = GraphBuilder()
    b.outputs(b.relu(b.input("x", (3,))))
    assert apply_rules(b.graph, [Decline()]) is False


def test_first_rule_in_order_wins():
    class ToTanh(SiluRule):
        def rewrite(self, match, b):
            return b.tanh(match["x"])

    b = GraphBuilder()
    x = b.input("x", (3,))
    b.outputs(b.mul(x, b.sigmoid(x)))
    apply_rules(b.graph, RuleSet([ToTanh()]) + [SiluRule()])
    assert ops(b.graph) == ["tanh"]


def test_a_rewrite_must_keep_types():
    class Broken(Rule):
        def pattern(self, p):
            return p.relu(p.any("x"))

        def rewrite(self, match, b):
            return b.reduce_sum(match["x"])

    b = GraphBuilder()
    b.outputs(b.relu(b.input("x", (3,))))
    with pytest.raises(RewriteError, match="broken replaced %.*f32\\[3\\].*f32\\[1\\]"):
        apply_rules(b.graph, [Broken()])


def test_pattern_mistakes_fail_when_the_rule_is_built():
    p = PatternBuilder()
    with pytest.raises(OpError, match="unknown op 'matmull'"):
        p.matmull(p.any())
    with pytest.raises(ValueError, match="no attribute 'axes'.*axis"):
        p.softmax(p.any(), axes=1)
    with pytest.raises(ValueError, match="commutative"):
        p.relu(p.any(), commutative=True)

    class LeafRoot(Rule):
        def pattern(self, p):
            return p.any("x")

    with pytest.raises(TypeError, match="must return p.<op>"):
        RuleSet([LeafRoot()]).by_root_op()


def test_rule_names_default_to_kebab_case():
    assert DenseToGemm.name == "dense-to-gemm"
    assert SiluRule.name == "silu"
    assert SubConstToAdd().name == "sub-const-to-add"


def test_rewrite_pass_is_a_pass_with_explain_and_max_rewrites_options(capsys):
    class SiluPass(RewritePass):
        """Recognise x·sigmoid(x)."""

        def rules(self):
            return RuleSet([SiluRule()])

    from dataclasses import dataclass

    pass_ = dataclass(SiluPass)(explain=True)
    assert {f.name for f in pass_.options()} == {"explain", "max_rewrites"}
    b = GraphBuilder()
    x = b.input("x", (3,))
    b.outputs(b.mul(b.sigmoid(x), x))
    assert pass_.run(b.graph) is True
    assert ops(b.graph) == ["silu"]
    assert "silu: rewrote" in capsys.readouterr().err


def test_a_rewrite_that_returns_none_declines_and_no_later_rule_gets_the_node():
    class Decline(SiluRule):
        def rewrite(self, match, b):
            return None

    b = GraphBuilder()
    x = b.input("x", (3,))
    b.outputs(b.mul(x, b.sigmoid(x)))
    lines: list[str] = []
    assert apply_rules(b.graph, RuleSet([Decline(), SiluRule()]), explain=lines.append) is False
    assert ops(b.graph) == ["sigmoid", "mul"] and lines == []


def test_producers_first_visits_the_graph_from_its_first_node():
    class Note(Rule):
        def pattern(self, p):
            return p.relu(p.any("x"))

        def check(self, match):
            seen.append(match.root.output.name)
            return "only looking"

    b = GraphBuilder()
    h = b.input("x", (3,))
    for name in "abc":
        h = b.relu(h, output_names=[name])
    b.outputs(h)
    seen: list[str] = []
    apply_rules(b.graph, [Note()])
    assert seen == ["c", "b", "a"]
    seen.clear()
    apply_rules(b.graph, [Note()], producers_first=True)
    assert seen == ["a", "b", "c"]


def test_a_replacement_that_already_exists_takes_a_graph_outputs_name():
    b = GraphBuilder()
    x = b.input("x", (3,))
    b.outputs(b.relu(b.relu(x), output_names=["y"]))
    assert apply_rules(b.graph, [ReluRelu()]) is True
    assert ops(b.graph) == ["relu"] and [v.name for v in b.graph.outputs] == ["y"]


def test_extend_replaces_the_last_node_of_a_chain_after_the_root():
    class NegThenRelus(Rule):
        """neg(x) and the relus that alone read it → one abs of x (wrong, but easy to see)."""

        def pattern(self, p):
            return p.neg(p.any("x"))

        def rewrite(self, match, b):
            chain, value = [], match.root.output
            while len(value.uses) == 1 and value.uses[0].node.op == "relu":
                chain.append(value.uses[0].node)
                value = chain[-1].output
            match.extend(chain)
            return b.op("abs", match["x"], output_names=[None]) if chain else None

    graph = parse_text("""
    graph @g(%x: f32[3]) -> (f32[3], f32[3]) {
      %n = neg(%x) : f32[3]
      %r1 = relu(%n) : f32[3]
      %k = exp(%x) : f32[3]
      %r2 = relu(%r1) : f32[3]
      %out = sigmoid(%r2) : f32[3]
      return %out, %k
    }""")
    assert apply_rules(graph, [NegThenRelus()]) is True
    verify(graph)
    assert print_graph(graph) == print_graph(parse_text("""
    graph @g(%x: f32[3]) -> (f32[3], f32[3]) {
      %k = exp(%x) : f32[3]
      %r2 = abs(%x) : f32[3]
      %out = sigmoid(%r2) : f32[3]
      return %out, %k
    }"""))
