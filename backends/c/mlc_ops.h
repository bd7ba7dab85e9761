/* mlc_ops.h: the scalar semantics of mlc's loop IR (backends/loop/scalar.py), written in C99.
 *
 * Generated kernels (model.c) call these where plain C would differ from the IR or be undefined:
 * integer arithmetic wraps (done in unsigned, where overflow is defined, so UBSan stays quiet);
 * integer division by zero gives 0 and INT_MIN / -1 wraps; float max/min propagate NaN; float to
 * integer casts go through int64 and give INT64_MIN for NaN, infinities and out-of-range values;
 * float16 lives in memory as its 16 bits and in registers as a float rounded after every
 * operation. All are static inline, so with constant operands (index arithmetic) the compiler
 * folds them back to single instructions. No allocation, no stdio: this runs on a Cortex-M.
 */
#ifndef MLC_OPS_H
#define MLC_OPS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define MLC_ALIGNED(n) __attribute__((aligned(n)))
#else
#define MLC_ALIGNED(n)
#endif

#ifndef NAN
#define NAN (0.0f / 0.0f)
#endif

/* -- wrapping integer arithmetic (int32, int64); narrower types wrap by a cast back ----------- */

#define MLC_WRAPPING(T, U, S)                                                               \
    static inline T mlc_add_##S(T a, T b) { return (T)((U)a + (U)b); }                      \
    static inline T mlc_sub_##S(T a, T b) { return (T)((U)a - (U)b); }                      \
    static inline T mlc_mul_##S(T a, T b) { return (T)((U)a * (U)b); }                      \
    static inline T mlc_neg_##S(T a) { return (T)((U)0 - (U)a); }                           \
    static inline T mlc_abs_##S(T a) { return a < 0 ? (T)((U)0 - (U)a) : a; }               \
    static inline T mlc_div_##S(T a, T b) {                                                 \
        return b == 0 ? 0 : b == -1 ? (T)((U)0 - (U)a) : (T)(a / b);                        \
    }                                                                                       \
    static inline T mlc_mod_##S(T a, T b) { return (b == 0 || b == -1) ? 0 : (T)(a % b); }  \
    static inline T mlc_floordiv_##S(T a, T b) {                                            \
        T q, r;                                                                             \
        if (b == 0) return 0;                                                               \
        if (b == -1) return (T)((U)0 - (U)a);                                               \
        q = (T)(a / b);                                                                     \
        r = (T)(a % b);                                                                     \
        return (r != 0 && ((r < 0) != (b < 0))) ? (T)(q - 1) : q;                           \
    }

MLC_WRAPPING(int32_t, uint32_t, i32)
MLC_WRAPPING(int64_t, uint64_t, i64)

/* int8 and int16 promote to int, where their results cannot overflow; the cast back wraps. */
#define MLC_NARROW(T, S)                                                                     \
    static inline T mlc_abs_##S(T a) { return (T)(a < 0 ? -a : a); }                       \
    static inline T mlc_div_##S(T a, T b) { return b == 0 ? 0 : (T)(a / b); }              \
    static inline T mlc_mod_##S(T a, T b) { return b == 0 ? 0 : (T)(a % b); }              \
    static inline T mlc_floordiv_##S(T a, T b) {                                           \
        int q, r;                                                                          \
        if (b == 0) return 0;                                                              \
        q = a / b;                                                                         \
        r = a % b;                                                                         \
        return (T)((r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q);                          \
    }

MLC_NARROW(int8_t, i8)
MLC_NARROW(int16_t, i16)

/* Integer max/min as helpers rather than ternaries, so each operand is written once. */
#define MLC_MINMAX(T, S)                                                                     \
    static inline T mlc_max_##S(T a, T b) { return a > b ? a : b; }                        \
    static inline T mlc_min_##S(T a, T b) { return a < b ? a : b; }

MLC_MINMAX(int8_t, i8)
MLC_MINMAX(int16_t, i16)
MLC_MINMAX(int32_t, i32)
MLC_MINMAX(int64_t, i64)
MLC_MINMAX(uint8_t, u8)

static inline uint8_t mlc_div_u8(uint8_t a, uint8_t b) { return b == 0 ? 0 : (uint8_t)(a / b); }
static inline uint8_t mlc_mod_u8(uint8_t a, uint8_t b) { return b == 0 ? 0 : (uint8_t)(a % b); }
#define mlc_floordiv_u8 mlc_div_u8

/* -- floats ------------------------------------------------------------------------------------ */

/* NaN in either operand gives NaN (numpy's maximum, LLVM's llvm.maximum). Written as the
 * hardware max (which returns b when either is NaN) then a select on a's NaN, the form compilers
 * turn into maxss + a conditional move (or a blend when vectorizing), never a branch. */
#define MLC_FLOAT_MINMAX(T, S)                                                               \
    static inline T mlc_max_##S(T a, T b) {                                                \
        T m = a > b ? a : b;                                                               \
        return a != a ? a : m;                                                             \
    }                                                                                      \
    static inline T mlc_min_##S(T a, T b) {                                                \
        T m = a < b ? a : b;                                                               \
        return a != a ? a : m;                                                             \
    }

MLC_FLOAT_MINMAX(float, f32)
MLC_FLOAT_MINMAX(double, f64)

/* Through int64, truncating; NaN, infinities and |x| >= 2^63 give INT64_MIN (as x86 does). */
static inline int64_t mlc_f32_to_i64(float x) {
    return fabsf(x) < 9223372036854775808.0f ? (int64_t)x : INT64_MIN;
}
static inline int64_t mlc_f64_to_i64(double x) {
    return fabs(x) < 9223372036854775808.0 ? (int64_t)x : INT64_MIN;
}

/* numpy's floor_divide (npy_divmod): floor((a - fmod(a, b)) / b), corrected toward the
 * quotient's sign; division by zero gives a / b (inf or NaN). */
#define MLC_FLOORDIV(T, S, SUFFIX)                                                           \
    static inline T mlc_floordiv_##S(T a, T b) {                                           \
        T mod, div, result;                                                                \
        if (b == 0) return a / b;                                                          \
        mod = fmod##SUFFIX(a, b);                                                          \
        div = (a - mod) / b;                                                               \
        if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;                                  \
        if (div != 0) {                                                                    \
            result = floor##SUFFIX(div);                                                   \
            if (div - result > (T)0.5) result += 1;                                        \
            return result;                                                                 \
        }                                                                                  \
        return copysign##SUFFIX((T)0, a / b);                                              \
    }

MLC_FLOORDIV(float, f32, f)
MLC_FLOORDIV(double, f64, )

/* -- float16: 16 bits in memory, a float in registers --------------------------------------- */

static inline float mlc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exponent == 0x1fu) {
        bits = sign | 0x7f800000u | (mantissa << 13); /* inf, NaN */
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign; /* +0 or -0 */
    } else { /* a subnormal half is a normal float: shift the leading one into place */
        exponent = 113u;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            exponent--;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Round to nearest, ties to even; overflow gives an infinity, NaN stays NaN. */
static inline uint16_t mlc_f32_to_f16(float f) {
    uint32_t bits, sign, exponent, mantissa, shift, half, rest, halfway;
    memcpy(&bits, &f, sizeof bits);
    sign = (bits >> 16) & 0x8000u;
    exponent = (bits >> 23) & 0xffu;
    mantissa = bits & 0x7fffffu;
    if (exponent == 0xffu) return (uint16_t)(sign | 0x7c00u | (mantissa ? 0x200u : 0u));
    if (exponent >= 143u) return (uint16_t)(sign | 0x7c00u); /* >= 2^16: inf */
    if (exponent >= 113u) { /* normal half */
        half = ((exponent - 112u) << 10) | (mantissa >> 13);
        rest = mantissa & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half++; /* may carry into inf */
        return (uint16_t)(sign | half);
    }
    if (exponent < 101u) return (uint16_t)sign; /* below half the smallest subnormal: a signed zero */
    mantissa |= 0x800000u; /* subnormal half: shift the implicit one down */
    shift = 126u - exponent;
    half = mantissa >> shift;
    rest = mantissa & ((1u << shift) - 1u);
    halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (half & 1u))) half++;
    return (uint16_t)(sign | half);
}

static inline float mlc_round_f16(float f) { return mlc_f16_to_f32(mlc_f32_to_f16(f)); }

#endif /* MLC_OPS_H */
