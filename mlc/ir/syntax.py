"""Lexical rules shared by the printer (here) and the parser (``mlc/text``): names, numbers,
literals, sidecar keys.

Keeping both directions of every rule in one module is what makes print → parse → print exact:
the printer never writes a spelling the parser reads differently.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from .dtypes import DType

INLINE_LIMIT = 16
"""Constants with at most this many elements print inline; larger ones go to the sidecar."""

BARE_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
BARE_DIM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INT_TEXT = re.compile(r"[+-]?\d+")


def quote_name(name: str) -> str:
    """A name as written after its sigil: bare when safe, else a JSON string (ASCII only)."""
    if BARE_NAME.fullmatch(name):
        return name
    return json.dumps(name, ensure_ascii=True)


def unquote_name(text: str) -> str:
    """Inverse of quote_name; raises ValueError on a malformed escape."""
    if text.startswith('"'):
        result = json.loads(text)
        if not isinstance(result, str):
            raise ValueError("not a string")
        return result
    return text


def value_ref(name: str) -> str:
    return "%" + quote_name(name)


def const_ref(name: str) -> str:
    return "@" + quote_name(name)


def format_dim(dim) -> str:
    if isinstance(dim, str):
        return dim if BARE_DIM.fullmatch(dim) else json.dumps(dim, ensure_ascii=True)
    return str(int(dim))


def format_type(type_) -> str:
    return f"{type_.dtype.short}[{','.join(format_dim(d) for d in type_.shape)}]"


def format_float(value: float) -> str:
    """Shortest text that parses back to the same float64 (``inf``, ``-inf``, ``nan`` spelled out)."""
    return repr(float(value))


def format_scalar(value, dtype: DType) -> str:
    """One element of an array literal, shortest at the element's own precision."""
    if dtype is DType.bool:
        return "true" if bool(value) else "false"
    if dtype.is_int:
        return str(int(value))
    if dtype is DType.float64:
        return format_float(value)
    # numpy's str() of a float32/float16 scalar is the shortest text that round-trips at that
    # width; parsing it through float64 is exact (checked exhaustively for f16, sampled for f32).
    return str(dtype.numpy.type(value))


def format_literal(array: np.ndarray, dtype: DType) -> str:
    """A bare scalar for rank 0, else a flat row-major list (the type gives the shape)."""
    if array.ndim == 0:
        return format_scalar(array[()], dtype)
    return "[" + ", ".join(format_scalar(v, dtype) for v in array.reshape(-1)) + "]"


def format_typed_array(array: np.ndarray) -> str:
    """An array attribute: its type, then its literal (``f32[2] [0.5, 0.25]``)."""
    from mlc.ir.types import TensorType

    type_ = TensorType.of(array)
    return f"{format_type(type_)} {format_literal(np.asarray(array), type_.dtype)}"


def parse_scalar(text: str, dtype: DType):
    """Inverse of format_scalar for one NUMBER/true/false token; ValueError says what is wrong."""
    if dtype is DType.bool:
        if text in ("true", "false"):
            return text == "true"
        raise ValueError(f"a bool element must be true or false, not {text}")
    if text in ("true", "false"):
        raise ValueError(f"{text} is not a {dtype.short} number")
    if dtype.is_int:
        if not INT_TEXT.fullmatch(text):
            raise ValueError(f"{text} is not an integer ({dtype.short})")
        number = int(text)
        info = np.iinfo(dtype.numpy)
        if not info.min <= number <= info.max:
            raise ValueError(f"{text} is out of range for {dtype.short} [{info.min}, {info.max}]")
        return number
    number = float(text)
    with np.errstate(over="ignore"):
        narrowed = dtype.numpy.type(number)
    if math.isfinite(number) and not np.isfinite(narrowed):
        raise ValueError(f"{text} is out of range for {dtype.short}")
    return narrowed


NOT_IN_SIDECAR_KEYS = re.compile("[\x00\ud800-\udfff]")
"""What a sidecar key cannot hold: it names a member of the .npz zip archive, and zip readers
(Python's among them) end a member name at NUL, while a lone surrogate has no UTF-8 spelling."""


def external_key(prefix: str, name: str) -> str:
    """Sidecar key of a constant: its name at top level, ``<fused output>/<name>`` in a body.

    Names may be any string, so the characters a key cannot hold (``NOT_IN_SIDECAR_KEYS``) are
    spelled as ``\\uXXXX``. The printer writes a key that differs from the name in the text and
    makes every key unique (``~2``, ``~3``, …), so the name itself still round-trips exactly."""
    key = f"{prefix}/{name}" if prefix else name
    return NOT_IN_SIDECAR_KEYS.sub(lambda m: f"\\u{ord(m.group()):04x}", key)
