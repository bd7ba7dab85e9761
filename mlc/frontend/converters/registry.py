"""The converter table: ONNX op type → the function that maps one node onto core ops.

    @converter("Relu")                       # every ONNX version of Relu up to opset 21
    def relu(ctx, n): return ctx.emit("relu", n.input(0))

    @converter("Upsample", since=7, until=9, const_inputs=(1,))

``since``/``until`` bound the ONNX since-versions whose semantics the converter handles.
``const_inputs`` names the inputs that define shapes or attributes (Reshape's shape, Clip's min):
the importer must know their values at import, and lists graph inputs that feed them up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import onnx.defs

from mlc.registry import Registry

#: The newest opset whose semantics converters are written against.
MAX_OPSET = 21


@dataclass(frozen=True)
class Converter:
    op_type: str
    fn: Callable
    since: int = 1
    until: int = MAX_OPSET
    const_inputs: tuple[int, ...] = ()

    def handles(self, since_version: int) -> bool:
        return self.since <= since_version <= self.until

    @property
    def versions(self) -> tuple[int, ...]:
        """The ONNX since-versions (≤ MAX_OPSET) this converter handles."""
        return tuple(v for v in _all_versions().get(self.op_type, ()) if self.handles(v))


CONVERTERS: Registry[Converter] = Registry("ONNX converter")


def converter(op_type: str, *, since: int = 1, until: int = MAX_OPSET,
              const_inputs: tuple[int, ...] = ()) -> Callable[[Callable], Callable]:
    def wrap(fn: Callable) -> Callable:
        CONVERTERS.add(op_type, Converter(op_type, fn, since, until, tuple(const_inputs)))
        return fn

    return wrap


@lru_cache(maxsize=None)
def _all_versions() -> dict[str, tuple[int, ...]]:
    """Every default-domain op's since-versions up to MAX_OPSET."""
    table: dict[str, set[int]] = {}
    for s in onnx.defs.get_all_schemas_with_history():
        if s.domain in ("", "ai.onnx") and s.since_version <= MAX_OPSET and not s.deprecated:
            table.setdefault(s.name, set()).add(s.since_version)
    return {name: tuple(sorted(v)) for name, v in table.items()}
