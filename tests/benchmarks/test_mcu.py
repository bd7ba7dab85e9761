"""benchmarks/mcu.py runs and its numbers hang together, on the smallest zoo model, as a user
would run it (the Cortex-M columns need the arm toolchain and QEMU that `make test` installs)."""

from __future__ import annotations

import json
import subprocess
import sys

from mlc.testing.models import REPO_ROOT
from tests.mcu.tools import need

SCRIPT = REPO_ROOT / "benchmarks" / "mcu.py"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def test_json_footprint_and_host_rows():
    need("cmake", "arm-none-eabi-gcc", "qemu-system-arm")
    result = run_script("--json", "--models", "digits_cnn", "--cores", "cortex-m4,cortex-m0plus",
                        "--repeat", "3", "--warmup", "1")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    m4, m0 = doc["footprints"]
    assert (m4["model"], m4["core"], m0["core"]) == ("digits_cnn", "cortex-m4", "cortex-m0plus")
    for row in (m4, m0):
        assert row["fits"], row["note"]
        assert row["flash"] == row["text"] + row["data"] and row["ram"] == row["data"] + row["bss"]
        assert row["flash"] >= row["weights"] > 0  # const weights live in flash
        assert row["ram"] >= row["arena"] >= row["planned"] + row["workspace"]
        assert row["planned"] >= row["lower_bound"] > 0
        assert row["emulated_ms"] > 0 and row["clock"].startswith("emulated")
    (host,) = doc["host"]
    assert host["llvm_ok"] and host["c_ok"]
    assert all(host[f"{s}_ms"] > 0 for s in ("ort", "llvm", "c"))
    assert host["c_vs_llvm"] == round(host["c_ms"] / host["llvm_ms"], 3)


def test_a_model_too_big_for_a_core_is_a_row_not_a_crash():
    need("cmake", "arm-none-eabi-gcc")
    result = run_script("--json", "--models", "ad_autoencoder", "--cores", "cortex-m0plus",
                        "--no-host", "--no-qemu")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["footprints"]
    assert not row["fits"] and "FLASH" in row["note"]  # 1 MiB of weights, 256 KiB of flash


def test_table_output_names_the_emulated_clock():
    need("cmake", "arm-none-eabi-gcc", "qemu-system-arm")
    result = run_script("--models", "digits_mlp", "--repeat", "2", "--warmup", "0", "--no-host")
    assert result.returncode == 0, result.stderr
    assert "emulation time" in result.stdout and "digits_mlp" in result.stdout
