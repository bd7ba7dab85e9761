"""The c-cortex-m* targets: the C backend's firmware image, run under QEMU through the harness.

The artifact's ``model.elf`` is a complete firmware image (harness, start-up code, the model); a
run is one QEMU process (``harness.run_elf``) fed the inputs over semihosting. Its times are
the harness's SysTick readings: emulation time on this machine, not the speed of a real chip, so
``timing_kind`` says so and ``compare`` reports it as such.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from mlc.backends.c.driver import COptions, compile_cortex_m, cortex_m_schedules
from mlc.backends.toolchain.artifact import ArtifactError, Manifest
from mlc.backends.toolchain.cortex_m import CORES, core
from mlc.backends.toolchain.tools import ARM_GCC, CMAKE, QEMU_ARM

from .bench import Timing
from .executable import Executable
from .harness import run_elf
from .shared_library import C
from .targets import Target


class QemuExecutable(Executable):
    """A Cortex-M artifact; ``threads`` is ignored (a microcontroller has one core)."""

    def __init__(self, path: Path, manifest: Manifest, threads: int | None = None):
        super().__init__(path, manifest)
        self.cpu = str(manifest.options.get("cpu", manifest.target.removeprefix("c-")))
        self.core = core(self.cpu)
        self.timing_kind = f"emulated (QEMU {self.core.qemu_machine})"
        elf = manifest.options.get("elf")
        if not isinstance(elf, str) or elf not in manifest.files:
            raise ArtifactError(f"{path}: the manifest of a {manifest.target} artifact names no "
                                f"ELF image", hint="recompile it with `mlc compile`")
        self.elf = path / elf

    @property
    def threads(self) -> int:
        return 1

    def set_threads(self, threads: int) -> int:
        return 1

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return self._run(feeds, warmup=0, repeat=1)[0]

    def time(self, feeds: Mapping[str, np.ndarray], warmup: int = 3, repeat: int = 20,
             on_run: Callable[[int], None] | None = None) -> Timing:
        """One QEMU process runs ``warmup`` + ``repeat`` inferences; the timings are the
        harness's, per run (QEMU's start-up is not in them)."""
        _, times = self._run(feeds, warmup=warmup, repeat=repeat)
        if on_run is not None:
            for i in range(repeat):
                on_run(i)
        return Timing(tuple(t / 1e6 for t in times))

    def _run(self, feeds: Mapping[str, np.ndarray], warmup: int, repeat: int
             ) -> tuple[list[np.ndarray], list[int]]:
        inputs = [a.tobytes() for a in self._check_feeds(feeds)]
        specs = self.manifest.outputs
        raw, times = run_elf(self.elf, self.cpu, inputs, [s.nbytes for s in specs],
                             warmup=warmup, repeat=repeat)
        outputs = [np.frombuffer(data, s.numpy_dtype).reshape(s.shape).copy()
                   for data, s in zip(raw, specs)]
        return outputs, times


def _cortex_m_target(cpu: str) -> Target:
    """One core of the table: compiled by the C backend, its image run under QEMU."""
    row = core(cpu)
    board = f"QEMU {row.qemu_machine}" if row.runs_under_qemu else "build only"
    return Target(
        f"c-{cpu}", f"{cpu} through the C backend and arm-none-eabi-gcc, run on {board} "
        f"(emulated: times are not the chip's)",
        compile=partial(compile_cortex_m, cpu=cpu), load=QemuExecutable, options=COptions,
        requires=(CMAKE, ARM_GCC) + ((QEMU_ARM,) if row.runs_under_qemu else ()),
        schedules=cortex_m_schedules, op_column=C.op_column)


BUILT_IN = tuple(_cortex_m_target(cpu) for cpu in CORES)
