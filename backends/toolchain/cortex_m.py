"""The Cortex-M cores mlc builds for: compiler flags, the QEMU board that runs each, its memory.

One table, read by the C backend (flags, linker script, SysTick clock, arena alignment), by the
runtime (which QEMU machine runs an image) and by the target registry (one ``c-<core>`` target
per row). ``cmake/arm-none-eabi.cmake`` states the same flags for builds outside mlc; a test keeps
the two equal.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from mlc.errors import MlcError

from .tools import ARM_SIZE


@dataclass(frozen=True)
class Core:
    """One Cortex-M core mlc builds for. ``gcc_flags``, ``board`` and ``cpu_hz`` mirror
    cmake/arm-none-eabi.cmake (a test keeps them equal); ``qemu_machine``/``qemu_cpu`` are None
    when QEMU cannot run the core (build-only, ``note`` says why)."""

    cpu: str
    gcc_flags: tuple[str, ...]
    board: str                  # the QEMU board the image is linked for
    linker_script: str          # file in runtime/c/mcu
    qemu_machine: str | None
    qemu_cpu: str | None
    flash_bytes: int
    ram_bytes: int
    cpu_hz: int                 # SysTick clock (MLC_CPU_HZ), so mlc_now_ns() is real time
    note: str = ""
    arena_alignment: int = 16   # arena offsets: the widest load (ldrd, or the M4/M7/M33 SIMD)

    @property
    def runs_under_qemu(self) -> bool:
        return self.qemu_machine is not None


KIB, MIB = 1024, 1024 * 1024
CORES: dict[str, Core] = {core.cpu: core for core in (
    # QEMU 7.2 has no Cortex-M0+, and its MPS2 boards accept only their own core ("This board can
    # only be used with CPU cortex-m3"): the micro:bit's Cortex-M0 is its only ARMv6-M machine, and
    # ARMv6-M code for the M0+ runs on it unchanged (timing is the M0 model's, not an M0+'s).
    Core("cortex-m0plus", ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"),
         "microbit", "microbit.ld", "microbit", "cortex-m0", 256 * KIB, 16 * KIB, 16_000_000,
         "runs as QEMU's Cortex-M0 on the micro:bit (256 KiB flash, 16 KiB RAM, 4 KiB stack)",
         arena_alignment=8),
    Core("cortex-m4", ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
         "mps2_an386", "mps2_an386.ld", "mps2-an386", "cortex-m4", 4 * MIB, 4 * MIB, 25_000_000),
    Core("cortex-m7", ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
         "mps2_an500", "mps2_an500.ld", "mps2-an500", "cortex-m7", 4 * MIB, 4 * MIB, 25_000_000),
    # AN505 boots Secure: flash is SSRAM1's Secure alias 0x10000000, RAM SSRAM2+3 at 0x38000000.
    Core("cortex-m33", ("-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"),
         "mps2_an505", "mps2_an505.ld", "mps2-an505", "cortex-m33", 4 * MIB, 4 * MIB, 20_000_000),
)}


class McuError(MlcError):
    """A Cortex-M build or run request mlc cannot serve (unknown core, missing project files)."""


def core(cpu: str) -> Core:
    """The table row for ``cpu``, or an McuError naming the known cores."""
    try:
        return CORES[cpu]
    except KeyError:
        raise McuError(f"unknown Cortex-M core {cpu!r}; known: {', '.join(CORES)}") from None


def elf_size(elf: str | os.PathLike) -> dict[str, int]:
    """text, data, bss (arm-none-eabi-size, Berkeley format), flash = text + data (code, const
    weights, .data's initial values), ram = data + bss (static RAM; the stack comes on top)."""
    size = ARM_SIZE.require()
    result = subprocess.run([size, str(elf)], capture_output=True, text=True, timeout=60)
    rows = [line.split() for line in result.stdout.splitlines()]
    if result.returncode != 0 or len(rows) < 2 or rows[0][:3] != ["text", "data", "bss"]:
        raise McuError(f"arm-none-eabi-size cannot read {elf}: "
                       f"{(result.stderr or result.stdout).strip() or 'no output'}")
    text, data, bss = (int(value) for value in rows[1][:3])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram": data + bss}
