"""Compare targets with onnxruntime: numerical agreement and latency at the same thread count.

onnxruntime is the reference for both numbers: its outputs are the expected values and its median
latency the denominator of ``ratio_to_ort``. Every target runs on the same feeds; a target that
fails is reported as a failed row and the others still run, so one broken backend does not hide
the state of the rest.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field, fields
from typing import Callable, Mapping, Sequence

import numpy as np

from mlc.errors import MlcError, single_line

from .bench import Timing, time_runs
from .model import Model
from .targets import Runner, TargetError, get_target

DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-5
UNMEASURED = -1.0  # JSON has no NaN: errors and latencies a failed target never produced


@dataclass(frozen=True)
class Agreement:
    """How closely a target's outputs match the reference's."""

    ok: bool
    max_abs_err: float
    max_rel_err: float
    problem: str | None = None  # a structural mismatch (count, shape, dtype), if any


def agreement(got: Sequence[np.ndarray], want: Sequence[np.ndarray], *, rtol: float = DEFAULT_RTOL,
              atol: float = DEFAULT_ATOL) -> Agreement:
    """ok = same number of outputs, equal shapes and dtypes, and ``allclose(got, want, rtol,
    atol)`` for each. Relative error is ``|got - want| / max(|want|, atol)``, so tiny expected
    values do not blow it up. A NaN where the reference has a number is an infinite error."""
    if len(got) != len(want):
        return Agreement(False, UNMEASURED, UNMEASURED,
                         f"returned {len(got)} outputs, onnxruntime {len(want)}")
    max_abs = max_rel = 0.0
    ok = True
    for index, (a, b) in enumerate(zip(got, want)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return Agreement(False, UNMEASURED, UNMEASURED,
                             f"output {index} is {a.dtype}{list(a.shape)}, "
                             f"onnxruntime gives {b.dtype}{list(b.shape)}")
        if a.size == 0:
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        with np.errstate(invalid="ignore"):
            err = np.abs(a64 - b64)
        same_special = (np.isnan(a64) & np.isnan(b64)) | (np.isinf(a64) & (a64 == b64))
        err = np.where(same_special, 0.0, err)
        err = np.where(np.isnan(err), np.inf, err)
        with np.errstate(invalid="ignore"):
            rel = err / np.maximum(np.abs(b64), max(atol, np.finfo(np.float64).tiny))
        rel = np.where(same_special, 0.0, np.where(np.isnan(rel), np.inf, rel))
        tolerance = np.where(np.isfinite(b64), atol + rtol * np.abs(b64), 0.0)
        max_abs = max(max_abs, float(err.max()))
        max_rel = max(max_rel, float(rel.max()))
        ok = ok and bool(np.all(err <= tolerance))
    return Agreement(ok, max_abs, max_rel)


@dataclass
class TargetResult:
    target: str
    ok: bool
    max_abs_err: float = UNMEASURED
    max_rel_err: float = UNMEASURED
    median_ms: float = UNMEASURED
    p90_ms: float = UNMEASURED
    ratio_to_ort: float = UNMEASURED
    compile_s: float = UNMEASURED
    timing: str = "host"  # whose clock median_ms/p90_ms read (see Runner.timing_kind)
    error: str | None = None
    traceback: str | None = None  # for failures that are mlc bugs; shown on stderr, not in JSON

    def to_json(self) -> dict:
        """Every field but the traceback, in order; the float ones made JSON-safe."""
        return {f.name: _finite(getattr(self, f.name)) if f.type == "float"
                else getattr(self, f.name) for f in fields(self) if f.name != "traceback"}


def _finite(x: float) -> float:
    """JSON-safe float: an infinite error is written as the largest double."""
    x = float(x)
    if math.isnan(x):
        return UNMEASURED
    if math.isinf(x):
        return math.copysign(np.finfo(np.float64).max, x)
    return x


@dataclass
class CompareReport:
    model: str
    threads: int
    results: list[TargetResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_json(self) -> dict:
        return {"model": self.model, "threads": self.threads,
                "results": [r.to_json() for r in self.results]}


Progress = Callable[[str], None]


def compare(model: Model, targets: Sequence[str], feeds: Mapping[str, np.ndarray], *,
            threads: int = 1, repeat: int = 20, warmup: int = 3, rtol: float = DEFAULT_RTOL,
            atol: float = DEFAULT_ATOL, progress: Progress | None = None) -> CompareReport:
    """Run ``targets`` (registry names) on ``feeds`` and compare each with onnxruntime.

    onnxruntime failing is an error of the whole comparison (there is nothing to compare with);
    any other target failing becomes a row with ``ok=False`` and its one-line error.
    """
    say = progress or (lambda text: None)
    say("onnxruntime: preparing the reference")
    reference = get_target("ort").prepare(model, threads)
    expected = reference.run(feeds)
    ort_timing = time_runs(lambda: reference.run(feeds), warmup=warmup, repeat=repeat,
                           on_run=_counter(say, "onnxruntime", repeat))
    report = CompareReport(model=model.path, threads=threads)
    for name in targets:
        if name == "ort":
            report.results.append(_row(name, Agreement(True, 0.0, 0.0), ort_timing, ort_timing,
                                       reference.compile_s))
            continue
        report.results.append(_run_target(name, model, feeds, expected, ort_timing, threads=threads,
                                          repeat=repeat, warmup=warmup, rtol=rtol, atol=atol,
                                          say=say))
    return report


def _run_target(name: str, model: Model, feeds, expected, ort_timing: Timing, *, threads: int,
                repeat: int, warmup: int, rtol: float, atol: float, say: Progress) -> TargetResult:
    runner: Runner | None = None
    try:
        say(f"{name}: preparing")
        runner = get_target(name).prepare(model, threads)
        say(f"{name}: checking outputs")
        match = agreement(runner.run(feeds), expected, rtol=rtol, atol=atol)
        timing = runner.time(feeds, warmup=warmup, repeat=repeat,
                             on_run=_counter(say, name, repeat))
    except MlcError as exc:
        return _failed(name, runner, exc.one_line())
    except Exception as exc:  # a bug in mlc: report it and keep comparing the other targets
        result = _failed(name, runner, f"internal error: {type(exc).__name__}: {single_line(exc)}")
        result.traceback = traceback.format_exc()
        return result
    return _row(name, match, timing, ort_timing, runner.compile_s, runner.timing_kind)


def _counter(say: Progress, name: str, repeat: int) -> Callable[[int], None]:
    say(f"{name}: timing (warm-up)")
    return lambda i: say(f"{name}: timed run {i + 1}/{repeat}")


def _row(name: str, match: Agreement, timing: Timing, ort_timing: Timing,
         compile_s: float, timing_kind: str = "host") -> TargetResult:
    """A result row; the ratio to onnxruntime only when both are wall-clock times on this
    machine (the host's, or a GPU's synchronised calls): an emulator's time over the host's is
    no speed ratio."""
    comparable = not timing_kind.startswith("emulated") and ort_timing.median_ms > 0
    ratio = timing.median_ms / ort_timing.median_ms if comparable else UNMEASURED
    return TargetResult(target=name, ok=match.ok, max_abs_err=match.max_abs_err,
                        max_rel_err=match.max_rel_err, median_ms=timing.median_ms,
                        p90_ms=timing.p90_ms, ratio_to_ort=ratio, compile_s=compile_s,
                        timing=timing_kind, error=match.problem)


def _failed(name: str, runner: Runner | None, message: str) -> TargetResult:
    return TargetResult(target=name, ok=False, error=message,
                        compile_s=runner.compile_s if runner is not None else UNMEASURED)


__all__ = ["Agreement", "CompareReport", "TargetResult", "TargetError", "agreement", "compare",
           "DEFAULT_RTOL", "DEFAULT_ATOL", "UNMEASURED"]
