"""benchmarks/memory.py runs and its numbers hang together (on one small zoo model, as a user
would); TVM's column is checked where TVM is installed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from mlc.testing.models import REPO_ROOT
from tests.skips import skip_outside_ci

SCRIPT = REPO_ROOT / "benchmarks" / "memory.py"
KEYS = {"model", "tensors", "steps", "naive_sum", "lower_bound", "strategies", "best", "arena",
        "ratio", "plan_ms", "outputs", "tvm", "tvm_ratio", "tvm_note"}


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def load_script():
    spec = importlib.util.spec_from_file_location("memory_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_json_row_for_one_model_without_tvm():
    result = run_script("--json", "--no-tvm", "--models", "ic_resnet8")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert set(row) == KEYS
    assert row["model"] == "ic_resnet8"
    assert row["lower_bound"] <= row["arena"] <= row["naive_sum"]
    assert row["arena"] == row["strategies"][row["best"]] == min(row["strategies"].values())
    assert {"naive", "greedy-size", "greedy-breadth"} <= set(row["strategies"])
    assert row["strategies"]["naive"] <= row["naive_sum"]
    assert row["ratio"] == pytest.approx(row["arena"] / row["lower_bound"], abs=1e-4)
    assert row["ratio"] <= 1.10
    assert row["outputs"] == 10 * 4  # ten float32 class scores
    assert row["tvm"] is None and row["tvm_ratio"] is None
    assert row["tvm_note"] == "skipped (--no-tvm)"


def test_table_names_every_column():
    result = run_script("--no-tvm", "--models", "digits_cnn")
    assert result.returncode == 0, result.stderr
    for heading in ("naive sum", "lower bound", "greedy-size", "best/LB", "TVM", "digits_cnn"):
        assert heading in result.stdout, heading


def test_unknown_model_lists_the_known_ones():
    result = run_script("--models", "nope")
    assert result.returncode != 0
    assert "unknown model(s) nope" in result.stderr and "ic_resnet8" in result.stderr


def test_parses_tvm_report_text():
    report = ("Memory usage estimation:\n- Function main:\n * Without memory planning, there are "
              "19 constant-size memory allocation(s) with total size 0.0005954 GB.\n * With memory "
              "planning, there are 6 constant-size memory allocation(s) with total size "
              "0.0001834 GB.\n * Memory planning reduces constant memory size to 30.8%.\n")
    assert load_script().parse_tvm_report(report) == round(0.0001834 * 2**30)


def test_tvm_column_when_tvm_is_installed():
    if importlib.util.find_spec("tvm") is None:
        skip_outside_ci("TVM is not installed (pip install mlc[tvm])")
    result = run_script("--json", "--models", "digits_cnn")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["tvm_note"] == "" and isinstance(row["tvm"], int)
    assert row["tvm"] > 0  # TVM plans the intermediates and the output of this CNN
    assert row["tvm_ratio"] == pytest.approx(row["tvm"] / (row["arena"] + row["outputs"]),
                                             abs=1e-4)
