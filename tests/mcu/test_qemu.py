"""Fake models built for Cortex-M cores and run under QEMU through the semihosting harness:
exact outputs, timing, status codes, faults and hangs ending the run, memory accounting, every
core in the table, and the project copied out as a standalone CMake tree."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mlc.backends.toolchain import cc, cmake, cortex_m
from mlc.runtime import harness
from tests.mcu import fake_models
from tests.mcu.tools import REPO, need

X = np.arange(256, dtype=np.float32) * 0.25 - 2.75
EXPECTED = fake_models.scale_expected(X).tobytes()


@pytest.fixture(autouse=True)
def qemu():
    need("qemu-system-arm")


def test_outputs_and_times(builds):
    elf = builds("scale", "cortex-m4")
    outputs, times = harness.run_elf(elf, "cortex-m4", [X.tobytes()], [1024], warmup=1, repeat=3)
    assert outputs == [EXPECTED]
    assert len(times) == 3 and all(t > 0 for t in times)


def test_two_inputs_two_outputs(builds):
    elf = builds("two", "cortex-m4")
    a = np.array([0.0, 1.0, -2.5], np.float32)
    b = np.array([0, 1, 2, 200, 255], np.uint8)
    (ea, b1), _ = harness.run_elf(elf, "cortex-m4", [a.tobytes(), b.tobytes()], [12, 20])
    np.testing.assert_allclose(np.frombuffer(ea, np.float32), np.exp(a), rtol=1e-6)
    assert np.frombuffer(b1, np.int32).tolist() == (b.astype(np.int32) * 1000 + 1).tolist()


def test_model_status_is_a_one_line_error(builds):
    elf = builds("scale", "cortex-m4")
    with pytest.raises(harness.ModelStatusError) as info:
        harness.run_elf(elf, "cortex-m4", [fake_models.first_value_input(-1)], [1024])
    assert info.value.one_line() == ("cortex-m4 under QEMU mps2-an386: mlc_run returned 2: "
                                     "an input value the model cannot handle")
    assert info.value.exit_code == info.value.status == 2


def test_wrong_input_size_is_refused(builds):
    elf = builds("scale", "cortex-m4")
    with pytest.raises(harness.HarnessError, match="has 1028 bytes, the model needs 1024") as info:
        harness.run_elf(elf, "cortex-m4", [X.tobytes(), b"abcd"], [1024])
    assert info.value.exit_code == harness.EXIT_INPUT_SIZE


def test_fault_ends_the_run(builds):
    elf = builds("scale", "cortex-m4")
    start = time.monotonic()
    with pytest.raises(harness.FaultError, match=r"CPU fault: BusFault .*bfar=0x48000000") as info:
        harness.run_elf(elf, "cortex-m4", [fake_models.fault_input()], [1024], timeout_s=60)
    assert time.monotonic() - start < 20
    assert info.value.exit_code == harness.EXIT_FAULT


def test_hang_is_stopped(builds):
    elf = builds("scale", "cortex-m4")
    with pytest.raises(harness.HangError, match="no result within 2 s"):
        harness.run_elf(elf, "cortex-m4", [fake_models.first_value_input(-3)], [1024], timeout_s=2)


def test_weights_are_in_flash(builds):
    big = cortex_m.elf_size(builds("scale", "cortex-m4"))    # 64 KiB const weight table
    small = cortex_m.elf_size(builds("small", "cortex-m4"))  # 64 bytes
    assert all(big[key] > 0 for key in ("text", "data", "bss", "flash", "ram"))
    assert big["flash"] == big["text"] + big["data"] and big["ram"] == big["data"] + big["bss"]
    assert big["flash"] - small["flash"] >= 64 * 1024 - 64
    assert big["ram"] == small["ram"]


def test_ram_overflow_fails_the_link(tmp_path):
    need("cmake", "arm-none-eabi-gcc")
    broken = tmp_path / "model"
    fake_models.write_scale(broken, w=16)
    header = broken / "model.h"
    header.write_text(header.read_text().replace("ARENA_BYTES 1024", "ARENA_BYTES 5000000"))
    with pytest.raises(cc.BuildError, match=r"will not fit in region .RAM.|mlc: RAM overflow"):
        cmake.build_project(REPO, "cortex-m4", build_dir=tmp_path / "build", model_dir=broken)


def test_timer_follows_wall_time(builds, models):
    """SysTick at MLC_CPU_HZ under QEMU (no -icount) follows the host clock: the timed runs must
    add up to most of QEMU's wall time, never more."""
    fake_models.write_scale(models / "big", n=65536)
    elf = builds("big", "cortex-m4")
    x = np.ones(65536, np.float32)
    start = time.perf_counter()
    _, times = harness.run_elf(elf, "cortex-m4", [x.tobytes()], [4 * 65536], warmup=1, repeat=60)
    wall_ns = (time.perf_counter() - start) * 1e9
    assert 0.3 * wall_ns < sum(times) < wall_ns


@pytest.mark.parametrize("cpu, opt", [("cortex-m0plus", "O2"), ("cortex-m4", "Os"),
                                      ("cortex-m7", "O2"), ("cortex-m33", "O2")])
def test_every_core(builds, cpu, opt):
    row = cortex_m.core(cpu)
    elf = builds("scale", cpu, opt=opt)
    size = cortex_m.elf_size(elf)
    assert 0 < size["flash"] <= row.flash_bytes and 0 < size["ram"] < row.ram_bytes
    if not row.runs_under_qemu:  # build-only: compiling and linking is all there is to check
        return
    outputs, times = harness.run_elf(elf, cpu, [X.tobytes()], [1024], repeat=2)
    assert outputs == [EXPECTED] and len(times) == 2
    address = (fake_models.BAD_ADDRESS_MICROBIT if row.board == "microbit"
               else fake_models.BAD_ADDRESS)
    with pytest.raises(harness.FaultError, match="CPU fault: (BusFault|HardFault)"):
        harness.run_elf(elf, cpu, [fake_models.fault_input(address=address)], [1024])


def test_standalone_project(models, tmp_path):
    need("cmake", "arm-none-eabi-gcc")
    project = cmake.write_project(tmp_path / "project", models / "two")
    assert (project / "model" / "model.h").is_file()
    a = np.array([0.5, -0.5, 3.0], np.float32)
    feeds = [a.tobytes(), bytes([9, 8, 7, 6, 5])]
    for cpu in ("cortex-m4", None):
        artifact = cmake.build_project(project, cpu)
        assert artifact.is_relative_to(project / "build")
        run = harness.run_elf if cpu else harness.run_host_harness
        args = (artifact, cpu) if cpu else (artifact,)
        (ea, b1), _ = run(*args, feeds, [12, 20])
        np.testing.assert_allclose(np.frombuffer(ea, np.float32), np.exp(a), rtol=1e-6)
        assert np.frombuffer(b1, np.int32).tolist() == [9001, 8001, 7001, 6001, 5001]
