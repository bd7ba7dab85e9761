"""exp, tanh and erf of f32 (and ``<W x float>``) as inline polynomials: loops stay vectors.

Why: LLVM has no vector math library configured here, so ``llvm.exp.v16f32`` becomes sixteen
calls to ``expf`` — softmax, sigmoid, SiLU and GELU(tanh) would run at scalar speed. These are
Cephes' single-precision algorithms (about 1 ulp on their reduced ranges; erf's tail for
|x| >= 1 is Abramowitz & Stegun 7.1.26, relative error < 3e-7 there), written once in IR:
NaN propagates, exp overflows to inf and underflows through the denormals to 0 like ``expf``.
f64 keeps libm / the llvm intrinsics. The constants live in ``backends/loop/approx.py``, shared
with the C renderer, which writes the same algorithms as C.
"""

from __future__ import annotations

import llvmlite.ir as lir

from mlc.backends.loop.approx import (ERF_POLY, ERF_TAIL, ERF_TAIL_P, EXP_MAX, EXP_MIN, EXP_POLY,
                                      LN2_HI, LN2_LO, LOG2E, TANH_POLY, TANH_SMALL)

from . import lltypes as T
from .emitter import KernelEmitter

CONTRACT = ("contract",)


def supports(fn: str, value: lir.Value) -> bool:
    """f32, scalar or vector: scalar f32 uses them too, so LLVM's loop vectorizer can vectorize a
    plain loop around them (it cannot vectorize a call to expf)."""
    ty = value.type.element if T.is_vector(value) else value.type
    return fn in ("exp", "tanh", "erf") and isinstance(ty, lir.FloatType)


def emit(em: KernelEmitter, fn: str, x: lir.Value) -> lir.Value:
    return {"exp": exp_f32, "tanh": tanh_f32, "erf": erf_f32}[fn](em, x)


def _c(ty: lir.Type, value: float) -> lir.Constant:
    return T.constant(ty, value)


def _horner(b: lir.IRBuilder, coefficients, z: lir.Value) -> lir.Value:
    acc: lir.Value = _c(z.type, coefficients[0])
    for c in coefficients[1:]:
        acc = b.fadd(b.fmul(acc, z, flags=CONTRACT), _c(z.type, c), flags=CONTRACT)
    return acc


def exp_f32(em: KernelEmitter, x: lir.Value) -> lir.Value:
    """e^x = p(r) * 2^n with n = round(x / ln 2), r = x - n ln 2; 2^n is applied as two
    factors 2^(n/2) so n up to 128 (overflow) and down to -150 (underflow) scale correctly."""
    b = em.builder
    ty = x.type
    ints = lir.VectorType(T.i32, ty.count) if isinstance(ty, lir.VectorType) else T.i32
    clamped = b.select(b.fcmp_ordered(">", x, _c(ty, EXP_MAX)), _c(ty, EXP_MAX), x)
    clamped = b.select(b.fcmp_ordered("<", clamped, _c(ty, EXP_MIN)), _c(ty, EXP_MIN), clamped)
    n = em.intrinsic("roundeven", [b.fmul(clamped, _c(ty, LOG2E))])
    r = b.fsub(clamped, b.fmul(n, _c(ty, LN2_HI), flags=CONTRACT), flags=CONTRACT)
    r = b.fsub(r, b.fmul(n, _c(ty, LN2_LO), flags=CONTRACT), flags=CONTRACT)
    p = _horner(b, EXP_POLY, r)
    y = b.fadd(b.fadd(b.fmul(b.fmul(p, r, flags=CONTRACT), r, flags=CONTRACT), r,
                      flags=CONTRACT), _c(ty, 1.0), flags=CONTRACT)
    not_nan = b.fcmp_ordered("ord", n, n)
    k = b.fptosi(b.select(not_nan, n, _c(ty, 0.0)), ints)
    half = b.ashr(k, T.constant(ints, 1))
    for part in (half, b.sub(k, half)):
        scale = b.bitcast(b.shl(b.add(part, T.constant(ints, 127)), T.constant(ints, 23)), ty)
        y = b.fmul(y, scale)
    return y


def tanh_f32(em: KernelEmitter, x: lir.Value) -> lir.Value:
    """An odd polynomial below 0.625, else 1 - 2 / (e^(2|x|) + 1) with x's sign."""
    b = em.builder
    ty = x.type
    z = b.fmul(x, x, flags=CONTRACT)
    small = b.fadd(b.fmul(b.fmul(_horner(b, TANH_POLY, z), z, flags=CONTRACT), x,
                          flags=CONTRACT), x, flags=CONTRACT)
    magnitude = em.intrinsic("fabs", [x])
    e = exp_f32(em, b.fmul(magnitude, _c(ty, 2.0)))
    large = b.fsub(_c(ty, 1.0), b.fdiv(_c(ty, 2.0), b.fadd(e, _c(ty, 1.0))))
    large = em.intrinsic("copysign", [large, x])
    return b.select(b.fcmp_ordered("<", magnitude, _c(ty, TANH_SMALL)), small, large)


def erf_f32(em: KernelEmitter, x: lir.Value) -> lir.Value:
    """x * P(x^2) below 1; above, 1 - t Q(t) e^(-x^2) with t = 1 / (1 + p|x|), x's sign."""
    b = em.builder
    ty = x.type
    z = b.fmul(x, x, flags=CONTRACT)
    small = b.fmul(x, _horner(b, ERF_POLY, z), flags=CONTRACT)
    magnitude = em.intrinsic("fabs", [x])
    t = b.fdiv(_c(ty, 1.0), b.fadd(b.fmul(magnitude, _c(ty, ERF_TAIL_P), flags=CONTRACT),
                                   _c(ty, 1.0), flags=CONTRACT))
    tail = b.fmul(b.fmul(_horner(b, ERF_TAIL, t), t), exp_f32(em, b.fneg(z)))
    large = em.intrinsic("copysign", [b.fsub(_c(ty, 1.0), tail), x])
    return b.select(b.fcmp_unordered("<", magnitude, _c(ty, 1.0)), small, large)
