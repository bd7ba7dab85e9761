"""Instruments: timing rows, print-after-all, numbered IR dumps, and the numerics check.

The passes are defined here (``ti-*``): correct ones, and deliberately wrong ones the numerics
check must catch and name.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import mlc
from mlc.ir import Graph, GraphBuilder
from mlc.passes import Pass, PassError, PassManager, register_pass
from mlc.passes.instruments import CheckNumerics, DumpIR, NumericsError, PrintAfterAll, Timing
from mlc.text import parse_text, print_graph

BIAS = np.array([0.5, -1.0, 2.0], dtype=np.float32)


def small_graph() -> Graph:
    """y = relu(relu(x + b) * 2): an add the wrong passes corrupt, a removable relu-after-relu."""
    b = GraphBuilder("small")
    x = b.input("x", (2, 3))
    h = b.relu(b.relu(b.add(x, b.const(BIAS, name="b"))))
    b.outputs(b.mul(h, b.const(np.float32(2.0), name="two")))
    return b.graph


@register_pass("ti-drop-double-relu")
class DropDoubleRelu(Pass):
    """relu(relu(x)) -> relu(x): correct."""

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in list(graph.nodes):
            source = node.inputs[0] if node.op == "relu" else None
            if source is not None and source.producer is not None and source.producer.op == "relu":
                node.output.replace_all_uses_with(source)
                graph.remove_node(node)
                changed = True
        return changed


@register_pass("ti-add-to-sub")
class AddToSub(Pass):
    """Wrong: builds sub(a, b) under a fresh name where the graph says add(a, b)."""

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in [n for n in graph.nodes if n.op == "add"]:
            new = GraphBuilder(graph=graph, insert_before=node).sub(*node.inputs)
            node.output.replace_all_uses_with(new)
            graph.remove_node(node)
            changed = True
        return changed


@register_pass("ti-corrupt-bias")
class CorruptBias(Pass):
    """Wrong, in place: the add keeps its output name but reads a different constant."""

    delta: float = 1.0

    def run(self, graph: Graph) -> bool:
        for node in graph.nodes:
            if node.op == "add" and node.inputs[1].is_const:
                node.set_input(1, graph.add_constant(node.inputs[1].const + np.float32(self.delta)))
                return True
        return False


@register_pass("ti-scale-output")
class ScaleOutput(Pass):
    """Wrong at the very end: the graph output becomes a new value, nothing matched differs."""

    def run(self, graph: Graph) -> bool:
        out = graph.outputs[0]
        b = GraphBuilder(graph=graph)
        graph.outputs = [b.mul(out, b.const(np.float32(3.0)))]
        return True


@register_pass("ti-relu-to-abs")
class ReluToAbs(Pass):
    """Wrong only for negative inputs: relu -> abs."""

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in [n for n in graph.nodes if n.op == "relu"]:
            new = GraphBuilder(graph=graph, insert_before=node).abs(node.inputs[0])
            node.output.replace_all_uses_with(new)
            graph.remove_node(node)
            changed = True
        return changed


@register_pass("ti-unrunnable")
class Unrunnable(Pass):
    """Wrong: swaps in a kernel input the interpreter cannot compute (a declared type that lies)."""

    def run(self, graph: Graph) -> bool:
        node = graph.nodes[0]
        node.output.type = node.output.type.__class__((3, 2), node.output.dtype)
        return True


# -- timing -----------------------------------------------------------------------------------------

def test_timing_has_one_row_per_pass_run():
    timing = Timing()
    PassManager([DropDoubleRelu(), DropDoubleRelu()], instruments=[timing]).run(small_graph())
    rows = timing.report()
    assert [(r.index, r.spec, r.changed) for r in rows] == [
        (1, "ti-drop-double-relu", True), (2, "ti-drop-double-relu", False)]
    assert all(r.seconds >= 0 for r in rows) and timing.total == sum(r.seconds for r in rows)


# -- print after all --------------------------------------------------------------------------------

def test_print_after_all_prints_a_header_and_the_ir_after_each_pass():
    stream = io.StringIO()
    graph = small_graph()
    PassManager([DropDoubleRelu(), CorruptBias(delta=0.0)],
                instruments=[PrintAfterAll(stream)]).run(graph)
    text = stream.getvalue()
    headers = re.findall(r"^// ----- IR after .* -----$", text, flags=re.M)
    assert headers == ["// ----- IR after 1. ti-drop-double-relu -----",
                       "// ----- IR after 2. ti-corrupt-bias{delta=0.0} -----"]
    first, second = re.split(r"^// ----- IR after .* -----\n", text, flags=re.M)[1:]
    assert first.count("relu(") == 1 and "sub(" not in first
    assert print_graph(parse_text(second)) == print_graph(graph)  # the IR is the real thing


# -- dump -------------------------------------------------------------------------------------------

def test_dump_ir_writes_numbered_files_that_load_back(tmp_path):
    folder = tmp_path / "dump" / "nested"
    graph = small_graph()
    original = print_graph(graph)
    dump = DumpIR(folder)
    PassManager([DropDoubleRelu(), DropDoubleRelu()], instruments=[dump]).run(graph)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["000-input.mlc", "001-ti-drop-double-relu.mlc", "002-ti-drop-double-relu.mlc"]
    assert [p.name for p in dump.files] == names
    assert print_graph(mlc.load(folder / "000-input.mlc")) == original
    assert print_graph(mlc.load(folder / "002-ti-drop-double-relu.mlc")) == print_graph(graph)


def test_dump_ir_replaces_the_files_of_an_earlier_run_and_nothing_else(tmp_path):
    PassManager([DropDoubleRelu(), DropDoubleRelu()], instruments=[DumpIR(tmp_path)]).run(small_graph())
    (tmp_path / "notes.txt").write_text("mine")
    PassManager([DropDoubleRelu()], instruments=[DumpIR(tmp_path)]).run(small_graph())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "000-input.mlc", "001-ti-drop-double-relu.mlc", "notes.txt"]


def test_dump_ir_writes_sidecars_for_large_constants(tmp_path):
    b = GraphBuilder("big")
    x = b.input("x", (1, 64))
    b.outputs(b.relu(b.relu(b.add(x, b.const(np.arange(64, dtype=np.float32).reshape(1, 64))))))
    PassManager([DropDoubleRelu()], instruments=[DumpIR(tmp_path)]).run(b.graph)
    assert (tmp_path / "000-input.npz").exists() and (tmp_path / "001-ti-drop-double-relu.npz").exists()
    reloaded = mlc.load(tmp_path / "001-ti-drop-double-relu.mlc")
    assert print_graph(reloaded) == print_graph(b.graph)


def test_dump_ir_into_a_file_path_is_a_pass_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(PassError, match="cannot use the dump folder"):
        PassManager([DropDoubleRelu()], instruments=[DumpIR(blocker / "sub")]).run(small_graph())


# -- numerics ---------------------------------------------------------------------------------------

def check(*passes: Pass, **options) -> CheckNumerics:
    numerics = CheckNumerics(**options)
    PassManager(list(passes), instruments=[numerics]).run(small_graph())
    return numerics


def test_correct_passes_pass_the_check():
    numerics = check(DropDoubleRelu(), DropDoubleRelu())
    assert numerics.checked == 2


def test_names_the_pass_and_the_node_whose_result_changed_in_place():
    with pytest.raises(NumericsError) as info:
        check(DropDoubleRelu(), CorruptBias())
    err = info.value
    assert (err.pass_index, err.pass_spec) == (2, "ti-corrupt-bias")
    line = err.one_line()
    assert line.startswith("check-numerics: pass 2. ti-corrupt-bias changed the outputs")
    assert "rtol 0.0001, atol 1e-05" in line
    assert err.node.startswith("%") and "= add(%x, @" in err.node  # printed with print_node
    assert err.max_abs_err == pytest.approx(1.0)


def test_a_replacement_under_a_fresh_name_is_named_beside_the_first_matched_node():
    with pytest.raises(NumericsError) as info:
        check(AddToSub())
    err = info.value
    assert (err.pass_index, err.pass_spec) == (1, "ti-add-to-sub")
    # the add's result has a new name, so its first reader is the first node that can be
    # compared; the sub the pass added is named as what it reads
    first, added = err.node.split(", which reads what this pass added: ")
    assert "= relu(" in first
    assert "= sub(%x, @b)" in added
    assert 0 < err.max_abs_err <= 2 * np.abs(BIAS).max()  # |relu(x - b) - relu(x + b)| <= 2|b|


def test_an_output_changed_with_no_matching_node_is_named_with_its_error():
    with pytest.raises(NumericsError) as info:
        check(DropDoubleRelu(), ScaleOutput())
    err = info.value
    assert err.pass_index == 2 and err.node is None
    line = err.one_line()
    assert "pass 2. ti-scale-output changed the outputs" in line
    assert re.search(r"output 0 %\S+ differs by max abs err", line)
    assert err.max_abs_err > 0


def test_outputs_are_compared_with_the_original_not_the_previous_pass():
    # each nudge of the bias moves the output (bias * 2) by 0.6 * atol: one stays inside, two do not
    with pytest.raises(NumericsError) as info:
        check(CorruptBias(delta=3e-4), CorruptBias(delta=3e-4), rtol=0.0, atol=1e-3)
    assert info.value.pass_index == 2


def test_given_feeds_are_used_and_others_are_seeded():
    positive = {"x": np.abs(np.random.default_rng(1).standard_normal((2, 3))).astype(np.float32) + 3}
    assert check(ReluToAbs(), feeds=positive).checked == 1  # relu == abs on x + b > 0
    with pytest.raises(NumericsError, match="ti-relu-to-abs"):
        check(ReluToAbs())  # seeded normal inputs make x + b negative somewhere
    with pytest.raises(NumericsError):
        check(ReluToAbs(), seed=7)


def test_an_interpreter_failure_after_a_pass_is_charged_to_it():
    numerics = CheckNumerics()
    manager = PassManager([DropDoubleRelu(), Unrunnable()], verify_each=False,
                          instruments=[numerics])
    with pytest.raises(NumericsError) as info:
        manager.run(small_graph())
    assert "the interpreter fails after pass 2. ti-unrunnable" in info.value.one_line()


def test_numerics_error_is_a_pass_error():
    assert issubclass(NumericsError, PassError)
