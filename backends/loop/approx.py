"""The constants of mlc's float32 exp, tanh and erf approximations, shared by every renderer.

Why renderers approximate at all: a vectorized loop that calls libm's ``expf`` runs at scalar
speed (no vector math library is configured for LLVM here, and GCC only uses glibc's libmvec
under -ffast-math), so softmax, sigmoid, SiLU and GELU would be the slowest kernels of a model.
These are Cephes' single-precision algorithms (about 1 ulp on their reduced ranges; erf's tail
for |x| >= 1 is Abramowitz & Stegun 7.1.26, relative error < 3e-7 there). The LLVM renderer
writes them as IR (``backends/llvm/vector_math.py``), the C renderer as C
(``backends/c/approx.py``); both take the numbers from here, so the two agree.
"""

LOG2E = 1.44269504088896341
EXP_MIN, EXP_MAX = -104.0, 89.0  # exp's argument is clamped here: 0 below, inf above
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
