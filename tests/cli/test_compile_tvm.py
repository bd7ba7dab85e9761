"""``mlc compile -t tvm-llvm`` / ``-t cuda`` from the command line: the artifact, and one clear line
for every way the TVM targets can be unavailable (no TVM, no GPU, no nvcc, a bad option)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.tvm_backend.tools import need_nvcc, need_tvm

need_tvm()

from mlc.testing.models import zoo_model_path  # noqa: E402

from .conftest import mlc_executable  # noqa: E402

MODEL = zoo_model_path("digits_cnn")


def _has_gpu() -> bool:
    import tvm

    return bool(tvm.cuda(0).exist)


def test_tvm_llvm_artifact_runs_and_describes_its_groups(invoke, tmp_path):
    out = tmp_path / "a"
    result = invoke("compile", MODEL, "-t", "tvm-llvm", "-o", out, "--emit", "relax,tir",
                    "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["target"] == "tvm-llvm" and doc["library"] == "model.so"
    assert doc["options"]["schedule"] == "cpu-loops"
    assert doc["options"]["tvm_target"]["kind"] == "llvm"
    assert sorted(doc["files"]) == ["model.relax.py", "model.so", "model.tir.py"]
    relax_text = (out / "model.relax.py").read_text()
    calls = relax_text.count("R.call_tir(")
    assert calls == doc["options"]["kernels"] == sum(1 for g in doc["options"]["groups"]
                                                     if g["primfunc"])
    run = invoke("run", out, "--json")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["outputs"][0]["shape"] == [1, 10]


def test_cuda_artifact_holds_source_and_ahead_of_time_kernels(invoke, tmp_path):
    need_nvcc()
    out = tmp_path / "a"
    result = invoke("compile", MODEL, "-t", "cuda", "--arch", "sm_80", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert sorted(doc["files"]) == ["kernels.cu", "kernels.fatbin", "model.so"]
    assert doc["options"]["arch"] == "sm_80" and doc["options"]["schedule"] == "dlight"
    assert doc["options"]["tvm_target"]["arch"] == "sm_80"
    assert (out / "kernels.fatbin").stat().st_size > 0


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU: the no-GPU error cannot occur")
def test_running_a_cuda_artifact_without_a_gpu_is_one_line(invoke, one_line_error, tmp_path):
    need_nvcc()
    out = tmp_path / "a"
    assert invoke("compile", MODEL, "-t", "cuda", "-o", out).exit_code == 0
    for command in (("run", out), ("bench", out)):
        result = invoke(*command)
        assert result.exit_code == 1
        one_line_error(result.stderr, "no CUDA GPU", "tvm-llvm")


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU: the no-GPU error cannot occur")
def test_compare_reports_the_missing_gpu_in_its_row(invoke):
    need_nvcc()
    result = invoke("compare", MODEL, "--targets", "ort,cuda", "--json")
    assert result.exit_code == 1
    rows = {r["target"]: r for r in json.loads(result.stdout)["results"]}
    assert rows["ort"]["ok"] and not rows["cuda"]["ok"]
    assert "no CUDA GPU" in rows["cuda"]["error"]


@pytest.mark.parametrize("args, needles", [
    (("-t", "cuda", "--arch", "sm9"), ("--arch", "sm_90")),
    (("-t", "tvm-llvm", "--emit", "asm"), ("--emit", "relax")),
])
def test_bad_options_are_one_line(args, needles, invoke, one_line_error, tmp_path):
    result = invoke("compile", MODEL, "-o", tmp_path / "a", *args)
    assert result.exit_code == 1
    one_line_error(result.stderr, *needles)
    assert not (tmp_path / "a").exists()


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU: tuning for it is possible")
def test_tuning_for_cuda_needs_the_gpu(invoke, one_line_error, tmp_path):
    result = invoke("compile", MODEL, "-t", "cuda", "--tune", "8", "-o", tmp_path / "a")
    assert result.exit_code == 1
    one_line_error(result.stderr, "--tune", "GPU")
    assert not (tmp_path / "a").exists()


def _run_installed(args, env_changes, tmp_path):
    import subprocess

    env = dict(os.environ, COLUMNS="200", **env_changes)
    return subprocess.run([str(mlc_executable()), *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)


def test_cuda_without_nvcc_is_one_line(one_line_error, tmp_path):
    env = {"PATH": os.path.dirname(sys.executable), "CUDA_HOME": str(tmp_path / "no-cuda")}
    result = _run_installed(["compile", MODEL, "-t", "cuda", "-o", tmp_path / "a"], env, tmp_path)
    assert result.returncode == 1
    one_line_error(result.stderr, "nvcc", "install the CUDA toolkit")
    assert not (tmp_path / "a").exists()


@pytest.fixture
def without_tvm(tmp_path):
    """PYTHONPATH entries that make ``import tvm`` fail, as on a machine without mlc[tvm]."""
    fake = tmp_path / "no-tvm" / "tvm"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'tvm'\")\n")
    return {"PYTHONPATH": str(fake.parent)}


@pytest.mark.parametrize("target", ["tvm-llvm", "cuda"])
def test_compile_without_tvm_says_install_mlc_tvm(target, without_tvm, one_line_error,
                                                  tmp_path):
    result = _run_installed(["compile", MODEL, "-t", target, "-o", tmp_path / "a"], without_tvm,
                            tmp_path)
    assert result.returncode == 1, result.stderr
    one_line_error(result.stderr, "install mlc[tvm]")
    assert not (tmp_path / "a").exists()


def test_run_without_tvm_says_install_mlc_tvm(invoke, without_tvm, one_line_error, tmp_path):
    out = tmp_path / "a"
    assert invoke("compile", MODEL, "-t", "tvm-llvm", "-o", out).exit_code == 0
    result = _run_installed(["run", out], without_tvm, tmp_path)
    assert result.returncode == 1, result.stderr
    one_line_error(result.stderr, "install mlc[tvm]")


def _tvm_serializes_tir() -> bool:
    from mlc.backends.tvm.driver import _SERIALIZE_PROBE

    return _run_probe(_SERIALIZE_PROBE) == 0


def _run_probe(script: str) -> int:
    import subprocess

    return subprocess.run([sys.executable, "-c", script], capture_output=True).returncode


def test_tune_runs_metaschedule_or_says_why_it_cannot(invoke, one_line_error, tmp_path):
    """MetaSchedule needs tvm.ir.save_json, which segfaults in apache-tvm 0.27.0.post1: then
    --tune is one line and no artifact; with a TVM where it works, the tuned model runs."""
    out = tmp_path / "a"
    result = invoke("compile", zoo_model_path("digits_mlp"), "-t", "tvm-llvm", "--tune", "8",
                    "-o", out, "--json")
    if _tvm_serializes_tir():
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["options"]["schedule"] == "metaschedule (8 trials)"
        assert invoke("run", out).exit_code == 0
    else:
        assert result.exit_code == 1
        one_line_error(result.stderr, "--tune", "save_json", "without --tune")
        assert not out.exists()


@pytest.mark.parametrize("flag", [("--print-schedule",), ("--schedule", "gemm.mr=4")])
def test_loop_ir_schedule_flags_are_refused_for_tvm(flag, invoke, tmp_path):
    result = invoke("compile", MODEL, "-t", "tvm-llvm", "-o", tmp_path / "a", *flag)
    assert result.exit_code != 0
    assert "--emit tir" in result.output
    assert not (tmp_path / "a").exists()
