"""Shared plumbing of the scripts in benchmarks/: systems under test, interleaved timing, tables.

A benchmark compares several systems (onnxruntime, mlc targets, TVM, PyTorch) on one model. Each
is a ``System`` with a call per thread count; ``run_rounds`` times them round-robin so clock
drift and noisy neighbours hit all alike, and a system that fails is a cell, not a crash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from mlc.errors import single_line

MAX_ROUNDS = 1000


@dataclass
class System:
    """One system on one model: its runners per thread count, or why it has none."""

    name: str
    calls: dict[int, Callable[[dict], list]] = field(default_factory=dict)  # feeds → outputs
    setup: dict[int, Callable[[], None]] = field(default_factory=dict)  # before calls at t
    compile_s: float | None = None
    error: str | None = None
    agrees: bool | None = None
    times: dict[int, list[float]] = field(default_factory=dict)
    kernels: int | None = None  # device kernels, where the system reports them

    def fail(self, why: str) -> None:
        self.error, self.calls = why, {}


def one_line(exc: BaseException) -> str:
    """An exception as a table cell: its type and message on one line."""
    text = single_line(exc, 120)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def add_round_options(parser, *, repeat: int, warmup: int) -> None:
    """``--repeat``, ``--warmup`` and ``--min-time``: how a benchmark's ``run_rounds`` go."""
    parser.add_argument("--repeat", type=int, default=repeat,
                        help=f"timed rounds (default {repeat})")
    parser.add_argument("--warmup", type=int, default=warmup,
                        help=f"untimed rounds (default {warmup})")
    parser.add_argument("--min-time", type=float, default=1.0,
                        help="go on past --repeat until the timed rounds took this many seconds "
                             f"(at most {MAX_ROUNDS} rounds; default 1.0)")


def check_round_options(parser, args) -> None:
    """A usage error for round options ``run_rounds`` cannot honour."""
    if args.repeat < 1 or args.warmup < 0 or args.min_time < 0:
        parser.error("--repeat must be ≥ 1, --warmup and --min-time ≥ 0")


def run_rounds(systems: dict[str, System], feeds, t: int, *, repeat: int, warmup: int,
               min_time: float, say: Callable[[int], None]) -> int:
    """Round-robin at ``t`` threads: each round calls every system's runner once, timing only
    the call. Returns the number of timed rounds: ``repeat``, or more until they took
    ``min_time`` seconds."""
    for system in systems.values():
        try:
            if t in system.setup and t in system.calls:
                system.setup[t]()
        except Exception as exc:
            system.fail(f"n/a (setting {t} threads failed: {one_line(exc)})")
    r, timed_s = 0, 0.0
    while r < warmup + repeat or (timed_s < min_time and r < warmup + MAX_ROUNDS):
        if r < warmup + repeat or r % 100 == 0:
            say(r + 1)
        start_round = time.perf_counter()
        for system in systems.values():
            if t not in system.calls:
                continue
            try:
                start = time.perf_counter()
                system.calls[t](feeds)
                elapsed = (time.perf_counter() - start) * 1e3
            except Exception as exc:
                system.fail(f"n/a (run failed: {one_line(exc)})")
                continue
            if r >= warmup:
                system.times.setdefault(t, []).append(elapsed)
        if r >= warmup:
            timed_s += time.perf_counter() - start_round
        r += 1
    return r - warmup


def print_wide(table, width: int = 220) -> None:
    """Print a rich table; in a file or CI log use ``width`` columns instead of squeezing to 80."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=width)
    console.print(table)
