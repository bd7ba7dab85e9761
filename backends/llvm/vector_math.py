"""exp, tanh and erf of f32 (and ``<W x float>``) as inline polynomials: loops stay vectors.

Why: LLVM has no vector math library configured here, so ``llvm.exp.v16f32`` becomes sixteen
calls to ``expf`` — softmax, sigmoid, SiLU and GELU(tanh) would run at scalar speed. These are
Cephes' single-precision algorithms (about 1 ulp on their reduced ranges; erf's tail for
|x| >= 1 is Abramowitz & Stegun 7.1.26, relative error < 3e-7 there), written once in IR:
NaN propagates, exp overflows to inf and underflows through the denormals to 0 like ``expf``.
f64 keeps libm / the llvm intrinsics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import llvmlite.ir as lir

from . import lltypes as T

if TYPE_CHECKING:
    from .exprs import ExprEmitter

CONTRACT = ("contract",)
LOG2E = 1.44269504088896341
LN2_HI, LN2_LO = 0.693359375, -2.12194440e-4  # ln 2 = HI + LO, HI exact in few bits
EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
            1.6666665459e-1, 5.0000001201e-1)
TANH_POLY = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
             -3.33332819422e-1)
TANH_SMALL = 0.625
ERF_POLY = (7.853861353153693e-5, -8.010193625184903e-4, 5.188327685732524e-3,
            -2.685381193529856e-2, 1.128358514861418e-1, -3.761262582423300e-1,
            1.128379165726710e+0)  # Cephes erff, |x| < 1
ERF_TAIL_P = 0.3275911  # Abramowitz & Stegun 7.1.26, |x| >= 1: absolute error < 1.5e-7
ERF_TAIL = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def supports(fn: str, value: lir.Value) -> bool:
    """f32, scalar or vector: scalar f32 uses them too, so LLVM's loop vectorizer can vectorize a
    plain loop around them (it cannot vectorize a call to expf)."""
    ty = value.type.element if T.is_vector(value) else value.type
    return fn in ("exp", "tanh", "erf") and isinstance(ty, lir.FloatType)


def emit(em: ExprEmitter, fn: str, x: lir.Value) -> lir.Value:
    return {"exp": exp_f32, "tanh": tanh_f32, "erf": erf_f32}[fn](em, x)


def _c(ty: lir.Type, value: float) -> lir.Constant:
    return T.constant(ty, value)


def _horner(b: lir.IRBuilder, coefficients, z: lir.Value) -> lir.Value:
    acc: lir.Value = _c(z.type, coefficients[0])
    for c in coefficients[1:]:
        acc = b.fadd(b.fmul(acc, z, flags=CONTRACT), _c(z.type, c), flags=CONTRACT)
    return acc


def exp_f32(em: ExprEmitter, x: lir.Value) -> lir.Value:
    """e^x = p(r) * 2^n with n = round(x / ln 2), r = x - n ln 2; 2^n is applied as two
    factors 2^(n/2) so n up to 128 (overflow) and down to -150 (underflow) scale correctly."""
    b = em.builder
    ty = x.type
    ints = lir.VectorType(T.i32, ty.count) if isinstance(ty, lir.VectorType) else T.i32
    clamped = b.select(b.fcmp_ordered(">", x, _c(ty, 89.0)), _c(ty, 89.0), x)
    clamped = b.select(b.fcmp_ordered("<", clamped, _c(ty, -104.0)), _c(ty, -104.0), clamped)
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


def tanh_f32(em: ExprEmitter, x: lir.Value) -> lir.Value:
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


def erf_f32(em: ExprEmitter, x: lir.Value) -> lir.Value:
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
