"""benchmarks/cpu.py runs as a user would and its figures hang together; the measured peak is a
plausible number; the speed-bar summary applies the issue's rule; TVM's column (slow) fills in."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import llvmlite.binding as llvm
import pytest

from mlc.runtime import target_names
from mlc.testing.models import REPO_ROOT
from mlc.testing.peak import measure_peak_gflops, peak_kernel_ir, vector_shape
from tests.skips import skip_outside_ci

SCRIPT = REPO_ROOT / "benchmarks" / "cpu.py"
FIGURES = {"median_ms", "p90_ms", "ratio_to_ort", "gflops"}


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def load_script():
    spec = importlib.util.spec_from_file_location("cpu_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def check_timed(entry: dict, threads: list[int], macs: int) -> None:
    assert entry["error"] is None
    assert set(entry["threads"]) == {str(t) for t in threads}
    for figures in entry["threads"].values():
        assert set(figures) == FIGURES
        assert 0 < figures["median_ms"] <= figures["p90_ms"]
        assert figures["ratio_to_ort"] > 0
        assert figures["gflops"] == pytest.approx(2 * macs / figures["median_ms"] / 1e6, rel=1e-2)


def test_json_for_digits_cnn_without_tvm():
    result = run_script("--json", "--no-tvm", "--models", "digits_cnn", "--repeat", "2",
                        "--min-time", "0.2")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"host", "models", "summary"}
    assert doc["host"]["cpu"] == llvm.get_host_cpu_name()
    assert doc["host"]["threads"] == [1, 2] and doc["host"]["repeat"] == 2
    assert doc["host"]["min_time"] == 0.2
    assert doc["host"]["peak_gflops"] > 1
    (row,) = doc["models"]
    assert row["model"] == "digits_cnn"
    assert row["macs"] > 0
    assert set(row["rounds"]) == {"1", "2"}  # timed rounds per thread count
    assert all(2 < n <= 1000 for n in row["rounds"].values())  # 2 rounds of 0.1 ms ≪ 0.2 s
    assert set(row["systems"]) == {"ort", "llvm", "tvm"}
    ort = row["systems"]["ort"]
    check_timed(ort, [1, 2], row["macs"])
    assert all(f["ratio_to_ort"] == 1.0 for f in ort["threads"].values())
    assert row["systems"]["tvm"] == {"error": "skipped (--no-tvm)", "compile_s": None,
                                     "agrees": None, "threads": {}}
    mlc = row["systems"]["llvm"]
    summary = doc["summary"]
    if "llvm" not in target_names():  # the column says why until the target exists
        assert mlc["error"].startswith("n/a") and summary["geomean"] is None
        return
    check_timed(mlc, [1, 2], row["macs"])
    assert mlc["agrees"] is True and mlc["compile_s"] > 0
    ratio = mlc["threads"]["1"]["ratio_to_ort"]
    ort_ms = ort["threads"]["1"]["median_ms"]
    assert ratio == pytest.approx(mlc["threads"]["1"]["median_ms"] / ort_ms, rel=1e-2)
    assert summary["models"] == 1 and summary["missing"] == []
    assert summary["geomean"] == pytest.approx(ratio) and summary["max_model"] == "digits_cnn"


def test_table_and_bar_line():
    result = run_script("--no-tvm", "--models", "digits_cnn", "--repeat", "1", "--threads", "1",
                        "--min-time", "0")
    assert result.returncode == 0, result.stderr
    for text in ("rounds", "ort 1T", "mlc/ort 1T", "TVM 1T", "digits_cnn", "skipped (--no-tvm)",
                 "speed bar"):
        assert text in result.stdout, text
    assert "2T" not in result.stdout


def test_bad_arguments_are_usage_errors():
    assert "unknown model(s) nope" in run_script("--models", "nope").stderr
    assert "distinct positive" in run_script("--threads", "0").stderr


def fake_row(model: str, ratio: float | None) -> dict:
    threads = {} if ratio is None else {"1": {"ratio_to_ort": ratio}}
    return {"model": model, "systems": {"llvm": {"threads": threads}}}


def test_summary_applies_the_speed_bar():
    summary = load_script().summary
    ok = summary([fake_row("a", 1.0), fake_row("b", 4.0)])
    assert ok["geomean"] == pytest.approx(2.0) and ok["max"] == 4.0 and ok["max_model"] == "b"
    assert ok["bar_holds"] is True
    assert summary([fake_row("a", 0.5), fake_row("b", 4.5)])["bar_holds"] is False  # one > 4×
    slow = summary([fake_row("a", 2.1), fake_row("b", 2.1)])
    assert slow["geomean"] == pytest.approx(2.1) and slow["bar_holds"] is False
    partial = summary([fake_row("a", 1.0), fake_row("b", None)])  # a model mlc could not run
    assert partial["missing"] == ["b"] and partial["bar_holds"] is False
    assert summary([fake_row("a", None)])["geomean"] is None


def test_peak_is_plausible_and_cached():
    peak = measure_peak_gflops()
    # > 1 GFLOP/s even on a busy or old core; < 1000: one core cannot do 5 GHz × 2 × 64 flops.
    assert 1 < peak < 1000
    assert measure_peak_gflops() == peak


@pytest.mark.parametrize("isa, shape", [("avx512", (16, 16)), ("avx2", (8, 12)),
                                         ("scalar", (4, 12))])
def test_peak_kernel_matches_the_vector_width(isa, shape):
    assert vector_shape(isa) == shape
    lanes, chains = shape
    text = peak_kernel_ir(lanes, chains, unroll=2)
    llvm.parse_assembly(text).verify()
    assert text.count(f"call <{lanes} x float> @llvm.fma.v{lanes}f32") == chains * 2


@pytest.mark.slow
def test_tvm_column_on_digits_cnn():
    try:
        import tvm  # noqa: F401
    except ImportError:
        skip_outside_ci("TVM is not installed (pip install mlc[tvm])")
    result = run_script("--json", "--models", "digits_cnn", "--repeat", "2", "--min-time", "0.2")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["models"]
    tvm_entry = row["systems"]["tvm"]
    check_timed(tvm_entry, [1, 2], row["macs"])
    assert tvm_entry["agrees"] is True and tvm_entry["compile_s"] > 0
    assert all(math.isfinite(f["ratio_to_ort"]) for f in tvm_entry["threads"].values())
