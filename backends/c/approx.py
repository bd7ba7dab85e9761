"""float32 exp, tanh and erf as inline C the compiler can vectorize (``backends/loop/approx.py``).

The same algorithms as the LLVM renderer's ``vector_math``, with the same constants (taken from
``backends/loop/approx.py``), written once here as C text that model.c carries: straight-line
arithmetic, a bit pattern built with ``memcpy`` (a bitcast to the compiler) for 2^n, selects
instead of branches, so a loop calling them vectorizes where a call to libm's ``expf`` would not.
"""

from __future__ import annotations

from mlc.backends.loop.approx import (ERF_POLY, ERF_TAIL, ERF_TAIL_P, EXP_MAX, EXP_MIN, EXP_POLY,
                                      LN2_HI, LN2_LO, LOG2E, TANH_POLY, TANH_SMALL)
from mlc.ir.dtypes import DType

from .ctypes_table import float_literal

FUNCTIONS = {"exp": "mlc_exp_f32", "tanh": "mlc_tanh_f32", "erf": "mlc_erf_f32"}


def _f(value: float) -> str:
    return float_literal(value, DType.float32)


def _horner(coefficients, z: str) -> str:
    text = _f(coefficients[0])
    for c in coefficients[1:]:
        text = f"({text} * {z} + {_f(c)})"
    return text


def source() -> str:
    """The three functions, ``static inline`` (unused ones cost nothing)."""
    return f"""\
/* float32 exp, tanh and erf (backends/loop/approx.py: Cephes, about 1 ulp): straight-line code
 * that vectorizes, unlike a call to libm. NaN propagates; exp saturates to inf and 0. */
static inline float mlc_exp_f32(float x) {{
    float c = x > {_f(EXP_MAX)} ? {_f(EXP_MAX)} : x, n, r, y, scale;
    int32_t k, half;
    uint32_t bits;
    c = c < {_f(EXP_MIN)} ? {_f(EXP_MIN)} : c;
    n = nearbyintf(c * {_f(LOG2E)});
    r = c - n * {_f(LN2_HI)};
    r = r - n * {_f(LN2_LO)};
    y = {_horner(EXP_POLY, "r")} * r * r + r + 1.0f;
    k = n == n ? (int32_t)n : 0;
    half = k / 2; /* 2^k as two factors, so k down to -150 and up to 128 scale correctly */
    bits = (uint32_t)(half + 127) << 23;
    memcpy(&scale, &bits, sizeof scale);
    y *= scale;
    bits = (uint32_t)(k - half + 127) << 23;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}}

static inline float mlc_tanh_f32(float x) {{
    float z = x * x, a = fabsf(x);
    float small = {_horner(TANH_POLY, "z")} * z * x + x;
    float large = copysignf(1.0f - 2.0f / (mlc_exp_f32(2.0f * a) + 1.0f), x);
    return a < {_f(TANH_SMALL)} ? small : large;
}}

static inline float mlc_erf_f32(float x) {{
    float z = x * x, a = fabsf(x);
    float small = x * {_horner(ERF_POLY, "z")};
    float t = 1.0f / (a * {_f(ERF_TAIL_P)} + 1.0f);
    float large = copysignf(1.0f - {_horner(ERF_TAIL, "t")} * t * mlc_exp_f32(-z), x);
    return !(a >= 1.0f) ? small : large; /* NaN takes the small branch: x * P(NaN) is NaN */
}}
"""
