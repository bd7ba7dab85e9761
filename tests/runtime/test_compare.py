"""compare(): agreement with onnxruntime, the JSON contract, and failing targets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlc.errors import MlcError
from mlc.runtime import Model, compare
from mlc.runtime.compare import UNMEASURED, agreement
from mlc.runtime.targets import Runner, TargetError


def test_identical_outputs_agree_exactly():
    a = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    result = agreement([a], [a.copy()])
    assert result.ok and result.max_abs_err == 0.0 and result.max_rel_err == 0.0
    assert result.problem is None


def test_errors_within_and_beyond_tolerance():
    want = np.array([1.0, 100.0, 0.0], np.float32)
    close = want + np.array([5e-5, 5e-3, 5e-6], np.float32)  # each under atol + rtol*|want|
    assert agreement([close], [want], rtol=1e-4, atol=1e-5).ok
    far = want + np.array([0.0, 0.5, 0.0], np.float32)
    result = agreement([far], [want], rtol=1e-4, atol=1e-5)
    assert not result.ok
    assert result.max_abs_err == pytest.approx(0.5, rel=1e-6)
    assert result.max_rel_err == pytest.approx(0.5 / 100.0, rel=1e-6)


def test_relative_error_floors_the_denominator_at_atol():
    # |want| = 0 would divide by zero; the contract divides by max(|want|, atol) instead.
    result = agreement([np.array([2e-5], np.float32)], [np.array([0.0], np.float32)], atol=1e-5)
    assert result.max_rel_err == pytest.approx(2.0, rel=1e-3)
    assert not result.ok


def test_shape_dtype_and_count_mismatches_are_not_ok():
    a = np.zeros((2, 3), np.float32)
    for got, want, word in [([a.reshape(3, 2)], [a], "shape"), ([a.astype(np.float64)], [a], "dtype"),
                            ([a, a], [a], "outputs")]:
        result = agreement(got, want)
        assert not result.ok, word
        assert result.problem and result.max_abs_err == UNMEASURED


def test_nan_where_reference_is_finite_is_an_infinite_error():
    want = np.array([1.0, 2.0], np.float32)
    result = agreement([np.array([1.0, np.nan], np.float32)], [want])
    assert not result.ok and result.max_abs_err == float("inf")
    both_nan = np.array([np.nan, 1.0], np.float32)
    assert agreement([both_nan], [both_nan.copy()]).ok


def test_integer_and_bool_outputs_compare_exactly():
    ints = np.array([1, 2, 3], np.int64)
    assert agreement([ints], [ints.copy()]).ok
    assert not agreement([ints + 1], [ints]).ok
    flags = np.array([True, False])
    assert not agreement([~flags], [flags]).ok


def _check_contract(doc: dict) -> None:
    assert set(doc) == {"model", "threads", "results"}
    assert isinstance(doc["model"], str) and isinstance(doc["threads"], int)
    for row in doc["results"]:
        assert set(row) == {"target", "ok", "max_abs_err", "max_rel_err", "median_ms", "p90_ms",
                            "ratio_to_ort", "compile_s", "timing", "error"}
        assert isinstance(row["target"], str) and isinstance(row["ok"], bool)
        assert row["timing"] == "host"  # ref and ort run on this machine's clock
        for key in ("max_abs_err", "max_rel_err", "median_ms", "p90_ms", "ratio_to_ort",
                    "compile_s"):
            assert isinstance(row[key], float), key
        assert row["error"] is None or isinstance(row["error"], str)


def test_ref_and_ort_agree_and_report_follows_the_contract(mlp_model, feeds):
    report = compare(mlp_model, ["ref", "ort"], feeds, threads=1, repeat=3, warmup=1)
    doc = json.loads(json.dumps(report.to_json(), allow_nan=False))
    _check_contract(doc)
    assert doc["threads"] == 1
    ref, ort = doc["results"]
    assert (ref["target"], ort["target"]) == ("ref", "ort")
    assert ref["ok"] and ref["error"] is None and ref["max_abs_err"] < 1e-5
    assert ref["median_ms"] > 0 and ref["p90_ms"] >= ref["median_ms"]
    assert ref["ratio_to_ort"] == pytest.approx(ref["median_ms"] / ort["median_ms"])
    assert ort["ok"] and ort["max_abs_err"] == 0.0 and ort["max_rel_err"] == 0.0
    assert ort["ratio_to_ort"] == 1.0 and ort["compile_s"] > 0
    assert report.ok


def test_failing_targets_become_rows_and_the_rest_still_run(mlp_model, feeds, scratch_target):
    def broken(model, threads):
        raise TargetError("toolchain missing", hint="install it")

    class Buggy(Runner):
        def run(self, feeds):
            raise ZeroDivisionError("division by zero")

    scratch_target("test-broken", broken)
    scratch_target("test-buggy", lambda model, threads: Buggy())
    report = compare(mlp_model, ["test-broken", "ref", "test-buggy"], feeds, repeat=2, warmup=0)
    broken, ref, buggy = report.results
    assert not broken.ok and broken.error == "toolchain missing (install it)"
    assert broken.median_ms == UNMEASURED and broken.compile_s == UNMEASURED
    assert ref.ok and ref.error is None
    assert not buggy.ok and "ZeroDivisionError" in buggy.error and "\n" not in buggy.error
    assert buggy.traceback and "Traceback" in buggy.traceback
    assert buggy.compile_s >= 0  # prepare succeeded, so its time is known
    assert not report.ok
    _check_contract(json.loads(json.dumps(report.to_json(), allow_nan=False)))


def test_wrong_numbers_are_not_ok(mlp, feeds):
    model = Model.from_graph(mlp.graph(w=mlp.W * 1.01), onnx_model=mlp.onnx())
    row, = compare(model, ["ref"], feeds, repeat=1, warmup=0).results
    assert not row.ok and row.error is None and row.max_abs_err > 1e-4


def test_reference_failure_is_an_error_of_the_whole_comparison(mlp, feeds):
    model = Model.from_graph(mlp.graph(), onnx_model=b"not an onnx model")
    with pytest.raises(MlcError, match="onnxruntime could not load"):
        compare(model, ["ref"], feeds, repeat=1, warmup=0)


@pytest.mark.parametrize("clock, has_ratio", [("host", True), ("gpu (synchronised)", True),
                                              ("emulated (QEMU mps2-an386)", False)])
def test_ratio_to_onnxruntime_only_for_wall_clocks(clock, has_ratio):
    from mlc.runtime.bench import Timing
    from mlc.runtime.compare import _row

    row = _row("t", agreement([np.ones(2)], [np.ones(2)]), Timing((2.0,)), Timing((4.0,)), 0.0,
               clock)
    assert row.timing == clock
    assert row.ratio_to_ort == (0.5 if has_ratio else UNMEASURED)
