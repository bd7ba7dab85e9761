"""`mlc plan`: the JSON document, the table, the picture, the errors a user sees, and -O2 giving
fewer (fused) tensors to plan."""

from __future__ import annotations

import json

import pytest

from mlc.backends.toolchain.abi import ARENA_ALIGN
from mlc.memory import STRATEGIES
from mlc.testing.models import zoo_model_path

JSON_KEYS = {"naive_sum", "lower_bound", "strategies", "best", "arena", "tensors", "alignment",
             "strategy", "include_io"}
TENSOR_KEYS = {"name", "size", "offset", "start", "end"}
CNN = zoo_model_path("digits_cnn")


def plan_json(invoke, *args) -> dict:
    result = invoke("plan", *args, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def test_json_keys_types_and_consistency(invoke):
    doc = plan_json(invoke, CNN)
    assert set(doc) == JSON_KEYS
    for key in ("naive_sum", "lower_bound", "arena", "alignment"):
        assert isinstance(doc[key], int), key
    assert doc["alignment"] == ARENA_ALIGN == 64
    assert doc["include_io"] is False
    assert doc["best"] in doc["strategies"] and doc["strategy"] == doc["best"]
    assert doc["arena"] == doc["strategies"][doc["best"]] == min(doc["strategies"].values())
    assert set(doc["strategies"]) >= {"naive", "greedy-size", "greedy-breadth"}
    assert doc["lower_bound"] <= doc["arena"] <= doc["naive_sum"]
    assert doc["tensors"]
    for t in doc["tensors"]:
        assert set(t) == TENSOR_KEYS
        assert isinstance(t["name"], str)
        assert all(isinstance(t[k], int) for k in TENSOR_KEYS - {"name"})
        assert t["offset"] % 64 == 0 and t["offset"] + t["size"] <= doc["arena"]
        assert 0 <= t["start"] <= t["end"]


def test_o2_plans_fewer_fused_tensors(invoke):
    plain, optimised = plan_json(invoke, CNN), plan_json(invoke, CNN, "-O2")
    assert len(optimised["tensors"]) < len(plain["tensors"])
    assert optimised["naive_sum"] < plain["naive_sum"]
    assert plan_json(invoke, CNN, "-p", "O2") == optimised


def test_target_sets_the_alignment(invoke):
    doc = plan_json(invoke, CNN, "-O2", "--target", "cortex-m4")
    assert doc["alignment"] == 16
    assert all(t["offset"] % 16 == 0 for t in doc["tensors"])
    assert plan_json(invoke, CNN, "-O2", "--alignment", "16") == doc


def test_single_strategy_without_inplace_is_the_naive_sum(invoke):
    doc = plan_json(invoke, CNN, "--strategy", "naive", "--no-inplace")
    assert doc["strategy"] == doc["best"] == "naive"
    assert doc["strategies"] == {"naive": doc["arena"]}
    assert doc["arena"] == doc["naive_sum"]


def test_include_io_plans_inputs_and_outputs(invoke, models):
    outside = plan_json(invoke, models.mlp)
    inside = plan_json(invoke, models.mlp, "--include-io")
    names = {t["name"] for t in inside["tensors"]}
    assert inside["include_io"] is True
    assert "x" in names
    assert len(inside["tensors"]) > len(outside["tensors"])
    assert inside["naive_sum"] > outside["naive_sum"]


def test_table_lists_strategies_and_bounds(invoke):
    result = invoke("plan", CNN, "-O2")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in ("naive sum", "lower bound", "(best)", "greedy-size", "greedy-breadth",
                 "× lower bound", "digits_cnn.onnx -O2"):
        assert text in out, text


def test_plot_writes_a_png_and_keeps_json_clean(invoke, tmp_path):
    out = tmp_path / "plan.png"
    result = invoke("plan", CNN, "-O2", "--plot", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert set(json.loads(result.stdout)) == JSON_KEYS  # the "wrote" note went to stderr
    assert f"wrote {out}" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["plan.png"]


def test_plot_with_the_table(invoke, tmp_path):
    out = tmp_path / "plan.png"
    result = invoke("plan", CNN, "--plot", out)
    assert result.exit_code == 0, result.stderr
    assert out.exists() and f"wrote {out}" in result.stdout


@pytest.mark.parametrize("args, needles", [
    (["--strategy", "fastest"], ["unknown strategy 'fastest'", "greedy-size", "best"]),
    (["--target", "riscv"], ["unknown target 'riscv'", "cortex-m4"]),
    (["--alignment", "24"], ["not a power of two"]),
    (["--plot", "no/such/folder/plan.png"], ["does not exist"]),
    (["--plot", "plan.jpg"], ["only PNG"]),
])
def test_mistakes_are_one_line(invoke, one_line_error, tmp_path, args, needles):
    result = invoke("plan", CNN, *args)
    assert result.exit_code == 1
    one_line_error(result.stderr, *needles)
    assert result.stdout == ""


def test_missing_model_is_one_line(invoke, one_line_error, models):
    result = invoke("plan", models.missing)
    assert result.exit_code == 1
    one_line_error(result.stderr)


def test_alignment_and_target_together_is_a_usage_error(invoke):
    result = invoke("plan", CNN, "--alignment", "16", "--target", "x86")
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_every_named_strategy_is_accepted(invoke):
    for name in STRATEGIES:
        doc = plan_json(invoke, CNN, "-O2", "--strategy", name)
        assert doc["lower_bound"] <= doc["arena"]


def test_symbolic_dims_need_a_shape(invoke, one_line_error, models):
    result = invoke("plan", models.sym)
    assert result.exit_code == 1
    one_line_error(result.stderr, "symbolic", "--shape")
    doc = plan_json(invoke, models.sym, "--shape", "x=3,4", "--include-io")
    assert {t["name"]: t["size"] for t in doc["tensors"]}["x"] == 3 * 4 * 4


def test_console_script_prints_pure_json(mlc_exe, tmp_path):
    out = tmp_path / "plan.png"
    result = mlc_exe("plan", CNN, "-O2", "--json", "--plot", out)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == JSON_KEYS
    assert out.exists()
