"""Run a model's harness and read back its outputs and timings: a Cortex-M image under QEMU
(semihosting), or the host ``mlc_harness`` (e.g. built with sanitizers).

QEMU's MPS2 boards and micro:bit run the image unchanged, with files, console and exit code over
semihosting. The harness protocol (runtime/c/mcu/harness.c) is: ``harness IN OUT WARMUP REPEAT``,
IN/OUT the tensors' raw bytes concatenated in manifest order, one ``mlc-time-ns <n>`` line per
timed run, ``mlc-error <message>`` on failure and a last ``mlc-status <code>`` equal to the exit
code (0, mlc_run's status 1..63, harness codes >= 64); a CPU fault prints ``mlc-fault ...`` and
exits 70. Every failure here is a one-line ``MlcError``.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from mlc.backends.toolchain.cortex_m import McuError, core
from mlc.backends.toolchain.tools import QEMU_ARM

# Harness exit codes (runtime/c/mcu/harness.h).
EXIT_STATUS_MAX = 63
EXIT_USAGE, EXIT_INPUT_OPEN, EXIT_INPUT_SIZE, EXIT_OUTPUT, EXIT_ARENA = 64, 65, 66, 67, 68
EXIT_FAULT = 70
# The file names the harness is given; fixed, short and space-free (semihosting's command line
# is split on spaces), inside a fresh temporary directory.
IN_NAME, OUT_NAME = "in.bin", "out.bin"


class HarnessError(McuError):
    """The harness did not finish cleanly. ``exit_code`` is the process's, ``status`` the
    harness's ``mlc-status`` (None if it never printed one), ``console`` everything it printed."""

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None,
                 status: int | None = None, console: str = ""):
        super().__init__(message, hint)
        self.exit_code = exit_code
        self.status = status
        self.console = console


class ModelStatusError(HarnessError):
    """mlc_run returned a non-zero status (``status``, 1..63)."""


class FaultError(HarnessError):
    """The CPU faulted (``mlc-fault`` line), or the host harness crashed or a sanitizer fired."""


class HangError(HarnessError):
    """The run did not finish within its timeout and was killed."""


def run_elf(elf: str | os.PathLike, cpu: str, inputs: Sequence[bytes], output_sizes: Sequence[int],
            warmup: int = 0, repeat: int = 1,
            timeout_s: float = 120.0) -> tuple[list[bytes], list[int]]:
    """Run a harness image under QEMU (the core's board, semihosting on): feed ``inputs`` (raw
    bytes per input, manifest order), return (outputs split by ``output_sizes``, the ``repeat``
    timed runs in ns). A non-zero exit raises a one-line HarnessError subclass; a run longer than
    ``timeout_s`` is killed and raises HangError."""
    row = core(cpu)
    if not row.runs_under_qemu:
        raise McuError(f"{cpu} cannot run under QEMU ({row.note}); it is build-only")
    qemu = QEMU_ARM.require()
    elf = Path(elf).resolve()
    if not elf.is_file():
        raise McuError(f"no image at {elf}")
    args = ",".join(f"arg={value}" for value in ("model.elf", IN_NAME, OUT_NAME, int(warmup),
                                                   int(repeat)))
    command = [qemu, "-M", row.qemu_machine, "-cpu", row.qemu_cpu, "-nographic", "-monitor",
               "none", "-semihosting-config", f"enable=on,target=native,{args}",
               "-kernel", str(elf)]
    return _run_harness(command, f"{cpu} under QEMU {row.qemu_machine}", inputs, output_sizes,
                        repeat, timeout_s)


def run_host_harness(exe: str | os.PathLike, inputs: Sequence[bytes], output_sizes: Sequence[int],
                     warmup: int = 0, repeat: int = 1, timeout_s: float = 120.0,
                     env: Mapping[str, str] | None = None) -> tuple[list[bytes], list[int]]:
    """run_elf's contract for the host ``mlc_harness`` (e.g. an ASan/UBSan build); ``env`` adds
    variables (MLC_NUM_THREADS, ASAN_OPTIONS, ...)."""
    exe = Path(exe).resolve()
    if not exe.is_file():
        raise McuError(f"no harness executable at {exe}")
    command = [str(exe), IN_NAME, OUT_NAME, str(int(warmup)), str(int(repeat))]
    return _run_harness(command, "host harness", inputs, output_sizes, repeat, timeout_s,
                        env={**os.environ, **env} if env else None)


def _run_harness(command: Sequence[str], label: str, inputs: Sequence[bytes],
                 output_sizes: Sequence[int], repeat: int, timeout_s: float,
                 env: Mapping[str, str] | None = None) -> tuple[list[bytes], list[int]]:
    with tempfile.TemporaryDirectory(prefix="mlc-harness-") as scratch:
        folder = Path(scratch)
        (folder / IN_NAME).write_bytes(b"".join(bytes(part) for part in inputs))
        try:
            result = subprocess.run(list(command), cwd=folder, stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, errors="replace",
                                    timeout=timeout_s, env=env)
        except (FileNotFoundError, PermissionError) as exc:
            raise McuError(f"{label}: cannot start {command[0]}: {exc.strerror}") from None
        except subprocess.TimeoutExpired as exc:
            console = _text(exc.stdout) + _text(exc.stderr)
            raise HangError(f"{label}: no result within {timeout_s:.0f} s; stopped (a hang, or a "
                            "crash that never reached a fault handler)", console=console) from None
        console = result.stdout + result.stderr
        times = _check(label, result.returncode, console)
        out_path = folder / OUT_NAME
        data = out_path.read_bytes() if out_path.is_file() else b""
    if len(data) != sum(output_sizes):
        raise HarnessError(f"{label}: the harness wrote {len(data)} output bytes, expected "
                           f"{sum(output_sizes)} (sizes {list(output_sizes)})",
                           exit_code=result.returncode, status=0, console=console)
    ends = list(itertools.accumulate(output_sizes))
    outputs = [data[end - size:end] for size, end in zip(output_sizes, ends)]
    if len(times) != repeat:
        raise HarnessError(f"{label}: {len(times)} mlc-time-ns lines for {repeat} timed runs",
                           exit_code=result.returncode, status=0, console=console)
    return outputs, times


def _text(stream: bytes | str | None) -> str:
    if stream is None:
        return ""
    return stream if isinstance(stream, str) else stream.decode(errors="replace")


_SANITIZER = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer.*|runtime error: .*")


def _check(label: str, exit_code: int, console: str) -> list[int]:
    """Turn the harness's console and exit code into its timed runs, or the matching error."""
    times, status, message, fault = [], None, "", None
    for line in console.splitlines():
        line = line.strip()
        if line.startswith("mlc-time-ns "):
            times.append(int(line.split()[1]))
        elif line.startswith("mlc-status "):
            status = int(line.split()[1])
        elif line.startswith("mlc-error "):
            message = line[len("mlc-error "):]
        elif line.startswith("mlc-fault "):
            fault = line[len("mlc-fault "):]
    details = {"exit_code": exit_code, "status": status, "console": console}
    if fault is not None:
        raise FaultError(f"{label}: CPU fault: {fault}", **details)
    if status is None:
        sanitizer = _SANITIZER.search(console)
        if sanitizer:
            raise FaultError(f"{label}: {sanitizer.group(0).strip()}", **details)
        if exit_code < 0:
            raise FaultError(f"{label}: killed by {signal.Signals(-exit_code).name}", **details)
        last = next((line.strip() for line in reversed(console.splitlines()) if line.strip()),
                    None)
        said = (f"last output: {last}" if last else
                "no output; a locked-up core, e.g. after a stack overflow, ends QEMU like this")
        raise HarnessError(f"{label}: exited with code {exit_code} without a harness status "
                           f"({said})", **details)
    if status != exit_code:
        raise HarnessError(f"{label}: harness reported status {status} but exited with "
                           f"{exit_code}", **details)
    if 1 <= status <= EXIT_STATUS_MAX:
        raise ModelStatusError(f"{label}: {message or f'mlc_run returned {status}'}", **details)
    if status != 0:
        raise HarnessError(f"{label}: {message or f'harness failed with code {status}'}",
                           **details)
    return times
