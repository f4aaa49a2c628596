"""Elementary functions written in plain arithmetic, the same on every target.

``math.exp`` / ``math.sin`` become calls into libm, which stop LLVM from
vectorizing the episode loop, and differ in the last bit between libm, SVML
and CUDA's libdevice. These cores use only +, -, *, /, comparisons and one
target primitive, ``pow2i(n) = 2.0**n`` for an int32 ``n`` (a bit pattern on
the CPU, ``ldexp`` on CUDA), so every target and the CUDA simulator give the
same bits. Accuracy is within 2 ulp of libm over the ranges used (tested).
:func:`make_tanh` builds tanh from any compiled ``exp`` the same way;
:func:`ppnd16` (the standard normal quantile) needs only arithmetic, ``math.log``
and ``math.sqrt``, so it is a plain core. The network activations are named by
the codes :data:`LINEAR`, :data:`TANH` and :data:`RELU` (:data:`ACTIVATIONS`
maps names to codes).
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


# --------------------------------------------------------------------------- activations

# ReLU is written ``z if z > 0.0 else 0.0`` wherever it is applied (one comparison, so
# -0.0 and NaN give 0.0 on every target); its slope from the activation h is (h > 0).
LINEAR, TANH, RELU = 0, 1, 2
ACTIVATIONS = {"tanh": TANH, "relu": RELU}


# --------------------------------------------------------------------------- normal quantile

# A uniform u in [0, 1) is nudged into (0, 1) before ppnd16: min(max(u, U_MIN), U_MAX).
U_MIN = 2.0**-53
U_MAX = 1.0 - 2.0**-53

# AS 241 (PPND16) coefficients: |q| <= 0.425 (a, b), the near tail r <= 5 (c, d), far tail (e, f).
NA0, NA1 = 3.3871328727963666080e0, 1.3314166789178437745e2
NA2, NA3 = 1.9715909503065514427e3, 1.3731693765509461125e4
NA4, NA5 = 4.5921953931549871457e4, 6.7265770927008700853e4
NA6, NA7 = 3.3430575583588128105e4, 2.5090809287301226727e3
NB1, NB2 = 4.2313330701600911252e1, 6.8718700749205790830e2
NB3, NB4 = 5.3941960214247511077e3, 2.1213794301586595867e4
NB5, NB6 = 3.9307895800092710610e4, 2.8729085735721942674e4
NB7 = 5.2264952788528545610e3
NC0, NC1 = 1.42343711074968357734e0, 4.63033784615654529590e0
NC2, NC3 = 5.76949722146069140550e0, 3.64784832476320460504e0
NC4, NC5 = 1.27045825245236838258e0, 2.41780725177450611770e-1
NC6, NC7 = 2.27238449892691845833e-2, 7.74545014278341407640e-4
ND1, ND2 = 2.05319162663775882187e0, 1.67638483018380384940e0
ND3, ND4 = 6.89767334985100004550e-1, 1.48103976427480074590e-1
ND5, ND6 = 1.51986665636164571966e-2, 5.47593808499534494600e-4
ND7 = 1.05075007164441684324e-9
NE0, NE1 = 6.65790464350110377720e0, 5.46378491116411436990e0
NE2, NE3 = 1.78482653991729133580e0, 2.96560571828504891230e-1
NE4, NE5 = 2.65321895265761230930e-2, 1.24266094738807843860e-3
NE6, NE7 = 2.71155556874348757815e-5, 2.01033439929228813265e-7
NF1, NF2 = 5.99832206555887937690e-1, 1.36929880922735805310e-1
NF3, NF4 = 1.48753612908506148525e-2, 7.86869131145613259100e-4
NF5, NF6 = 1.84631831751005468180e-5, 1.42151175831644588870e-7
NF7 = 2.04426310338993978564e-15


def ppnd16(p):
    """Phi^-1(p), the standard normal quantile, for p in (0, 1): Wichura's Algorithm
    AS 241 (PPND16; Applied Statistics 37(3), 477-484, 1988; relative accuracy about
    1e-16).

    An undecorated core (compiled by the kernels for every target); uses only
    arithmetic, ``math.log`` and ``math.sqrt``.
    """
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = ((((((NA7 * r + NA6) * r + NA5) * r + NA4) * r + NA3) * r + NA2) * r + NA1) * r + NA0
        den = ((((((NB7 * r + NB6) * r + NB5) * r + NB4) * r + NB3) * r + NB2) * r + NB1) * r + 1.0
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = ((((((NC7 * r + NC6) * r + NC5) * r + NC4) * r + NC3) * r + NC2) * r + NC1) * r + NC0
        den = ((((((ND7 * r + ND6) * r + ND5) * r + ND4) * r + ND3) * r + ND2) * r + ND1) * r + 1.0
    else:
        r -= 5.0
        num = ((((((NE7 * r + NE6) * r + NE5) * r + NE4) * r + NE3) * r + NE2) * r + NE1) * r + NE0
        den = ((((((NF7 * r + NF6) * r + NF5) * r + NF4) * r + NF3) * r + NF2) * r + NF1) * r + 1.0
    x = num / den
    return -x if q < 0.0 else x
