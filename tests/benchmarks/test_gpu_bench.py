"""benchmarks/gpu.py runs as a user would: the whole comparison on the CPU (``--target
tvm-llvm``), and the build-here / time-there split for cuda, whose timing half reports a missing
GPU as a cell rather than crashing. benchmarks/gpu_device.sh is checked for syntax and usage."""

from __future__ import annotations

import json
import subprocess
import sys


from mlc.testing.models import REPO_ROOT

from tests.tvm_backend.tools import need_nvcc, need_tvm

need_tvm()

SCRIPT = REPO_ROOT / "benchmarks" / "gpu.py"
DEVICE_SCRIPT = REPO_ROOT / "benchmarks" / "gpu_device.sh"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def test_cpu_comparison_rows_hang_together():
    result = run_script("--target", "tvm-llvm", "--models", "digits_cnn", "--repeat", "3",
                        "--warmup", "1", "--min-time", "0", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    (row,) = doc["models"]
    mlc, tvm, torch = (row["systems"][k] for k in ("mlc", "tvm", "torch"))
    for system in (mlc, tvm):
        assert system["error"] is None and system["agrees"] is True
        assert system["p90_ms"] >= system["median_ms"] > 0
    assert torch["error"].startswith("n/a")  # no torchvision model for a zoo model
    assert row["mlc_vs_tvm"] == round(mlc["median_ms"] / tvm["median_ms"], 3)
    assert mlc["kernels"] == 5  # digits_cnn after -O2: five compute groups and a view
    assert doc["summary"]["compared_with_tvm"] == 1 and doc["summary"]["all_agree"]


def test_cuda_builds_here_and_times_only_where_a_gpu_is(tmp_path):
    need_nvcc()
    built = run_script("--build", str(tmp_path), "--models", "digits_mlp", "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["errors"] == {}
    for system in ("mlc", "tvm"):
        manifest = json.loads((tmp_path / "digits_mlp" / system / "manifest.json").read_text())
        assert manifest["target"] == "cuda" and manifest["options"]["gpu_kernels"] >= 1
        assert (tmp_path / "digits_mlp" / system / "kernels.fatbin").stat().st_size > 0
    timed = run_script("--artifacts", str(tmp_path), "--repeat", "2", "--warmup", "0",
                       "--min-time", "0", "--json")
    assert timed.returncode == 0, timed.stderr
    (row,) = json.loads(timed.stdout)["models"]
    import tvm

    if not tvm.cuda(0).exist:
        assert "no CUDA GPU" in row["systems"]["mlc"]["error"]
        assert row["mlc_vs_tvm"] is None


def test_device_script_is_valid_bash_with_a_usage_line():
    assert subprocess.run(["bash", "-n", str(DEVICE_SCRIPT)]).returncode == 0
    result = subprocess.run(["bash", str(DEVICE_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 2 and "prepare" in result.stderr and "stage2" in result.stderr
