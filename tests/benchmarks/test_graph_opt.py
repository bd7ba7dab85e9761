"""benchmarks/graph_opt.py runs and its numbers hang together (on one small model, as a user would)."""

from __future__ import annotations

import json
import subprocess
import sys

from mlc.testing.models import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "graph_opt.py"
KEYS = {"model", "imported", "O1", "O2", "groups", "fused_nodes", "leftover", "ort_extended",
        "O1_ms", "O2_ms", "slowest", "O2_pass_ms"}


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)


def test_json_row_for_one_model():
    result = run_script("--json", "--models", "digits_cnn")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert set(row) == KEYS
    assert row["model"] == "digits_cnn"
    assert row["imported"] == 10  # conv, bn, relu, pool, conv, bn, relu, reshape, gemm, softmax
    assert row["O2"] <= row["O1"] <= row["imported"]
    assert 1 <= row["groups"] <= row["O2"]
    assert row["fused_nodes"] >= 2 * row["groups"]  # a group has two nodes or more
    assert row["leftover"] == 0
    assert row["ort_extended"] > 0
    assert "fuse" in [spec for spec, _ in row["O2_pass_ms"]]


def test_unknown_model_lists_the_known_ones():
    result = run_script("--models", "nope")
    assert result.returncode != 0
    assert "unknown model(s) nope" in result.stderr and "digits_cnn" in result.stderr
