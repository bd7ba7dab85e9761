"""The harness as a host executable (linked against libmodel.so): outputs, timing lines, exit
codes and the refusals of its protocol, plus the same model under ASan/UBSan. This is the build
the sanitizers check, so it must behave exactly like the image under QEMU."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from mlc.backends.toolchain import cc, cmake
from mlc.runtime import harness
from tests.mcu import fake_models
from tests.mcu.tools import REPO, need

X = np.arange(256, dtype=np.float32) - 7.25


def test_outputs_and_times(builds):
    exe = builds("scale", None)
    assert (exe.parent / "libmodel.so").is_file()
    outputs, times = harness.run_host_harness(exe, [X.tobytes()], [1024], warmup=2, repeat=3)
    assert outputs == [fake_models.scale_expected(X).tobytes()]
    assert len(times) == 3 and all(t > 0 for t in times)


def test_two_inputs_two_outputs(builds):
    exe = builds("two", None)
    a = np.array([0.0, 1.0, -2.5], np.float32)
    b = np.array([0, 1, 2, 200, 255], np.uint8)
    (ea, b1), times = harness.run_host_harness(exe, [a.tobytes(), b.tobytes()], [12, 20], repeat=1)
    np.testing.assert_allclose(np.frombuffer(ea, np.float32), np.exp(a), rtol=1e-6)
    assert np.frombuffer(b1, np.int32).tolist() == (b.astype(np.int32) * 1000 + 1).tolist()
    assert len(times) == 1


def test_model_status_is_the_exit_code(builds):
    exe = builds("scale", None)
    bad = np.zeros(256, np.float32)
    bad[0] = -1
    with pytest.raises(harness.ModelStatusError,
                       match="mlc_run returned 2: an input value") as info:
        harness.run_host_harness(exe, [bad.tobytes()], [1024])
    assert info.value.exit_code == 2 and info.value.status == 2


def test_wrong_input_size_is_refused(builds):
    exe = builds("scale", None)
    with pytest.raises(harness.HarnessError, match="has 1020 bytes, the model needs 1024") as info:
        harness.run_host_harness(exe, [X.tobytes()[:-4]], [1024])
    assert info.value.exit_code == harness.EXIT_INPUT_SIZE
    assert "\n" not in info.value.one_line()


def test_exit_codes_of_the_executable(builds, tmp_path):
    exe = builds("scale", None)
    (tmp_path / "in.bin").write_bytes(X.tobytes())

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe), *args], cwd=tmp_path, capture_output=True, text=True)

    done = run("in.bin", "out.bin", "0", "2")
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "mlc-status 0"
    assert (tmp_path / "out.bin").stat().st_size == 1024
    assert run("in.bin", "out.bin", "0").returncode == harness.EXIT_USAGE
    assert run("in.bin", "out.bin", "0", "0").returncode == harness.EXIT_USAGE
    assert run("in.bin", "out.bin", "x", "1").returncode == harness.EXIT_USAGE
    missing = run("nope.bin", "out.bin", "0", "1")
    assert missing.returncode == harness.EXIT_INPUT_OPEN
    assert "cannot read input file" in missing.stdout
    unwritable = run("in.bin", "no/such/dir/out.bin", "0", "1")
    assert unwritable.returncode == harness.EXIT_OUTPUT


def test_sanitized_build(builds):
    exe = builds("two", None, sanitize=True)
    a = np.array([0.5, 1.5, 2.5], np.float32)
    (ea, _), _ = harness.run_host_harness(exe, [a.tobytes(), bytes(5)], [12, 20], warmup=1,
                                          repeat=2)
    np.testing.assert_allclose(np.frombuffer(ea, np.float32), np.exp(a), rtol=1e-6)


def test_host_crash_is_a_fault(builds):
    exe = builds("scale", None)
    with pytest.raises(harness.FaultError, match="host harness: killed by SIGSEGV"):
        harness.run_host_harness(exe, [fake_models.fault_input()], [1024])


def test_compile_error_is_one_line(tmp_path):
    need("cmake")
    broken = tmp_path / "model"
    fake_models.write_two(broken)
    (broken / "extra.c").write_text("int mlc_extra(void) { return undeclared_name; }\n")
    with pytest.raises(cc.BuildError, match=r"extra\.c:1:\d+: error: .undeclared_name.") as info:
        cmake.build_project(REPO, None, build_dir=tmp_path / "build", model_dir=broken)
    assert "undeclared_name" in info.value.log and "\n" not in str(info.value)
    assert not (tmp_path / "build" / "mlc_harness").exists()
