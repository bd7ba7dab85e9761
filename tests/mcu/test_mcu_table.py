"""The Python side of the Cortex-M support without any toolchain: the core table agrees with the
CMake toolchain file, the project file list is complete, and the harness protocol and build logs
are parsed into the right one-line errors."""

from __future__ import annotations

import re

import pytest

from mlc.backends.toolchain import cmake, cortex_m
from mlc.runtime import harness
from mlc.backends.toolchain.tools import ToolchainError
from tests.mcu.tools import REPO


def toolchain_rows() -> dict[str, dict[str, str]]:
    """cmake/arm-none-eabi.cmake's table: cpu -> flags, board, hz."""
    text = (REPO / "cmake" / "arm-none-eabi.cmake").read_text()
    rows = {}
    for match in re.finditer(r'MLC_CPU STREQUAL "([^"]+)"\)(.*?)(?=elseif|else\(\))', text, re.S):
        body = match.group(2)
        rows[match.group(1)] = {
            "flags": re.search(r'set\(MLC_CPU_FLAGS "([^"]+)"\)', body).group(1),
            "board": re.search(r"set\(MLC_BOARD (\S+)\)", body).group(1),
            "hz": re.search(r"set\(MLC_CPU_HZ (\d+)\)", body).group(1)}
    return rows


def test_core_table_matches_the_toolchain_file():
    rows = toolchain_rows()
    assert set(rows) == set(cortex_m.CORES) == {"cortex-m0plus", "cortex-m4", "cortex-m7",
                                                "cortex-m33"}
    for cpu, row in cortex_m.CORES.items():
        assert " ".join(row.gcc_flags) == rows[cpu]["flags"]
        assert row.board == rows[cpu]["board"] and row.linker_script == f"{row.board}.ld"
        assert row.cpu_hz == int(rows[cpu]["hz"])
        script = (cmake.MCU_DIR / row.linker_script).read_text()
        lengths = dict(re.findall(r"(FLASH|RAM)\s.*LENGTH = (\d+[KM])", script))
        as_bytes = {k: int(v[:-1]) * (1024 if v[-1] == "K" else 1024 * 1024)
                    for k, v in lengths.items()}
        assert as_bytes == {"FLASH": row.flash_bytes, "RAM": row.ram_bytes}


def test_project_files_cover_a_standalone_build():
    files = cmake.project_files()
    for rel in ("CMakeLists.txt", "cmake/arm-none-eabi.cmake", "runtime/c/mlc_runtime.h",
                "runtime/c/runtime.c", "runtime/c/thread_pool.c", "runtime/c/mcu/harness.c",
                "runtime/c/mcu/startup_cortexm.c", "runtime/c/mcu/sections.ld"):
        assert rel in files and files[rel].is_file()
    for row in cortex_m.CORES.values():
        assert f"runtime/c/mcu/{row.linker_script}" in files
    assert not any(rel.endswith(".py") for rel in files)


def test_project_files_outside_a_checkout(monkeypatch, tmp_path):
    monkeypatch.setattr(cmake, "PROJECT_ROOT", tmp_path)
    with pytest.raises(cortex_m.McuError, match="source checkout"):
        cmake.project_files()


def test_unknown_core():
    with pytest.raises(cortex_m.McuError, match="cortex-m4"):
        cortex_m.core("cortex-m99")


def test_missing_tools_name_the_packages(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="cmake") as info:
        cmake.build_project(REPO, "cortex-m4")
    assert "apt-get install -y cmake" in info.value.one_line()
    elf = tmp_path / "model.elf"
    elf.write_bytes(b"")
    with pytest.raises(ToolchainError, match="qemu-system-arm") as info:
        harness.run_elf(elf, "cortex-m4", [b""], [0])
    assert "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm" in info.value.one_line()
    with pytest.raises(ToolchainError, match="arm-none-eabi-size"):
        cortex_m.elf_size(elf)


@pytest.mark.parametrize("log, first", [
    ("[ 10%] Building C object x.o\n/m/extra.c:1:22: error: 'x' undeclared\n"
     "gmake[2]: *** [x] Error 1\n", "/m/extra.c:1:22: error: 'x' undeclared"),
    ("/usr/lib/gcc/arm-none-eabi/12.2.1/../../../arm-none-eabi/bin/ld: mlc: RAM overflow: ...\n"
     "collect2: error: ld returned 1 exit status\n", "ld: mlc: RAM overflow: ..."),
    ("/usr/bin/ld: a.o: in function `f':\n/usr/bin/ld: a.c:(.text+0x5): undefined reference to "
     "`g'\ncollect2: error: ld returned 1 exit status\n",
     "ld: a.c:(.text+0x5): undefined reference to `g'"),
    ("CMake Error at CMakeLists.txt:25 (message):\n  mlc: no model.h in X\n\n",
     "CMake Error at CMakeLists.txt:25 (message): mlc: no model.h in X"),
])
def test_first_error_line(log, first):
    assert cmake._first_error(log) == first


def test_protocol_parsing():
    assert harness._check("t", 0, "mlc-time-ns 12\nmlc-time-ns 7\nmlc-status 0\n") == [12, 7]
    with pytest.raises(harness.ModelStatusError, match="t: mlc_run returned 2: bad") as info:
        harness._check("t", 2, "mlc-error mlc_run returned 2: bad\nmlc-status 2\n")
    assert info.value.status == 2 and info.value.exit_code == 2
    with pytest.raises(harness.HarnessError, match="t: input file in.bin has 5 bytes") as info:
        harness._check("t", 66, "mlc-error input file in.bin has 5 bytes\nmlc-status 66\n")
    assert not isinstance(info.value, harness.ModelStatusError)
    with pytest.raises(harness.FaultError, match="CPU fault: BusFault"):
        harness._check("t", 70, "mlc-fault BusFault pc=0x1\n")
    with pytest.raises(harness.FaultError, match="heap-buffer-overflow"):
        harness._check("t", 1, "==1==ERROR: AddressSanitizer: heap-buffer-overflow on address\n")
    with pytest.raises(harness.FaultError, match="SIGSEGV"):
        harness._check("t", -11, "")
    with pytest.raises(harness.HarnessError, match="without a harness status"):
        harness._check("t", 1, "qemu-system-arm: could not load kernel\n")
    with pytest.raises(harness.HarnessError, match="reported status 0 but exited with 3"):
        harness._check("t", 3, "mlc-status 0\n")

