"""Schedules as data: how a target wants loops run, separate from what they compute.

A ``Schedules`` value is chosen per target from the host's features (``default_schedules``), can
be printed (``to_json``) and overridden by the user (``with_overrides(["gemm.mr=4"])``, the
``--schedule`` option of ``mlc compile``). Lowering reads it: scheduled lowerings of conv2d and
matmul (``ops.SCHEDULED``) take their tile sizes from ``gemm``, and ``transform.schedule_loops``
vectorizes and parallelizes the plain loop nests of every other kernel from ``loops``. With no
schedules at all, lowering gives the plain serial nests the evaluator checks everything against.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterable

from mlc.errors import MlcError


class ScheduleError(MlcError):
    """A schedule override names an unknown field or gives a value of the wrong kind."""


@dataclass(frozen=True)
class GemmSchedule:
    """Matrix products (matmul, gemm, conv2d as a product): an ``mr`` × ``nr`` tile of the
    output is accumulated in registers over the whole K (``nr`` a multiple of the vector lanes),
    with the constant operand pre-packed at compile time into ``mr``-row panels; ``kc`` blocks K
    for the cache; outer tiles run in parallel. ``conv`` picks how a convolution becomes a
    product: ``im2col`` copies input patches into a packed scratch matrix, ``direct`` reads
    the input in place (1×1 stride-1 convs), ``auto`` chooses; depthwise convs take their own
    direct path unless ``depthwise`` is false. ``im2col_kib`` caps the im2col matrix: a conv
    needing more stays a plain loop nest without scratch (a layer-sized matrix is more RAM than
    a microcontroller has)."""

    mr: int = 6
    nr: int = 32
    kc: int = 512
    parallel: bool = True
    conv: str = "auto"
    depthwise: bool = True
    im2col_kib: int = 1 << 20


@dataclass(frozen=True)
class LoopSchedule:
    """Every other loop nest: the innermost loop is vectorized ``lanes`` wide (1: scalar) with a
    serial tail, and the outermost loops run in parallel when the nest does at least
    ``min_parallel_elements`` units of work (stores plus accumulation steps, so reductions and
    global pools over many channels count what they really do)."""

    lanes: int = 16
    parallel: bool = True
    min_parallel_elements: int = 1 << 15


@dataclass(frozen=True)
class Schedules:
    """The schedules of one target. ``isa`` names the vector extension they were made for
    (avx512, avx2, scalar); ``vector_bits`` is its register width."""

    isa: str = "scalar"
    vector_bits: int = 0
    gemm: GemmSchedule = field(default_factory=GemmSchedule)
    loops: LoopSchedule = field(default_factory=LoopSchedule)

    def lanes(self, itemsize: int = 4) -> int:
        """Vector lanes for elements of ``itemsize`` bytes (1 when scalar)."""
        return max(1, self.vector_bits // (8 * itemsize))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: Iterable[str]) -> Schedules:
        """Apply ``section.field=value`` overrides (``gemm.mr=4``, ``loops.parallel=false``)."""
        return functools.reduce(_override, overrides, self)


def default_schedules(isa: str) -> Schedules:
    """The schedules for a vector extension: ``avx512`` (16 f32 lanes), ``avx2`` (8), or
    ``scalar``."""
    if isa == "avx512":
        return Schedules("avx512", 512, GemmSchedule(mr=6, nr=32), LoopSchedule(lanes=16))
    if isa == "avx2":
        return Schedules("avx2", 256, GemmSchedule(mr=6, nr=16), LoopSchedule(lanes=8))
    if isa == "scalar":
        return Schedules("scalar", 0, GemmSchedule(mr=4, nr=4), LoopSchedule(lanes=1))
    raise ScheduleError(f"unknown vector extension {isa!r}", hint="use avx512, avx2 or scalar")


def _override(schedules: Schedules, text: str) -> Schedules:
    key, sep, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    sections = {"gemm": schedules.gemm, "loops": schedules.loops}
    if not sep or not dot or section not in sections:
        raise ScheduleError(f"bad schedule override {text!r}",
                            hint="write SECTION.FIELD=VALUE, e.g. gemm.mr=4 or loops.lanes=8")
    target = sections[section]
    known = {f.name: f for f in fields(target)}
    if name not in known:
        raise ScheduleError(f"schedule section {section} has no field {name!r}",
                            hint=f"its fields: {', '.join(known)}")
    current = getattr(target, name)
    value = _parse(raw.strip(), current, key)
    return replace(schedules, **{section: replace(target, **{name: value})})


def _parse(raw: str, current: Any, key: str) -> Any:
    if isinstance(current, bool):
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ScheduleError(f"schedule {key} takes true or false, not {raw!r}")
    if isinstance(current, int):
        try:
            value = int(raw)
        except ValueError:
            raise ScheduleError(f"schedule {key} takes a whole number, not {raw!r}") from None
        if value < 1:
            raise ScheduleError(f"schedule {key} must be at least 1, not {value}")
        return value
    return raw
