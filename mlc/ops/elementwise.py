"""Elementwise and broadcasting ops: activations, arithmetic, comparisons, casts.

The numpy kernels are the reference semantics of each op and match ONNX's. Floating-point math is
done in float64 where that is more accurate than the input dtype and cast back, so a result keeps
its input's dtype (f32 in, f32 out) and is within an ulp of the exactly rounded value.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from mlc.ir.dtypes import DType
from mlc.ir.op_registry import Attr, FusionKind, OpError, register
from mlc.ir.types import TensorType

from .common import broadcast_shape, broadcast_types

E, B = FusionKind.ELEMWISE, FusionKind.BROADCAST


# -- type inference ------------------------------------------------------------------------------

def _unary(name: str, allowed: Callable[[DType], bool] | None = None, what: str = "float"):
    """infer for a one-input op whose output type is its input type, restricted to some dtypes."""

    def infer(x: TensorType, **attrs) -> TensorType:
        if allowed is not None and not allowed(x.dtype):
            raise OpError(f"{name} takes a {what} tensor, got {x}",
                          hint=f"insert a cast to f32 before {name}")
        return x

    return infer


def _is_float(dt: DType) -> bool:
    return dt.is_float


def _is_numeric(dt: DType) -> bool:
    return dt != DType.bool


def _same_dtype(name: str, *types: TensorType) -> None:
    dtypes = {t.dtype for t in types}
    if len(dtypes) > 1:
        listed = ", ".join(str(t) for t in types)
        raise OpError(f"{name}: inputs must have the same dtype, got {listed}",
                      hint="insert a cast so both sides agree")


def _binary(name: str, numeric: bool = True, out: DType | None = None):
    """infer for a same-dtype broadcasting op; ``out`` overrides the result dtype (comparisons)."""

    def infer(a: TensorType, b: TensorType, **attrs) -> TensorType:
        _same_dtype(name, a, b)
        if numeric and a.dtype == DType.bool:
            raise OpError(f"{name} does not take bool tensors, got {a}")
        return broadcast_types(a, b, op=name, dtype=out)

    return infer


# -- helpers ---------------------------------------------------------------------------------------

def _wide(x: np.ndarray) -> np.ndarray:
    """x in float64 for accurate evaluation (float16/32 inputs); float64 stays as is."""
    return np.asarray(x, dtype=np.float64)


def _like(result: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.asarray(result).astype(x.dtype, copy=False)


_erf_scalar = np.frompyfunc(math.erf, 1, 1)
_erfc_scalar = np.frompyfunc(math.erfc, 1, 1)


def erf64(x: np.ndarray) -> np.ndarray:
    """erf in float64 through ``math.erf``: numpy has none, and the reference must be exact."""
    return np.asarray(_erf_scalar(_wide(x)), dtype=np.float64)  # frompyfunc gives 0-d a float


def erfc64(x: np.ndarray) -> np.ndarray:
    """erfc in float64; keeps relative accuracy where 1 - erf(x) would cancel (x ≫ 0)."""
    return np.asarray(_erfc_scalar(_wide(x)), dtype=np.float64)


# -- one input ------------------------------------------------------------------------------------

@register("relu", inputs=["x"], fusion=E, infer=_unary("relu", _is_numeric, "numeric"),
          onnx=["Relu"])
def relu(x):
    """max(x, 0)."""
    return np.maximum(x, np.zeros((), x.dtype))


@register("leaky_relu", inputs=["x"], attrs={"alpha": Attr("float", 0.01)}, fusion=E,
          infer=_unary("leaky_relu", _is_float), onnx=["LeakyRelu"])
def leaky_relu(x, *, alpha):
    """x if x ≥ 0 else alpha·x."""
    return _like(np.where(x >= 0, x, _wide(x) * alpha), x)


@register("sigmoid", inputs=["x"], fusion=E, infer=_unary("sigmoid", _is_float), onnx=["Sigmoid"])
def sigmoid(x):
    """1 / (1 + e^-x), as exp(-log(1 + e^-x)) so it neither overflows nor loses the tails."""
    return _like(np.exp(-np.logaddexp(0.0, -_wide(x))), x)


def _float_unary(name: str, onnx_name: str, fn: Callable[[np.ndarray], np.ndarray], doc: str):
    def kernel(x):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _like(fn(_wide(x)), x)

    kernel.__doc__ = doc
    kernel.__name__ = name
    register(name, inputs=["x"], fusion=E, infer=_unary(name, _is_float), onnx=[onnx_name])(kernel)
    return kernel


tanh = _float_unary("tanh", "Tanh", np.tanh, "Hyperbolic tangent.")
erf = _float_unary("erf", "Erf", erf64, "The error function (via math.erf).")
sqrt = _float_unary("sqrt", "Sqrt", np.sqrt, "Square root; NaN for negative inputs.")
exp = _float_unary("exp", "Exp", np.exp, "e^x; inf where it overflows the dtype.")
log = _float_unary("log", "Log", np.log, "Natural log; -inf at 0, NaN below.")
reciprocal = _float_unary("reciprocal", "Reciprocal", lambda v: 1.0 / v, "1 / x.")


@register("neg", inputs=["x"], fusion=E, infer=_unary("neg", _is_numeric, "numeric"), onnx=["Neg"])
def neg(x):
    """-x (integers wrap, as in C: -(-128) is -128 for int8)."""
    with np.errstate(over="ignore"):
        return np.negative(x)


@register("abs", inputs=["x"], fusion=E, infer=_unary("abs", _is_numeric, "numeric"), onnx=["Abs"])
def abs_(x):
    """|x| (integers wrap, as in C: |-128| is -128 for int8)."""
    return np.abs(x)


@register("hard_sigmoid", inputs=["x"],
          attrs={"alpha": Attr("float", 0.2), "beta": Attr("float", 0.5)}, fusion=E,
          infer=_unary("hard_sigmoid", _is_float), onnx=["HardSigmoid"])
def hard_sigmoid(x, *, alpha, beta):
    """max(0, min(1, alpha·x + beta))."""
    return _like(np.clip(_wide(x) * alpha + beta, 0.0, 1.0), x)


@register("hard_swish", inputs=["x"], fusion=E, infer=_unary("hard_swish", _is_float),
          onnx=["HardSwish"])
def hard_swish(x):
    """x · max(0, min(1, x/6 + 0.5))."""
    v = _wide(x)
    return _like(v * np.clip(v / 6.0 + 0.5, 0.0, 1.0), x)


@register("silu", inputs=["x"], fusion=E, infer=_unary("silu", _is_float))
def silu(x):
    """x · sigmoid(x) (SiLU, Swish-1). No ONNX op imports as it: canonicalize recognises
    x·sigmoid(x), and export writes it back as Sigmoid + Mul."""
    v = _wide(x)
    return _like(v * np.exp(-np.logaddexp(0.0, -v)), x)


def _gelu_infer(x: TensorType, *, approximate: str) -> TensorType:
    if approximate not in ("none", "tanh"):
        raise OpError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _unary("gelu", _is_float)(x)


@register("gelu", inputs=["x"], attrs={"approximate": Attr("str", "none")}, fusion=E,
          infer=_gelu_infer, onnx=["Gelu"])
def gelu(x, *, approximate):
    """x·Φ(x). The exact form uses erfc (no cancellation for x ≪ 0); "tanh" is GPT-2's
    approximation."""
    v = _wide(x)
    if approximate == "tanh":
        y = 0.5 * v * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v ** 3)))
    else:
        y = 0.5 * v * erfc64(-v / math.sqrt(2.0))
    return _like(y, x)


def _clip_infer(x: TensorType, *, min: float, max: float) -> TensorType:  # noqa: A002
    if math.isnan(min) or math.isnan(max):
        raise OpError("clip: min and max must be numbers, got NaN")
    return _unary("clip", _is_numeric, "numeric")(x)


def _bound(value: float, dtype: np.dtype) -> np.ndarray:
    """A float bound in ``dtype``; for integers it saturates to the dtype's range (±inf too)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.asarray(int(np.clip(value, info.min, info.max)), dtype)
    return np.asarray(value, dtype)


@register("clip", inputs=["x"],
          attrs={"min": Attr("float", -math.inf), "max": Attr("float", math.inf)}, fusion=E,
          infer=_clip_infer, onnx=["Clip"])
def clip(x, *, min, max):  # noqa: A002
    """min(max(x, min), max); when min > max every element becomes max, as ONNX says."""
    return np.minimum(np.maximum(x, _bound(min, x.dtype)), _bound(max, x.dtype))


@register("not", inputs=["x"], fusion=E, infer=_unary("not", lambda d: d == DType.bool, "bool"),
          onnx=["Not"])
def not_(x):
    """Logical not of a bool tensor."""
    return np.logical_not(x)


def _cast_infer(x: TensorType, *, to: DType) -> TensorType:
    return x.with_dtype(to)


@register("cast", inputs=["x"], attrs={"to": Attr("dtype")}, fusion=E, infer=_cast_infer,
          onnx=["Cast"])
def cast(x, *, to):
    """numpy astype; float → int truncates toward zero. Out-of-range float → int is undefined in
    ONNX; here it goes through int64 and wraps, so the result does not depend on the platform."""
    target = to.numpy
    if np.issubdtype(x.dtype, np.floating) and np.issubdtype(target, np.integer):
        with np.errstate(invalid="ignore"):
            return x.astype(np.int64).astype(target)
    return x.astype(target)


@register("identity", inputs=["x"], fusion=E, infer=_unary("identity"), onnx=["Identity"])
def identity(x):
    """x unchanged."""
    return x


def _dropout_infer(x: TensorType, *, ratio: float) -> TensorType:
    if not 0.0 <= ratio < 1.0:
        raise OpError(f"dropout: ratio must be in [0, 1), got {ratio}")
    return x


@register("dropout", inputs=["x"], attrs={"ratio": Attr("float", 0.5)}, fusion=E,
          infer=_dropout_infer, onnx=["Dropout"])
def dropout(x, *, ratio):
    """Inference dropout: the identity (ratio is kept only so export can reproduce the node)."""
    return x


# -- broadcasting ---------------------------------------------------------------------------------

def _ufunc(name: str, fn: Callable[[np.ndarray, np.ndarray], np.ndarray], doc: str,
           onnx: list[str], **infer_options):
    """Register the broadcasting op ``name`` whose kernel is the numpy ufunc ``fn`` as it is."""

    def kernel(a, b):
        return fn(a, b)

    kernel.__doc__, kernel.__name__ = doc, name
    register(name, inputs=["a", "b"], fusion=B, infer=_binary(name, **infer_options),
             onnx=onnx)(kernel)
    return kernel


add = _ufunc("add", np.add, "a + b with numpy broadcasting (integers wrap).",
             ["Add", "Sum", "Mean"])
sub = _ufunc("sub", np.subtract, "a - b with numpy broadcasting (integers wrap).", ["Sub"])
mul = _ufunc("mul", np.multiply, "a · b with numpy broadcasting (integers wrap).", ["Mul"])


@register("div", inputs=["a", "b"], fusion=B, infer=_binary("div"), onnx=["Div", "Mean"])
def div(a, b):
    """a / b. Integer division truncates toward zero as in C (-7 / 2 = -3), not numpy's floor;
    integer division by zero is undefined in ONNX and gives 0 here."""
    if np.issubdtype(a.dtype, np.integer):
        with np.errstate(divide="ignore", invalid="ignore"):
            remainder = np.fmod(a, b)
            return ((a - remainder) // np.where(b == 0, 1, b) * (b != 0)).astype(a.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(a, b)


def _pow_infer(a: TensorType, b: TensorType) -> TensorType:
    if a.dtype == DType.bool or b.dtype == DType.bool:
        raise OpError(f"pow does not take bool tensors, got {a} and {b}")
    return broadcast_types(a, b, op="pow", dtype=a.dtype)


@register("pow", inputs=["a", "b"], fusion=B, infer=_pow_infer, onnx=["Pow"])
def pow_(a, b):
    """a ** b in the base's dtype, evaluated in float64 (as C's pow) and, for integer bases,
    truncated toward zero: 2 ** -1 is 0, matching onnxruntime."""
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        exact = np.all(b >= 0)
        if exact:
            return np.power(a, b.astype(a.dtype, copy=False)).astype(a.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        result = np.power(_wide(a), _wide(b))
    if np.issubdtype(a.dtype, np.integer):
        with np.errstate(invalid="ignore"):
            return result.astype(np.int64).astype(a.dtype)
    return result.astype(a.dtype)


min_ = _ufunc("min", np.minimum, "Elementwise minimum (NaN propagates, as in onnxruntime).",
              ["Min"])
max_ = _ufunc("max", np.maximum, "Elementwise maximum (NaN propagates, as in onnxruntime).",
              ["Max"])
equal = _ufunc("equal", np.equal, "a == b → bool.", ["Equal"], numeric=False, out=DType.bool)
less = _ufunc("less", np.less, "a < b → bool.", ["Less"], out=DType.bool)
greater = _ufunc("greater", np.greater, "a > b → bool.", ["Greater"], out=DType.bool)


def _where_infer(cond: TensorType, a: TensorType, b: TensorType) -> TensorType:
    if cond.dtype != DType.bool:
        raise OpError(f"where: the condition must be bool, got {cond}",
                      hint="compare it with a value (equal/less/greater) or cast it to bool")
    _same_dtype("where", a, b)
    return TensorType(broadcast_shape(cond.shape, a.shape, b.shape, op="where"), a.dtype)


@register("where", inputs=["cond", "a", "b"], fusion=B, infer=_where_infer, onnx=["Where"])
def where(cond, a, b):
    """a where cond else b, all three broadcast together."""
    return np.where(cond, a, b)


def _prelu_infer(x: TensorType, slope: TensorType) -> TensorType:
    _same_dtype("prelu", x, slope)
    if x.dtype == DType.bool:
        raise OpError(f"prelu does not take bool tensors, got {x}")
    if broadcast_shape(x.shape, slope.shape, op="prelu") != tuple(x.shape):
        raise OpError(f"prelu: slope {slope} must broadcast to the shape of x {x} "
                      "(broadcasting is one-directional)")
    return x


@register("prelu", inputs=["x", "slope"], fusion=B, infer=_prelu_infer, onnx=["PRelu"])
def prelu(x, slope):
    """x if x ≥ 0 else slope·x; slope broadcasts to x."""
    return np.where(x >= 0, x, x * slope).astype(x.dtype, copy=False)
