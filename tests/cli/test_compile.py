"""`mlc compile -t llvm`, `mlc run DIR`, `mlc bench`, `mlc.compile`, and their errors."""

from __future__ import annotations

import json
import os
import stat

import numpy as np

import mlc
from mlc.runtime import load, read_manifest
from mlc.testing.models import zoo_model_path
from tests.skips import skip_outside_ci


def test_compile_writes_an_artifact_that_runs(models, invoke, tmp_path):
    out = tmp_path / "mlp.art"
    result = invoke("compile", models.mlp, "-t", "llvm", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["target"] == "llvm" and doc["library"] == "model.so" and doc["plan"] == "plan.json"
    assert doc["options"]["isa"] in ("avx512", "avx2", "scalar")
    manifest = read_manifest(out)
    assert {"model.so", "plan.json"} <= set(manifest.files)
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    for threads in (1, 2):
        (y,) = load(out, threads=threads).run({"x": x})
        np.testing.assert_allclose(y, models.expected(x), rtol=1e-5, atol=1e-6)


def test_emit_writes_the_intermediate_forms(models, invoke, tmp_path):
    out = tmp_path / "art"
    result = invoke("compile", models.mlp, "-o", out, "--emit", "llvm-ir,asm,loop-ir")
    assert result.exit_code == 0, result.output
    assert "define" in (out / "model.ll").read_text()
    assert "mlc_run" in (out / "model.s").read_text()
    assert "for " in (out / "model.loop").read_text()
    assert {"model.ll", "model.s", "model.loop"} <= set(read_manifest(out).files)


def test_run_and_bench_take_an_artifact_directory(models, invoke, tmp_path):
    out = tmp_path / "art"
    assert invoke("compile", models.mlp, "-o", out).exit_code == 0
    x = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = invoke("run", out, "--input", f"x={tmp_path / 'x.npy'}", "--output-dir",
                    tmp_path / "outs", "--threads", "2")
    assert result.exit_code == 0, result.output
    (saved,) = list((tmp_path / "outs").iterdir())
    np.testing.assert_allclose(np.load(saved), models.expected(x), rtol=1e-5, atol=1e-6)
    result = invoke("bench", out, "--threads", "1,2", "--repeat", "3", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [r["threads"] for r in rows] == [1, 2] and all(r["median_ms"] > 0 for r in rows)


def test_bench_and_compare_a_model_file_on_llvm(models, invoke):
    result = invoke("bench", models.mlp, "--targets", "ort,llvm", "--repeat", "2", "--json")
    assert result.exit_code == 0, result.output
    assert [r["target"] for r in json.loads(result.stdout)["results"]] == ["ort", "llvm"]
    result = invoke("compare", models.mlp, "--targets", "ref,llvm", "--threads", "2",
                    "--repeat", "2", "--json")
    assert result.exit_code == 0, result.output
    assert all(r["ok"] for r in json.loads(result.stdout)["results"])


def test_python_api_compile_then_load(tmp_path):
    graph = mlc.load(zoo_model_path("digits_mlp"))
    path = mlc.compile(graph, target="llvm", output=tmp_path / "digits")
    from mlc.inputs import make_feeds
    from mlc.interp import run

    feeds = make_feeds(graph)
    got = load(path).run(feeds)
    want = run(graph, feeds, as_list=True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-5)


def test_schedule_override_changes_the_manifest_and_not_the_result(models, invoke, tmp_path):
    out = tmp_path / "art"
    result = invoke("compile", models.mlp, "-o", out, "--schedule", "gemm.mr=4",
                    "--schedule", "loops.parallel=false", "--json")
    assert result.exit_code == 0, result.output
    schedules = json.loads(result.stdout)["options"]["schedules"]
    assert schedules["gemm"]["mr"] == 4 and schedules["loops"]["parallel"] is False
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(load(out).run({"x": x})[0], models.expected(x), rtol=1e-5,
                               atol=1e-6)
    printed = invoke("compile", models.mlp, "-o", out, "--print-schedule", "--schedule",
                     "gemm.nr=16")
    assert printed.exit_code == 0 and json.loads(printed.stdout)["gemm"]["nr"] == 16


def test_bad_options_are_one_line_errors(models, invoke, tmp_path, one_line_error):
    out = tmp_path / "art"
    result = invoke("compile", models.mlp, "-o", out, "--schedule", "gemm.bogus=1")
    assert result.exit_code == 1
    one_line_error(result.stderr, "no field 'bogus'", "mr")
    result = invoke("compile", models.mlp, "-o", out, "--emit", "llvm-ir,pdf")
    assert result.exit_code == 1
    one_line_error(result.stderr, "pdf", "llvm-ir")
    result = invoke("compile", models.unsupported, "-o", out)
    assert result.exit_code == 1
    one_line_error(result.stderr, "FrobnicateNd")
    assert not out.exists()


def test_missing_linker_names_what_to_install(models, invoke, tmp_path, monkeypatch,
                                             one_line_error):
    """A compiler that cannot find `ld` (PATH holds only the assembler) fails with one line that
    names binutils, and leaves no artifact behind."""
    import shutil

    gcc, assembler = shutil.which("gcc") or shutil.which("cc"), shutil.which("as")
    if gcc is None or assembler is None:
        skip_outside_ci("needs a C compiler and the assembler (apt-get install gcc binutils)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(assembler, bin_dir / "as")
    wrapper = tmp_path / "cc-without-ld"
    wrapper.write_text(f"#!/bin/sh\nPATH={bin_dir} exec {gcc} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CC", str(wrapper))
    out = tmp_path / "art"
    result = invoke("compile", models.mlp, "-o", out)
    assert result.exit_code == 1
    one_line_error(result.stderr, "linker", "binutils")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".art")]


def test_outputs_that_are_inputs_or_constants_pass_through(tmp_path):
    """A graph output no kernel writes (the input itself, a constant) is copied into place, and
    kernels reading that input still read the caller's input buffer."""
    b = mlc.GraphBuilder("passthrough")
    x = b.input("x", (2, 3))
    k = b.const(np.arange(4, dtype=np.float32).reshape(2, 2), name="k")
    b.outputs(x, b.relu(x), k)
    v = np.array([[-1, 2, 3], [4, -5, 6]], np.float32)
    same, relu, const = load(mlc.compile(b.graph, output=tmp_path / "art")).run({"x": v})
    np.testing.assert_array_equal(same, v)
    np.testing.assert_array_equal(relu, np.maximum(v, 0))
    np.testing.assert_array_equal(const, np.arange(4, dtype=np.float32).reshape(2, 2))
