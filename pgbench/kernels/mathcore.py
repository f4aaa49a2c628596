"""Elementary functions written in plain arithmetic, the same on every target.

``math.exp`` / ``math.sin`` become calls into libm, which stop LLVM from
vectorizing the episode loop, and differ in the last bit between libm, SVML
and CUDA's libdevice. These cores use only +, -, *, /, comparisons and one
target primitive, ``pow2i(n) = 2.0**n`` for an int32 ``n`` (a bit pattern on
the CPU, ``ldexp`` on CUDA), so every target and the CUDA simulator give the
same bits. Accuracy is within 2 ulp of libm over the ranges used (tested).
:func:`make_tanh` builds tanh from any compiled ``exp`` the same way.
"""

from __future__ import annotations

import math

import numpy as np

# Cody-Waite split of ln 2 (fdlibm); k * LN2_HI is exact for |k| < 2**20.
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
LOG2E = 1.44269504088896338700e00
# Three-part split of pi/2 (fdlibm), exact products for |k| < 2**20.
PIO2_1 = 1.57079632673412561417e00
PIO2_2 = 6.07710050630396597660e-11
PIO2_3 = 2.02226624871116645580e-21
TWO_OVER_PI = 6.36619772367581382433e-01
# Adding then subtracting 1.5 * 2**52 rounds a double to the nearest integer.
ROUND_MAGIC = 6755399441055744.0
EXP_MAX = 709.0
EXP_MIN = -708.0

# Taylor coefficients 1/n!, n = 0..17.
_INV_FACT = [1.0 / math.factorial(n) for n in range(18)]
E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13 = _INV_FACT[:14]
S3, S5, S7, S9, S11, S13, S15, S17 = (
    (-1.0) ** ((n - 1) // 2) * _INV_FACT[n] for n in (3, 5, 7, 9, 11, 13, 15, 17)
)
C2, C4, C6, C8, C10, C12, C14, C16 = (
    (-1.0) ** (n // 2) * _INV_FACT[n] for n in (2, 4, 6, 8, 10, 12, 14, 16)
)


def make_math(pow2i):
    """Build the undecorated math cores around the target's ``pow2i``."""

    def exp(x):
        """e**x for float64 x; 0 below -708, clamped to e**709 above 709."""
        xc = min(max(x, EXP_MIN), EXP_MAX)
        k = (xc * LOG2E + ROUND_MAGIC) - ROUND_MAGIC
        r = (xc - k * LN2_HI) - k * LN2_LO
        p = E13
        p = p * r + E12
        p = p * r + E11
        p = p * r + E10
        p = p * r + E9
        p = p * r + E8
        p = p * r + E7
        p = p * r + E6
        p = p * r + E5
        p = p * r + E4
        p = p * r + E3
        p = p * r + E2
        p = p * r + E1
        p = p * r + E0
        y = p * pow2i(np.int32(k))
        return 0.0 if x < EXP_MIN else y

    def sincos(x):
        """(sin x, cos x) for |x| < 1e6 (radians)."""
        k = (x * TWO_OVER_PI + ROUND_MAGIC) - ROUND_MAGIC
        r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3
        z = r * r
        p = S17
        p = p * z + S15
        p = p * z + S13
        p = p * z + S11
        p = p * z + S9
        p = p * z + S7
        p = p * z + S5
        p = p * z + S3
        s = r + r * z * p
        p = C16
        p = p * z + C14
        p = p * z + C12
        p = p * z + C10
        p = p * z + C8
        p = p * z + C6
        p = p * z + C4
        p = p * z + C2
        c = 1.0 + z * p
        # x = k pi/2 + r: the quadrant q = k mod 4 rotates (sin r, cos r).
        q = np.int32(k) & np.int32(3)
        odd = (q & np.int32(1)) != 0
        sin_x = c if odd else s
        cos_x = s if odd else c
        if (q & np.int32(2)) != 0:
            sin_x = -sin_x
        if q == np.int32(1) or q == np.int32(2):
            cos_x = -cos_x
        return sin_x, cos_x

    return {"exp": exp, "sincos": sincos}


def make_tanh(exp):
    """tanh from ``exp`` alone: ``sign(x) (1 - e^(-2|x|)) / (1 + e^(-2|x|))``.

    Absolute error within a few 1e-16 (relative error grows as |x| -> 0, where
    the absolute one stays tiny); no overflow for any x. Built on pgbench's
    own ``exp`` it gives the same bits on every target.
    """

    def tanh(x):
        t = exp(-2.0 * abs(x))
        y = (1.0 - t) / (1.0 + t)
        return y if x >= 0.0 else -y

    return tanh
