"""`mlc compile -t c` and `-t c-cortex-m4`, `mlc run/compare/bench/size` on their artifacts, and
the one-line errors when a toolchain is missing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlc.runtime import read_manifest
from tests.mcu.tools import need


def test_compile_c_writes_a_project_that_runs(models, invoke, tmp_path):
    out = tmp_path / "mlp.c"
    result = invoke("compile", models.mlp, "-t", "c", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["target"] == "c" and doc["library"] == "model.so"
    assert doc["options"]["weights_format"] == "c" and "-std=c99" in doc["options"]["cflags"]
    files = set(read_manifest(out).files)
    assert {"model/model.c", "model/model.h", "model/weights.c", "model/mlc_ops.h",
            "CMakeLists.txt", "cmake/arm-none-eabi.cmake", "runtime/c/mlc_runtime.h"} <= files
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = invoke("run", out, "--input", f"x={tmp_path / 'x.npy'}", "--output-dir",
                    tmp_path / "outs", "--threads", "2")
    assert result.exit_code == 0, result.output
    (saved,) = list((tmp_path / "outs").iterdir())
    np.testing.assert_allclose(np.load(saved), models.expected(x), rtol=1e-5, atol=1e-6)


def test_weights_incbin_on_request(models, invoke, tmp_path):
    out = tmp_path / "art"
    assert invoke("compile", models.mlp, "-t", "c", "-o", out, "--weights", "incbin").exit_code == 0
    files = set(read_manifest(out).files)
    assert {"model/weights.S", "model/weights.bin"} <= files and "model/weights.c" not in files
    x = np.ones((2, 4), np.float32)
    from mlc.runtime import load

    np.testing.assert_allclose(load(out).run({"x": x})[0], models.expected(x), rtol=1e-5)


def test_cortex_m4_compile_json_size_run_compare_and_bench(models, invoke, tmp_path,
                                                          monkeypatch):
    need("cmake", "arm-none-eabi-gcc", "qemu-system-arm")
    monkeypatch.setenv("COLUMNS", "200")  # the table's clock column, unabridged
    out = tmp_path / "mlp.m4"
    result = invoke("compile", models.mlp, "-t", "c-cortex-m4", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    size = doc["size"]
    assert size["flash"] == size["text"] + size["data"] and size["ram"] == size["data"] + size["bss"]
    assert size["arena"] == doc["arena_bytes"] and size["ram"] >= size["arena"]
    assert doc["options"]["elf"] == "model.elf" and "model.elf" in doc["files"]
    result = invoke("size", out, "--json")
    assert result.exit_code == 0, result.output
    assert {k: json.loads(result.stdout)[k] for k in ("flash", "ram")} == \
        {k: size[k] for k in ("flash", "ram")}
    result = invoke("run", out, "--json")
    assert result.exit_code == 0, result.output
    result = invoke("compare", models.mlp, "--targets", "ort,c,c-cortex-m4", "--repeat", "3",
                    "--json")
    assert result.exit_code == 0, result.output
    rows = {r["target"]: r for r in json.loads(result.stdout)["results"]}
    assert rows["c"]["ok"] and rows["c-cortex-m4"]["ok"]
    assert rows["c"]["timing"] == "host" and rows["c-cortex-m4"]["timing"].startswith("emulated")
    assert rows["c-cortex-m4"]["ratio_to_ort"] == -1.0  # emulation time has no ratio to the host
    result = invoke("compare", models.mlp, "--targets", "ort,c-cortex-m4", "--repeat", "2")
    assert "emulated (QEMU mps2-an386)" in result.stdout
    result = invoke("bench", out, "--repeat", "3", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["results"]
    assert row["timing"].startswith("emulated") and row["median_ms"] > 0


@pytest.mark.parametrize("tool", ["arm-none-eabi-gcc", "cmake"])
def test_a_missing_cross_toolchain_is_one_line_and_writes_nothing(models, invoke, tmp_path,
                                                                monkeypatch, one_line_error,
                                                                tool):
    import os
    import shutil

    bin_dir = tmp_path / "bin"  # PATH with every tool the build uses but one
    bin_dir.mkdir()
    for name in ("cmake", "arm-none-eabi-gcc", "arm-none-eabi-size", "cc", "gcc", "as", "ld",
                 "make"):
        found = shutil.which(name)
        if found and name != tool:
            os.symlink(found, bin_dir / name)
    monkeypatch.setenv("PATH", str(bin_dir))
    out = tmp_path / "art"
    result = invoke("compile", models.mlp, "-t", "c-cortex-m4", "-o", out)
    assert result.exit_code == 1
    one_line_error(result.stderr, tool, "apt-get install")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".art")]


def test_size_of_a_host_artifact_is_a_one_line_error(models, invoke, tmp_path, one_line_error):
    out = tmp_path / "art"
    assert invoke("compile", models.mlp, "-t", "c", "-o", out).exit_code == 0
    result = invoke("size", out)
    assert result.exit_code == 1
    one_line_error(result.stderr, "not a microcontroller image", "c-cortex-m4")
