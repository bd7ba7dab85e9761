"""PassManager: verify-each names the pass that broke the graph, fixpoint stops, history, hooks.

The passes here are small ones defined in this file (names start with ``tm-``) so the manager is
tested apart from the built-in optimisations.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlc.ir import Graph, GraphBuilder
from mlc.passes import Instrument, Pass, PassError, PassManager, register_pass, run_pipeline


@register_pass("tm-noop")
class NoOp(Pass):
    """Change nothing."""

    def run(self, graph: Graph) -> bool:
        return False


@register_pass("tm-peel-relu")
class PeelRelu(Pass):
    """Remove ONE relu that reads a relu per run, so a fixpoint needs several rounds."""

    def run(self, graph: Graph) -> bool:
        for node in graph.nodes:
            source = node.inputs[0] if node.inputs else None
            if node.op == "relu" and source is not None and source.producer is not None \
                    and source.producer.op == "relu":
                node.output.replace_all_uses_with(source)
                graph.remove_node(node)
                return True
        return False


@register_pass("tm-always-changes")
class AlwaysChanges(Pass):
    """Claim a change every time (a buggy pass): a fixpoint must still end."""

    def run(self, graph: Graph) -> bool:
        return True


@register_pass("tm-break-order")
class BreakOrder(Pass):
    """Move the last node to the front: its inputs are then used before they are defined."""

    def run(self, graph: Graph) -> bool:
        graph.nodes.insert(0, graph.nodes.pop())
        return True


@register_pass("tm-crash")
class Crash(Pass):
    """Raise a plain exception, as a buggy pass would."""

    def run(self, graph: Graph) -> bool:
        raise ZeroDivisionError("division by zero")


def relu_chain(length: int = 4) -> Graph:
    b = GraphBuilder("chain")
    x = b.input("x", (2, 3))
    h = b.neg(x)
    for _ in range(length):
        h = b.relu(h)
    b.outputs(h)
    return b.graph


def ops(graph: Graph) -> list[str]:
    return [n.op for n in graph.nodes]


def test_runs_passes_in_order_and_records_history():
    graph = relu_chain(3)
    manager = PassManager([NoOp(), PeelRelu(), NoOp()])
    assert manager.run(graph) is True
    assert ops(graph) == ["neg", "relu", "relu"]
    assert [(r.index, r.spec, r.changed) for r in manager.history] == [
        (1, "tm-noop", False), (2, "tm-peel-relu", True), (3, "tm-noop", False)]


def test_without_changes_run_returns_false():
    graph = relu_chain(1)
    manager = PassManager([PeelRelu(), NoOp()])
    assert manager.run(graph) is False
    assert ops(graph) == ["neg", "relu"]


def test_fixpoint_repeats_until_nothing_changes():
    graph = relu_chain(4)
    manager = PassManager([PeelRelu(), NoOp()], fixpoint=True)
    assert manager.run(graph) is True
    assert ops(graph) == ["neg", "relu"]
    # three rounds that each peel one relu, then one round where nothing changes
    assert [r.changed for r in manager.history if r.spec == "tm-peel-relu"] == [True] * 3 + [False]
    assert [r.index for r in manager.history] == list(range(1, 9))


def test_fixpoint_is_bounded_by_max_iterations():
    manager = PassManager([AlwaysChanges()], fixpoint=True, max_iterations=3)
    manager.run(relu_chain(1))
    assert len(manager.history) == 3


def test_without_fixpoint_the_list_runs_once():
    graph = relu_chain(4)
    manager = PassManager([PeelRelu()])
    manager.run(graph)
    assert ops(graph) == ["neg", "relu", "relu", "relu"] and len(manager.history) == 1


def test_verify_each_names_the_breaking_pass_and_the_passes_before():
    manager = PassManager([NoOp(), PeelRelu(), BreakOrder(), NoOp()])
    with pytest.raises(PassError) as info:
        manager.run(relu_chain(3))
    message = info.value.one_line()
    assert "pass tm-break-order left an invalid graph" in message
    assert "(after tm-noop, tm-peel-relu)" in message
    assert "used before it is defined" in message  # the verifier's reason, with the node
    assert [r.spec for r in manager.history][-1] == "tm-break-order"


def test_verify_each_can_be_turned_off():
    graph = relu_chain(2)
    PassManager([BreakOrder()], verify_each=False).run(graph)
    assert ops(graph)[0] == "relu"  # the broken order stays: nobody checked


def test_a_crashing_pass_is_named_with_the_exception():
    with pytest.raises(PassError) as info:
        PassManager([NoOp(), Crash()]).run(relu_chain(1))
    message = info.value.one_line()
    assert "pass tm-crash crashed (ZeroDivisionError: division by zero)" in message
    assert "after tm-noop" in message


class Recorder(Instrument):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def run_start(self, graph: Graph) -> None:
        self.events.append(("start", len(graph.nodes)))

    def before_pass(self, index, pass_, graph) -> None:
        self.events.append(("before", index, pass_.spec(), len(graph.nodes)))

    def after_pass(self, index, pass_, graph, changed) -> None:
        self.events.append(("after", index, pass_.spec(), len(graph.nodes), changed))

    def run_end(self, graph: Graph) -> None:
        self.events.append(("end", len(graph.nodes)))


def test_instruments_see_every_pass_with_the_graph_before_and_after():
    recorder = Recorder()
    PassManager([PeelRelu(), NoOp()], instruments=[recorder]).run(relu_chain(2))
    assert recorder.events == [
        ("start", 3),
        ("before", 1, "tm-peel-relu", 3), ("after", 1, "tm-peel-relu", 2, True),
        ("before", 2, "tm-noop", 2), ("after", 2, "tm-noop", 2, False),
        ("end", 2),
    ]


def test_instruments_do_not_see_a_pass_that_fails_verification():
    recorder = Recorder()
    with pytest.raises(PassError):
        PassManager([NoOp(), BreakOrder()], instruments=[recorder]).run(relu_chain(1))
    assert [e[:3] for e in recorder.events if e[0] == "after"] == [("after", 1, "tm-noop")]


def test_run_pipeline_parses_a_string_and_keeps_numerics():
    graph = relu_chain(3)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    from mlc.interp import run

    before, = run(graph, {"x": x}, as_list=True)
    assert run_pipeline(graph, "tm-peel-relu,tm-peel-relu", fixpoint=True) is graph
    assert ops(graph) == ["neg", "relu"]
    after, = run(graph, {"x": x}, as_list=True)
    np.testing.assert_array_equal(after, before)



@register_pass("tm-peel-relu-here")
class PeelReluHere(PeelRelu):
    """PeelRelu that notes which graphs it ran on; it does not want fused bodies."""

    def run(self, graph: Graph) -> bool:
        self.seen.append(graph.name)
        return super().run(graph)

    def __post_init__(self) -> None:
        self.seen: list[str] = []


@register_pass("tm-peel-relu-in-bodies")
class PeelReluInBodies(PeelReluHere):
    """PeelReluHere, declared to want the bodies of fused nodes too."""

    bodies = True


NESTED = """
graph @outer(%x: f32[4]) -> (f32[4]) {
  %f = fused(%x) {
    ^mid(%p: f32[4]):
    %g = fused(%p) {
      ^inner(%q: f32[4]):
      %a = relu(%q)
      %b = relu(%a)
      yield %b
    }
    %c = relu(%g)
    %d = relu(%c)
    yield %d
  }
  %e = relu(%f)
  %h = relu(%e)
  return %h
}
"""


def test_a_pass_that_declares_bodies_runs_on_every_fused_body_innermost_first():
    from mlc.text import parse_text

    graph, pass_ = parse_text(NESTED), PeelReluInBodies()
    assert PassManager([pass_]).run(graph) is True
    assert pass_.seen == ["inner", "mid", "outer"]
    middle = graph.nodes[0].body
    assert ops(graph) == ops(middle) == ["fused", "relu"]
    assert ops(middle.nodes[0].body) == ["relu"]


def test_a_pass_that_does_not_declare_bodies_never_sees_them():
    from mlc.text import parse_text

    graph, pass_ = parse_text(NESTED), PeelReluHere()
    run_pipeline(graph, [pass_])
    assert pass_.seen == ["outer"]
    assert ops(graph) == ["fused", "relu"]
    assert ops(graph.nodes[0].body) == ["fused", "relu", "relu"]
