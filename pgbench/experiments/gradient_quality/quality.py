"""The statistics of R independent estimates (R, P) against a reference (P,): pure numpy.

Squared bias and squared signal with their finite-R bias removed, cosines to the
reference and between estimates, the cell's metrics (:func:`gradient_metrics`), and the
grouped jackknife that estimates a Monte Carlo reference's own noise from its
sub-batches (:func:`grouped_jackknife`). Every function here is a function of arrays
only, so it can be checked by hand (``tests/test_gradient_quality_metrics.py`` does).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def cosines(estimates: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(R,) cosine of each row of ``estimates`` (R, P) to ``g`` (P,).

    A zero estimate has cosine 0 (no direction, no alignment); NaN if ``g`` is zero.
    """
    estimates = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    g = np.asarray(g, dtype=np.float64)
    g_norm = np.linalg.norm(g)
    if g_norm == 0.0:
        return np.full(estimates.shape[0], np.nan)
    norms = np.linalg.norm(estimates, axis=1)
    dots = estimates @ g
    return np.divide(dots, norms * g_norm, out=np.zeros_like(dots), where=norms > 0)


def pairwise_cosine(estimates: np.ndarray) -> float:
    """Mean cosine over the R(R-1)/2 pairs i < j of rows of ``estimates`` (R, P).

    The gradient-predictiveness measure of Ilyas et al. (2020), "A closer look at
    deep policy gradients", ICLR (Sec. 3). Zero rows count as cosine 0; NaN if R < 2.
    """
    estimates = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    R = estimates.shape[0]
    if R < 2:
        return float("nan")
    norms = np.linalg.norm(estimates, axis=1, keepdims=True)
    units = np.divide(estimates, norms, out=np.zeros_like(estimates), where=norms > 0)
    i, j = np.triu_indices(R, k=1)
    return float(np.mean(np.sum(units[i] * units[j], axis=1)))


def _check(estimates: np.ndarray, g: np.ndarray | None = None) -> np.ndarray:
    estimates = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    if estimates.shape[0] < 2 or (g is not None and estimates.shape[1:] != np.shape(g)):
        shapes = f"{estimates.shape}" + ("" if g is None else f", {np.shape(g)}")
        raise ValueError(f"need estimates (R >= 2, P) and g (P,), got {shapes}")
    return estimates


def squared_bias(estimates: np.ndarray, g: np.ndarray, reference_noise: float = 0.0) -> float:
    """Unbiased estimate of ||b||^2, b = E[g_r] - g* the bias of R independent estimates
    ``estimates`` (R, P) of g* (P,), compared with ``g`` (P,); may be negative.

    With mean = mean_r g_r, C = Cov(g_r), S the trace of the sample covariance (ddof=1,
    E[S] = tr C) and ``g`` either g* (``reference_noise`` 0) or an estimate of it,
    independent of the g_r, with E||g - g*||^2 = nu* and an unbiased estimate
    ``reference_noise`` = nu of nu*:

        E||mean - g||^2 = ||b||^2 + tr(C) / R + nu*,  so  ||mean - g||^2 - S / R - nu

    is unbiased for ||b||^2 (for an exact ``g`` the middle term alone is the known
    finite-R bias of ||mean - g||^2, about tr(C) / R even for an unbiased estimator).
    """
    estimates = _check(estimates, g)
    diff = estimates.mean(axis=0) - np.asarray(g, dtype=np.float64)
    return float(diff @ diff) - _trace_cov(estimates) / len(estimates) - reference_noise


def squared_signal(estimates: np.ndarray) -> float:
    """Unbiased estimate of ||E g_r||^2 from R independent estimates (R, P); may be negative.

    E||mean_r g_r||^2 = ||E g_r||^2 + tr(C) / R, so ||mean||^2 - S / R is unbiased
    (S, C as in :func:`squared_bias`).
    """
    estimates = _check(estimates)
    mean = estimates.mean(axis=0)
    return float(mean @ mean) - _trace_cov(estimates) / len(estimates)


def _trace_cov(estimates: np.ndarray) -> float:
    return float(estimates.var(axis=0, ddof=1).sum())


def gradient_metrics(
    estimates: np.ndarray, g: np.ndarray, reference_noise: float = 0.0
) -> dict[str, float]:
    """Quality of R >= 2 independent estimates (R, P) of the gradient g* (P,), compared with
    ``g`` (P,): g* itself (``reference_noise`` 0), or an estimate of it independent of the
    estimates whose own mean squared error E||g - g*||^2 has the unbiased estimate
    ``reference_noise`` (:attr:`.reference.Reference.noise`).

    b = E[g_r] - g* is the bias, C = Cov(g_r); the finite-R bias of the plain sample
    quantities and the reference's noise are subtracted (:func:`squared_bias`,
    :func:`squared_signal`):

    * ``bias_norm`` = sqrt(max(0, squared_bias)) estimates ||b||. Its square is unbiased
      for ||b||^2 before the clipping at 0, which can only raise it; so an unbiased
      estimator reads 0 or a little above, not ~sqrt(tr(C) / R) as ||mean - g|| does.
    * ``trace_cov`` = S = sum_p Var_r(g_r[p]) (sample variances, ddof=1): unbiased for tr C.
    * ``mse`` = max(0, mean_r ||g_r - g||^2 - reference_noise), unbiased for
      E||g_r - g*||^2 = ||b||^2 + tr C before clipping (clipping only acts when
      ``reference_noise`` > 0). Unclipped, mse = bias_norm^2 + trace_cov exactly.
    * ``cosine`` = mean_r cos(g_r, g) (see :func:`cosines`); uncorrected: a noisy
      reference pulls it slightly toward 0.
    * ``pairwise_cosine``: see :func:`pairwise_cosine` (does not involve g).
    * ``snr`` = max(0, squared_signal) / S, estimating ||E g_r||^2 / tr C (Roberts &
      Tedrake 2009, "Signal-to-noise ratio analysis of policy gradient algorithms",
      NeurIPS) with a numerator unbiased before clipping (the ratio itself is not
      unbiased); inf if S is 0 and the numerator positive, NaN if both are 0.

    Units: gradient units (reward per unit of parameter) for bias_norm, their square
    for trace_cov and mse; cosines and snr are dimensionless.
    """
    estimates = _check(estimates, g)
    g = np.asarray(g, dtype=np.float64)
    if not (np.isfinite(reference_noise) and reference_noise >= 0):
        raise ValueError(f"reference_noise must be finite and >= 0, got {reference_noise}")
    trace_cov = _trace_cov(estimates)
    signal = max(0.0, squared_signal(estimates))
    if trace_cov > 0:
        snr = signal / trace_cov
    else:
        snr = float("inf") if signal > 0 else float("nan")
    mse = float(np.mean(np.sum((estimates - g) ** 2, axis=1))) - reference_noise
    return {
        "bias_norm": float(np.sqrt(max(0.0, squared_bias(estimates, g, reference_noise)))),
        "trace_cov": trace_cov,
        "mse": max(0.0, mse),
        "cosine": float(np.mean(cosines(estimates, g))),
        "pairwise_cosine": pairwise_cosine(estimates),
        "snr": snr,
    }


def grouped_jackknife(
    parts: np.ndarray, sizes: np.ndarray, h: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, float]:
    """(h(mean) (P',), noise) for K >= 2 independent sub-batch estimates ``parts`` (K, P)
    of sizes ``sizes`` (K,) and a function ``h`` (P,) -> (P',) (default: the identity).

    mean = sum_k n_k g_k / E (E = sum_k n_k) and ``noise`` is the delete-a-group jackknife
    estimate of sum_p Var(h(mean)_p) (Busing, Meijer & van der Leeden 1999, "Delete-m
    jackknife for unequal m", Statistics and Computing 9:3-8): with h_k = h(mean without
    group k), m_k = E / n_k, pseudo-values p_k = m_k h(mean) - (m_k - 1) h_k and
    h_J = K h(mean) - sum_k (1 - n_k / E) h_k,

        noise = (1 / K) sum_k ||p_k - h_J||^2 / (m_k - 1).

    For the identity p_k = g_k, and noise = (1 / K) sum_k n_k / (E - n_k) ||g_k - mean||^2
    is unbiased for tr Cov(mean) when Cov(g_k) = C / n_k or the sizes are equal; for a
    smooth h it is the first-order (delta-method) approximation.
    """
    parts = np.atleast_2d(np.asarray(parts, dtype=np.float64))
    n = np.asarray(sizes, dtype=np.float64)
    K, E = len(n), float(n.sum())
    if K < 2 or parts.shape[0] != K:
        raise ValueError(f"need K >= 2 parts (K, P) and sizes (K,), got {parts.shape}, {n.shape}")
    h = h or (lambda v: v)
    mean = n @ parts / E
    value = np.asarray(h(mean), dtype=np.float64)
    without = (E * mean - n[:, None] * parts) / (E - n)[:, None]
    h_k = np.array([np.asarray(h(row), dtype=np.float64) for row in without])
    m = E / n
    pseudo = m[:, None] * value - (m - 1)[:, None] * h_k
    h_jack = K * value - (1 - n / E) @ h_k
    noise = float(np.mean(np.sum((pseudo - h_jack) ** 2, axis=1) / (m - 1)))
    return value, noise
