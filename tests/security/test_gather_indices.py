"""Gather indices out of range (issue 14, item 8): the reference interpreter and onnxruntime
refuse them, so compiled code must too. ``mlc_run`` checks every index input before running a
kernel and returns MLC_ERR_INPUT (the kernels clamp, so nothing is read out of bounds either);
the TVM executable checks the same inputs before its call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from mlc import compile as mlc_compile
from mlc.frontend import import_model
from mlc.runtime import load
from mlc.runtime.executable import ExecutionError
from mlc.runtime.harness import ModelStatusError
from tests.frontend.onnx_models import make_model, value_info
from tests.skips import need_target

TABLE = np.arange(40, dtype=np.float32).reshape(10, 4)
TARGETS = ["llvm", "c", "tvm-llvm", "c-cortex-m4"]


def _lookup(ids_dtype=np.int64, fused: bool = False):
    """y = table[ids] (then relu, which -O2 fuses with the Gather when ``fused``)."""
    nodes = [helper.make_node("Gather", ["table", "ids"], ["rows"], axis=0)]
    nodes.append(helper.make_node("Relu", ["rows"], ["y"]) if fused else
                 helper.make_node("Identity", ["rows"], ["y"]))
    return make_model(nodes, [value_info("ids", ids_dtype, (3,))], ["y"], {"table": TABLE})


@pytest.fixture(scope="module", params=TARGETS)
def lookup(request, tmp_path_factory):
    need_target(request.param)
    out = tmp_path_factory.mktemp(request.param) / "artifact"
    mlc_compile(import_model(_lookup(fused=True)), request.param, out)
    return request.param, out


def test_indices_in_range_including_negative_ones_look_up(lookup) -> None:
    _, out = lookup
    ids = np.array([0, 9, -1], np.int64)
    (y,) = load(out).run({"ids": ids})
    np.testing.assert_array_equal(y, np.maximum(TABLE[ids], 0))


@pytest.mark.parametrize("bad", [10, -11, 1 << 40], ids=["past-the-end", "before-start", "huge"])
def test_an_index_out_of_range_is_refused_with_the_input_status(lookup, bad: int) -> None:
    _, out = lookup
    with pytest.raises((ExecutionError, ModelStatusError)) as err:
        load(out).run({"ids": np.array([0, bad, 1], np.int64)})
    line = err.value.one_line()  # "failed with code 2: …" or (QEMU) "mlc_run returned 2: …"
    assert ("code 2:" in line or "returned 2:" in line) and "input value" in line, line


@pytest.mark.parametrize("target", ["llvm", "c"])
def test_int32_indices_are_checked_too(target: str, tmp_path: Path) -> None:
    out = tmp_path / "artifact"
    mlc_compile(import_model(_lookup(np.int32)), target, out)
    executable = load(out)
    np.testing.assert_array_equal(executable.run({"ids": np.array([1, 2, 3], np.int32)})[0],
                                  TABLE[[1, 2, 3]])
    with pytest.raises(ExecutionError, match="code 2"):
        executable.run({"ids": np.array([1, 2, 30], np.int32)})


def test_mlc_run_reports_the_status_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "artifact"
    mlc_compile(import_model(_lookup()), "llvm", out)
    ids = tmp_path / "ids.npy"
    np.save(ids, np.array([0, 1, 12], np.int64))
    result = subprocess.run([sys.executable, "-m", "mlc.cli", "run", str(out),
                             "--input", f"ids={ids}"], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "an input value the model cannot handle" in errors[0]
