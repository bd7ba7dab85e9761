"""What a compile target takes, declared once: one options base class and its checks.

Every target's options are a frozen dataclass derived from ``CompileOptions``; its fields are
exactly the keywords ``mlc.compile(graph, target, **options)`` accepts and the flags of
``mlc compile`` that apply to it, so a flag a target does not take is refused by name rather than
ignored. ``LoopOptions`` adds what the targets that render mlc's loop IR share (llvm, c and the
Cortex-M cores): schedule overrides and the memory-planning strategy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from mlc.errors import MlcError

O = TypeVar("O", bound="CompileOptions")


class CompileError(MlcError):
    """The model cannot be compiled for this target (an option or a graph the target rejects)."""


@dataclass(frozen=True)
class CompileOptions:
    """What every target takes: the pass pipeline and the intermediate forms to write too."""

    level: str = "O2"  # a pipeline: a level (O0..O2) or pass specs
    emit: tuple[str, ...] = ()  # intermediate forms (of EMIT_FORMS) written into the artifact

    EMIT_FORMS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        unknown = [form for form in self.emit if form not in self.EMIT_FORMS]
        if unknown:
            raise CompileError(f"unknown --emit form {unknown[0]!r}",
                               hint=f"choose from {', '.join(self.EMIT_FORMS)}"
                               if self.EMIT_FORMS else "this target writes no other forms")

    @classmethod
    def from_keywords(cls: type[O], target: str, **given: Any) -> O:
        """The options from keywords named like the fields; an unknown one is a CompileError
        naming the target and the options it does take."""
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = [key for key in given if key not in fields]
        if unknown:
            raise CompileError(f"target {target} takes no option {unknown[0]!r}",
                               hint=f"its options: {', '.join(fields)}")
        for key, value in given.items():  # sequences (emit, schedule) arrive as lists too
            if isinstance(fields[key].default, tuple) and not isinstance(value, str):
                given[key] = tuple(value)
        return cls(**given)


@dataclass(frozen=True)
class LoopOptions(CompileOptions):
    """What the loop-IR targets take on top: schedule field overrides (``gemm.mr=4``) and the
    memory planner's strategy."""

    schedule: tuple[str, ...] = ()
    memory_strategy: str = "best"

    EMIT_FORMS: ClassVar[tuple[str, ...]] = ("loop-ir",)
