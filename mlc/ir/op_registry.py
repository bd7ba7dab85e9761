"""The op registry: what a core op is, and the table of them, read by everything else.

An entry declares the op's inputs, outputs and attributes (with defaults), how to infer output
types, a numpy reference kernel, its fusion kind and its cost. The IR builds and verifies every
node against it (so it lives here, at the bottom, like MLIR's registered operations); the
definitions themselves are ``mlc/ops/``, imported on the table's first read. The interpreter,
constant folding, fusion, cost reports and every backend's coverage table read ops from here and
nowhere else.

Writing an op::

    @register("leaky_relu", inputs=["x"], attrs={"alpha": Attr("float", 0.01)},
              fusion=FusionKind.ELEMWISE, infer=same_as_input)
    def leaky_relu(x, *, alpha):
        return np.where(x >= 0, x, x * np.asarray(alpha, x.dtype))

Inputs are named; a trailing ``?`` marks an optional input (``None`` when omitted) and a trailing
``*`` a variadic tail. The kernel and ``infer`` receive inputs positionally and attributes as
keywords; both may return one result or a tuple.
"""

from __future__ import annotations

import enum
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from mlc.errors import MlcError
from mlc.registry import Registry

from .dtypes import DType
from .types import TensorType


class FusionKind(enum.Enum):
    """How an op may fuse with its neighbours (TVM's OpPatternKind)."""

    ELEMWISE = "elemwise"  # same shape in and out, one output element from one input element
    BROADCAST = "broadcast"  # elementwise with numpy broadcasting
    INJECTIVE = "injective"  # each output element is one input element (reshape, transpose, …)
    REDUCTION = "reduction"  # reduces along axes (reduce_*, softmax, norms)
    OUT_ELEMWISE_FUSABLE = "out-elemwise-fusable"  # conv/matmul: elementwise epilogues fuse in
    OPAQUE = "opaque"  # never fused


@dataclass(frozen=True)
class Cost:
    """Work of one op application: multiply-accumulates and bytes moved to and from memory."""

    macs: int = 0
    bytes_read: int = 0
    bytes_written: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.macs + other.macs, self.bytes_read + other.bytes_read,
                    self.bytes_written + other.bytes_written)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

def _frozen_array(value: Any) -> np.ndarray:
    arr = np.array(value)
    arr.flags.writeable = False
    return arr


# Each attribute kind and how a value is brought to its canonical Python form (tuples, not lists;
# DType; read-only arrays).
_COERCE: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "float": float,
    "str": lambda v: v.decode() if isinstance(v, bytes) else str(v),
    "ints": lambda v: tuple(int(x) for x in np.asarray(v).reshape(-1)),
    "floats": lambda v: tuple(float(x) for x in np.asarray(v).reshape(-1)),
    "dtype": DType.parse,
    "array": _frozen_array,
    "bool": bool,
}
ATTR_KINDS = tuple(_COERCE)


@dataclass(frozen=True)
class Attr:
    """An attribute declaration: its kind (one of ATTR_KINDS) and default (REQUIRED if none)."""

    kind: str
    default: Any = REQUIRED

    def __post_init__(self) -> None:
        if self.kind not in ATTR_KINDS:
            raise ValueError(f"unknown attribute kind {self.kind!r}; expected one of {ATTR_KINDS}")

    def coerce(self, value: Any) -> Any:
        """Bring a value to the attribute's canonical Python form (None stays None)."""
        return None if value is None else _COERCE[self.kind](value)


class OpError(MlcError):
    """An op was applied with wrong attributes or input types."""


@dataclass
class OpDef:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Attr]
    fusion: FusionKind
    kernel: Callable[..., Any]
    infer: Callable[..., Any]
    cost_fn: Callable[..., Cost] | None = None
    onnx: tuple[str, ...] = ()  # the ONNX ops the frontend maps onto this one
    doc: str = ""
    variadic_outputs: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    # -- signature ------------------------------------------------------------------------
    @property
    def min_inputs(self) -> int:
        return sum(1 for n in self.inputs if not n.endswith(("?", "*")))

    @property
    def max_inputs(self) -> int | None:
        return None if any(n.endswith("*") for n in self.inputs) else len(self.inputs)

    @property
    def onnx_equivalent(self) -> str | None:
        """The ONNX op that is this op input for input: the first of ``onnx`` when the op has no
        attributes, so there is nothing to translate. The frontend imports and exports such a
        pair from this alone; ops whose mapping translates something have no equivalent."""
        return self.onnx[0] if self.onnx and not self.attrs else None

    def normalize_attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Check names, fill defaults, coerce values. Raises OpError naming the op's attributes."""
        unknown = sorted(set(attrs) - set(self.attrs))
        if unknown:
            known = ", ".join(self.attrs) or "none"
            raise OpError(f"op {self.name} has no attribute {', '.join(unknown)}",
                          hint=f"its attributes are: {known}")
        result: dict[str, Any] = {}
        for key, spec in self.attrs.items():
            if key not in attrs and spec.default is REQUIRED:
                raise OpError(f"op {self.name} needs attribute {key}")
            result[key] = spec.coerce(attrs.get(key, spec.default))
        return result

    def check_arity(self, count: int) -> None:
        top = self.max_inputs
        if count < self.min_inputs or (top is not None and count > top):
            expected = f"{self.min_inputs}" if top == self.min_inputs else (
                f"{self.min_inputs}..{'∞' if top is None else top}")
            raise OpError(f"op {self.name} takes {expected} inputs, got {count}")

    # -- semantics ------------------------------------------------------------------------
    def _pad_optional(self, inputs: Sequence[Any]) -> list[Any]:
        """Omitted trailing optional inputs become None, so kernels and infer see every slot."""
        top = self.max_inputs
        padded = list(inputs)
        if top is not None:
            padded += [None] * (top - len(padded))
        return padded

    def infer_types(self, input_types: Sequence[TensorType | None], attrs: dict[str, Any],
                    body=None) -> list[TensorType]:
        self.check_arity(len(input_types))
        extra = {} if body is None else {"body": body}
        return _as_list(self.infer(*self._pad_optional(input_types), **extra, **attrs))

    def compute(self, inputs: Sequence[np.ndarray | None], attrs: dict[str, Any]) -> list[np.ndarray]:
        return _as_list(self.kernel(*self._pad_optional(inputs), **attrs))

    def cost(self, input_types: Sequence[TensorType | None], output_types: Sequence[TensorType],
             attrs: dict[str, Any]) -> Cost:
        if self.cost_fn is not None:
            return self.cost_fn(self._pad_optional(input_types), list(output_types), **attrs)
        return Cost(0, sum(t.nbytes for t in input_types if t is not None),
                    sum(t.nbytes for t in output_types))


def _as_list(result: Any) -> list:
    """A kernel's or infer's result (one value or a tuple of them) as a list."""
    return list(result) if isinstance(result, (tuple, list)) else [result]


OPS: Registry[OpDef] = Registry("op", load=lambda: importlib.import_module("mlc.ops"))


def register(name: str, *, inputs: Sequence[str], outputs: Sequence[str] = ("y",),
             attrs: dict[str, Attr] | None = None, fusion: FusionKind, infer: Callable[..., Any],
             cost: Callable[..., Cost] | None = None, onnx: Sequence[str] = (),
             variadic_outputs: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that registers a numpy kernel as the reference semantics of core op ``name``."""

    def wrap(kernel: Callable[..., Any]) -> Callable[..., Any]:
        OPS.add(name, OpDef(name=name, inputs=tuple(inputs), outputs=tuple(outputs),
                            attrs=dict(attrs or {}), fusion=fusion, kernel=kernel, infer=infer,
                            cost_fn=cost, onnx=tuple(onnx), doc=(kernel.__doc__ or "").strip(),
                            variadic_outputs=variadic_outputs))
        return kernel

    return wrap


def get_op(name: str) -> OpDef:
    op = OPS.get(name)
    if op is None:
        raise OpError(f"unknown op {name!r}", hint="`mlc ops` lists the registered ops")
    return op


def all_ops() -> dict[str, OpDef]:
    return dict(sorted(OPS.items()))
