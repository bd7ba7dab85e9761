"""`mlc opt`, `mlc passes` and `mlc show -O`: pipelines from the command line, their instruments
(print-after-all, dump, timing, check-numerics), pass plugins, and the errors a user sees.

The passes come from a plugin file written here (names ``to-*``), so these tests exercise the
command line apart from the built-in optimisations; the -O2 tests run once those are registered.
"""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import onnx
import pytest

import mlc
from mlc.passes import PIPELINES, all_passes

PLUGIN = '''
"""Passes for the CLI tests: correct ones and deliberately wrong ones."""
from mlc.ir import GraphBuilder
from mlc.passes import Pass, register_pass


def _replace(graph, node, op, inputs):
    new = GraphBuilder(graph=graph, insert_before=node).op(op, *inputs)
    node.output.replace_all_uses_with(new)
    graph.remove_node(node)


@register_pass("to-swap-add")
class SwapAdd(Pass):
    """Write add(a, b) as add(b, a): correct."""

    def run(self, graph):
        adds = [n for n in graph.nodes if n.op == "add"]
        for node in adds:
            _replace(graph, node, "add", node.inputs[::-1])
        return bool(adds)


@register_pass("to-add-to-sub")
class AddToSub(Pass):
    """Turn add into sub: deliberately wrong."""

    def run(self, graph):
        adds = [n for n in graph.nodes if n.op == "add"]
        for node in adds:
            _replace(graph, node, "sub", node.inputs)
        return bool(adds)


@register_pass("to-break-order")
class BreakOrder(Pass):
    """Move the last node first: leaves an invalid graph."""

    def run(self, graph):
        graph.nodes.insert(0, graph.nodes.pop())
        return True


@register_pass("to-knobs")
class Knobs(Pass):
    """Change nothing, with options."""

    max_group: int = 8
    keep_last: bool = False

    def run(self, graph):
        return False
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugin") / "cli_passes.py"
    path.write_text(textwrap.dedent(PLUGIN))
    return path


def x_feed() -> np.ndarray:
    return np.random.default_rng(3).standard_normal((2, 4)).astype(np.float32)


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- running pipelines ------------------------------------------------------------------------------

def test_opt_O0_writes_text_ir(models, invoke, tmp_path):
    out = tmp_path / "mlp.mlc"
    result = invoke("opt", models.mlp, "-O0", "-o", out)
    assert result.exit_code == 0, result.output
    assert "(3 -> 3 nodes, -O0)" in result.stdout
    graph = mlc.load(out)
    from mlc.interp import run

    y, = run(graph, {"x": x_feed()}, as_list=True)
    np.testing.assert_allclose(y, models.expected(x_feed()), rtol=1e-5, atol=1e-6)


def test_opt_without_output_prints_the_optimised_ir(models, invoke, plugin):
    result = invoke("opt", models.mlp, "-p", "to-swap-add", "--load-pass", plugin)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("graph @tiny")
    assert re.search(r"= add\(@b, %h\)", result.stdout)
    assert result.stderr == ""


def test_opt_writes_onnx_that_onnxruntime_runs(models, invoke, plugin, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "swapped.onnx"
    result = invoke("opt", models.mlp, "-p", "to-swap-add", "--load-pass", plugin, "-o", out)
    assert result.exit_code == 0, result.output
    onnx.checker.check_model(onnx.load(out))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y, = session.run(None, {"x": x_feed()})
    np.testing.assert_allclose(y, models.expected(x_feed()), rtol=1e-5, atol=1e-6)


def test_dash_O_takes_an_attached_level_in_the_installed_script(models, mlc_exe):
    result = mlc_exe("opt", models.mlp, "-O0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("graph @tiny")


@pytest.mark.parametrize("level", ["1", "2"])
def test_opt_levels_keep_numerics_and_p_accepts_a_level(models, invoke, tmp_path, level):
    import onnxruntime as ort

    first, second = tmp_path / "a.onnx", tmp_path / "b.mlc"
    result = invoke("opt", models.mlp, f"-O{level}", "-o", first, "--check-numerics")
    assert result.exit_code == 0, result.output
    assert invoke("opt", models.mlp, "-p", f"O{level}", "-o", second).exit_code == 0
    assert mlc.load(first).nodes and mlc.load(second).nodes
    session = ort.InferenceSession(str(first), providers=["CPUExecutionProvider"])
    y, = session.run(None, {"x": x_feed()})
    np.testing.assert_allclose(y, models.expected(x_feed()), rtol=1e-4, atol=1e-5)


# -- instruments ------------------------------------------------------------------------------------

def test_print_ir_after_all_goes_to_stderr_after_each_pass(models, invoke, plugin):
    result = invoke("opt", models.mlp, "-p", "to-knobs{max-group=2},to-swap-add",
                    "--load-pass", plugin, "--print-ir-after-all")
    assert result.exit_code == 0, result.output
    headers = re.findall(r"^// ----- IR after .* -----$", result.stderr, flags=re.M)
    assert headers == ["// ----- IR after 1. to-knobs{max-group=2} -----",
                       "// ----- IR after 2. to-swap-add -----"]
    after_knobs, after_swap = re.split(r"^// -----.*\n", result.stderr, flags=re.M)[1:]
    assert "add(%h, @b)" in after_knobs and "add(@b, %h)" in after_swap
    assert "// -----" not in result.stdout and "add(@b, %h)" in result.stdout


def test_dump_dir_holds_numbered_files(models, invoke, plugin, tmp_path):
    folder = tmp_path / "dump"
    result = invoke("opt", models.mlp, "-p", "to-knobs,to-swap-add", "--load-pass", plugin,
                    "--dump-dir", folder, "-o", tmp_path / "out.mlc")
    assert result.exit_code == 0, result.output
    assert files_in(folder) == ["000-input.mlc", "001-to-knobs.mlc", "002-to-swap-add.mlc"]
    assert "add(@b, %h)" in (folder / "002-to-swap-add.mlc").read_text()
    assert "add(%h, @b)" in (folder / "000-input.mlc").read_text()


def test_time_passes_prints_a_table_on_stderr(models, invoke, plugin):
    result = invoke("opt", models.mlp, "-p", "to-knobs,to-swap-add", "--load-pass", plugin,
                    "--time-passes")
    assert result.exit_code == 0, result.output
    for needle in ("pass timing", "to-knobs", "to-swap-add", "total", "seconds"):
        assert needle in result.stderr
    assert result.stdout.startswith("graph")


# -- check-numerics ---------------------------------------------------------------------------------

def test_check_numerics_names_the_wrong_pass_and_node_and_writes_nothing(models, invoke, plugin,
                                                                         tmp_path, one_line_error):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = invoke("opt", models.mlp, "-p", "to-knobs,to-add-to-sub,to-knobs", "--load-pass",
                    plugin, "--check-numerics", "-o", out_dir / "bad.mlc")
    assert result.exit_code == 1
    line = one_line_error(result.stderr, "check-numerics: pass 2. to-add-to-sub changed the outputs")
    # the first node that differs is the relu reading the replaced add; the sub it reads is named
    assert re.search(r"the first node that differs \(max abs err [0-9.e+-]+\): %y = relu\(", line)
    assert "= sub(%h, @b)" in line
    assert files_in(out_dir) == []


def test_check_numerics_with_correct_passes_exits_0(models, invoke, plugin, tmp_path):
    out = tmp_path / "good.mlc"
    result = invoke("opt", models.mlp, "-p", "to-swap-add,to-knobs", "--load-pass", plugin,
                    "--check-numerics", "-o", out)
    assert result.exit_code == 0, result.output
    assert "check-numerics: the outputs stayed within rtol 0.0001, atol 1e-05 through all 2" \
        in result.stderr
    assert out.exists()


def test_check_numerics_uses_given_inputs(models, invoke, plugin, tmp_path):
    zeros = tmp_path / "x.npy"
    np.save(zeros, np.zeros((2, 4), np.float32))  # x @ w = 0: relu(b) vs relu(-b) still differ
    result = invoke("opt", models.mlp, "-p", "to-add-to-sub", "--load-pass", plugin,
                    "--check-numerics", "--input", f"x={zeros}", "--atol", "10")
    assert result.exit_code == 0, result.output  # within a (silly) atol of 10


def test_the_installed_script_exits_non_zero_on_wrong_numerics(models, mlc_exe, plugin):
    result = mlc_exe("opt", models.mlp, "-p", "to-add-to-sub", "--load-pass", plugin,
                     "--check-numerics")
    assert result.returncode == 1
    assert "to-add-to-sub" in result.stderr and "Traceback" not in result.stderr
    ok = mlc_exe("opt", models.mlp, "-p", "to-swap-add", "--load-pass", plugin, "--check-numerics")
    assert ok.returncode == 0, ok.stderr


# -- errors -----------------------------------------------------------------------------------------

def test_unknown_pass_lists_the_known_ones(models, invoke, plugin, tmp_path, one_line_error):
    result = invoke("opt", models.mlp, "-p", "to-knobs,dcee", "--load-pass", plugin,
                    "-o", tmp_path / "x.mlc")
    assert result.exit_code == 1
    line = one_line_error(result.stderr, "unknown pass 'dcee'", "known passes:", "to-swap-add")
    for name in all_passes():
        assert name in line
    assert not (tmp_path / "x.mlc").exists()


def test_bad_option_names_the_pass_options(models, invoke, plugin, one_line_error):
    result = invoke("opt", models.mlp, "-p", "to-knobs{max-grup=2}", "--load-pass", plugin)
    assert result.exit_code == 1
    one_line_error(result.stderr, "pass to-knobs has no option 'max-grup'",
                   "max-group (default 8)", "keep-last (default false)")
    result = invoke("opt", models.mlp, "-p", "to-knobs{max-group=lots}", "--load-pass", plugin)
    one_line_error(result.stderr, "option max-group of pass to-knobs takes int values, not 'lots'")


def test_a_pass_that_breaks_the_graph_is_named(models, invoke, plugin, tmp_path, one_line_error):
    result = invoke("opt", models.mlp, "-p", "to-swap-add,to-break-order", "--load-pass", plugin,
                    "-o", tmp_path / "x.mlc")
    assert result.exit_code == 1
    one_line_error(result.stderr, "pass to-break-order left an invalid graph (after to-swap-add)")
    assert not (tmp_path / "x.mlc").exists()


@pytest.mark.parametrize("args", [(), ("-O2", "-p", "dce"), ("-O7",)])
def test_usage_errors(models, invoke, args):
    result = invoke("opt", models.mlp, *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_bad_output_name_is_refused_before_work(models, invoke, one_line_error, tmp_path):
    result = invoke("opt", models.mlp, "-O0", "-o", tmp_path / "out.txt")
    assert result.exit_code == 1
    one_line_error(result.stderr, "unknown format")


def test_plugin_errors_are_one_line(models, invoke, tmp_path, one_line_error):
    result = invoke("opt", models.mlp, "-O0", "--load-pass", tmp_path / "absent.py")
    assert result.exit_code == 1
    one_line_error(result.stderr, "absent.py does not exist")
    broken = tmp_path / "broken_plugin.py"
    broken.write_text("x = 1\nclass Broken(:\n")
    result = invoke("opt", models.mlp, "-O0", "--load-pass", broken)
    one_line_error(result.stderr, "broken_plugin.py has a syntax error at line 2")
    raising = tmp_path / "raising_plugin.py"
    raising.write_text("import mlc\n\nraise ValueError('not configured')\n")
    result = invoke("opt", models.mlp, "-O0", "--load-pass", raising)
    one_line_error(result.stderr, "raising_plugin.py failed while loading at line 3",
                   "ValueError: not configured")


# -- mlc passes -------------------------------------------------------------------------------------

def test_passes_lists_each_pass_on_one_line_then_the_levels(invoke, plugin):
    result = invoke("passes", "--load-pass", plugin)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    knobs = next(line for line in lines if line.startswith("to-knobs"))
    assert re.match(r"to-knobs\{max-group=8,keep-last=false\}\s+Change nothing, with options\.$",
                    knobs)
    for name, cls in all_passes().items():
        assert sum(1 for line in lines if (line.split() or [""])[0].split("{")[0] == name) == 1, name
        assert any(line.startswith(name) and line.endswith(cls.summary()) for line in lines)
    for level, text in PIPELINES.items():
        assert f"-{level}  {text or '(no passes)'}" in lines


def test_passes_json(invoke, plugin):
    result = invoke("passes", "--load-pass", plugin, "--json")
    doc = json.loads(result.stdout)
    knobs = next(p for p in doc["passes"] if p["name"] == "to-knobs")
    assert knobs == {"name": "to-knobs", "options": {"max-group": "8", "keep-last": "false"},
                     "summary": "Change nothing, with options."}
    assert doc["levels"]["-O2"] == PIPELINES["O2"]


# -- mlc show with a pipeline ----------------------------------------------------------------------

def test_show_stats_puts_the_imported_and_optimised_graphs_side_by_side(models, invoke, plugin):
    result = invoke("show", models.mlp, "-p", "to-swap-add", "--load-pass", plugin, "--stats")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "as imported" in line)
    assert header.index("as imported") < header.index("to-swap-add")
    result = invoke("show", models.mlp, "-O0", "--stats")
    assert result.exit_code == 0 and "-O0" in result.stdout and "as imported" in result.stdout


def test_show_json_reports_the_graph_after_the_pipeline(models, invoke, plugin, tmp_path):
    # a pass that changes the counts: drop the add by loading a second plugin
    dropper = tmp_path / "drop_add.py"
    dropper.write_text(textwrap.dedent('''
        from mlc.passes import Pass, register_pass

        @register_pass("to-drop-add")
        class DropAdd(Pass):
            """Remove add nodes (changes what the model computes)."""

            def run(self, graph):
                for node in [n for n in graph.nodes if n.op == "add"]:
                    node.output.replace_all_uses_with(node.inputs[0])
                    graph.remove_node(node)
                return True
    '''))
    plain = json.loads(invoke("show", models.mlp, "--json").stdout)
    result = invoke("show", models.mlp, "-p", "to-drop-add", "--load-pass", dropper, "--json")
    assert result.exit_code == 0, result.output
    optimised = json.loads(result.stdout)
    assert set(optimised) == set(plain)
    assert plain["nodes"] == 3 and optimised["nodes"] == 2
    assert optimised["ops"] == {"matmul": 1, "relu": 1}
    ir = invoke("show", models.mlp, "-p", "to-drop-add", "--load-pass", dropper).stdout
    assert "add(" not in ir and ir.startswith("graph")


@pytest.mark.parametrize("level", ["2"])
def test_show_O2_on_a_zoo_model(invoke, level):
    from mlc.testing.models import zoo_model_path

    path = zoo_model_path("digits_cnn")
    plain = json.loads(invoke("show", path, "--json").stdout)
    result = invoke("show", path, f"-O{level}", "--stats", "--json")
    assert result.exit_code == 0, result.output
    optimised = json.loads(result.stdout)
    assert optimised["nodes"] < plain["nodes"] and "batch_norm" not in optimised["ops"]
