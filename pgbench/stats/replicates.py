"""Statistics over replicate seeds: pure functions of arrays, each random draw from an
explicit :class:`numpy.random.Generator`.

The right axis for intervals is the seed: each seed is an independent replicate
of a whole cell, so :func:`bootstrap_ci` and :func:`relative_change_ci` resample seeds
(or pairs of seeds), never the estimates inside one seed.

* intervals: :func:`bootstrap_ci`, :func:`relative_change_ci`, :func:`group_rng`, :func:`iqm`;
* two-sided tests: :func:`welch_p` (Welch 1947), :func:`mannwhitney_p`, :func:`wilcoxon_p`
  (Wilcoxon 1945), and the smallest p-value a rank test can give with n seeds
  (:func:`min_mannwhitney_p`, :func:`min_wilcoxon_p`, :func:`seeds_needed`,
  :func:`pairs_needed`);
* power (Colas, Sigaud and Oudeyer 2018, "How many random seeds? Statistical power analysis
  in deep reinforcement learning experiments", arXiv:1806.08295): the minimum detectable
  change of the t-test (:func:`min_detectable_change`, :func:`min_detectable_change_paired`)
  and the seeds that bring it under a target (:func:`suggest_seeds`).

A leaf: it imports no pgbench module.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy.special import stdtr, stdtrit

DEFAULT_BOOTSTRAP = 2000  # resamples
DEFAULT_LEVEL = 0.95
POWER = 0.8  # of the minimum detectable change
MAX_SEEDS = 10**6  # beyond it, no seed count is suggested


# ---------------------------------------------------------------- intervals


def bootstrap_ci(
    values: np.ndarray,
    rng: np.random.Generator,
    *,
    stat: Callable[..., np.ndarray] = np.median,
    n_boot: int = DEFAULT_BOOTSTRAP,
    level: float = DEFAULT_LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval (lo, hi) of ``stat`` of ``values`` (n,), n >= 1.

    Draws ``n_boot`` resamples of size n with replacement from ``rng`` and
    returns the (1 - level) / 2 and (1 + level) / 2 quantiles of ``stat`` over
    them (``stat`` must take ``axis=1``). One value gives (v, v). With n = 5 and
    the median, the 95% interval is the min-max range of the five values (the
    median of a resample falls outside it with probability < 2.5% per side).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    n = values.size
    if n == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n == 1:
        return float(values[0]), float(values[0])
    idx = rng.integers(0, n, size=(n_boot, n))
    boot = stat(values[idx], axis=1)
    lo, hi = np.quantile(boot, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def relative_change(new_mean: np.ndarray, base_mean: np.ndarray) -> np.ndarray:
    """(new - base) / |base|, elementwise over arrays of one shape; +-inf where base is 0
    and they differ, 0 where both are 0."""
    diff = np.asarray(new_mean - base_mean, dtype=np.float64)
    scale = np.abs(base_mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = diff / scale
    return np.where(diff == 0.0, 0.0, out)


def relative_change_ci(
    a: np.ndarray,
    b: np.ndarray,
    rng: np.random.Generator,
    level: float,
    n_boot: int,
    paired: bool = False,
) -> tuple[float, float]:
    """Percentile bootstrap interval (lo, hi) at ``level`` of (mean(b) - mean(a)) / |mean(a)|
    for base values ``a`` (n_a,) and new values ``b`` (n_b,), each side's seeds resampled
    with replacement independently (``n_boot`` resamples from ``rng``); when ``paired``
    (n_a = n_b, ``a[i]`` and ``b[i]`` one seed), the pairs are resampled. (NaN, NaN) where
    every resampled change is NaN (non-finite values)."""
    ia = rng.integers(0, a.size, size=(n_boot, a.size))
    ib = ia if paired else rng.integers(0, b.size, size=(n_boot, b.size))
    boot = relative_change(b[ib].mean(axis=1), a[ia].mean(axis=1))
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(boot, q) if np.any(~np.isnan(boot)) else (math.nan, math.nan)
    return float(lo), float(hi)


def group_rng(base: int, key: tuple) -> np.random.Generator:
    """A Generator that is a pure function of ``base`` (an int drawn once from the caller's
    Generator) and ``key`` (a tuple of str / int, e.g. a group of a table), so the
    interval of one group does not depend on which other groups were summarised."""
    digest = hashlib.sha256(repr(tuple(key)).encode()).digest()
    words = [int.from_bytes(digest[i : i + 8], "little") for i in range(0, 32, 8)]
    return np.random.default_rng(np.random.SeedSequence([int(base), *words]))


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% of ``values`` along ``axis``
    (scipy's 25% trimmed mean; Agarwal et al. 2021, "Deep RL at the edge of the
    statistical precipice", NeurIPS). Robust to a few failed seeds, less noisy
    than the median."""
    from scipy.stats import trim_mean  # lazy: scipy.stats adds about 0.5 s to start-up

    return trim_mean(np.asarray(values, dtype=np.float64), 0.25, axis=axis)


# ---------------------------------------------------------------- tests


def welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of Welch's unequal-variance t-test of ``a`` (n_a,) vs ``b`` (n_b,)
    (Welch 1947; the Welch-Satterthwaite degrees of freedom), as scipy's
    ``ttest_ind(equal_var=False)``; NaN if a side has < 2 values; for two constant
    samples 1 if they are equal, else 0."""
    if a.size < 2 or b.size < 2:
        return math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = abs(float(b.mean() - a.mean()))
    if va + vb == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return float(min(1.0, 2.0 * stdtr(df, -t)))


def mannwhitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value of ``a`` (n_a,) vs ``b`` (n_b,) (scipy's exact
    method for small samples without ties, else the normal approximation); 1 where every
    value is the same; NaN if a side is empty."""
    from scipy.stats import mannwhitneyu  # lazy: scipy.stats adds about 0.5 s to start-up

    if a.size < 1 or b.size < 1:
        return math.nan
    if np.all(a == a[0]) and np.all(b == a[0]):
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test of the paired differences ``d``
    (n,) (Wilcoxon 1945; scipy's exact method for small samples), zero differences
    dropped (``zero_method="wilcox"``); 1 if every difference is 0; NaN if ``d`` is
    empty."""
    from scipy.stats import wilcoxon  # lazy: scipy.stats adds about 0.5 s to start-up

    if d.size < 1:
        return math.nan
    nonzero = d[d != 0.0]
    if not nonzero.size:
        return 1.0
    return float(wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided").pvalue)


def min_mannwhitney_p(n1: int, n2: int) -> float:
    """Smallest two-sided p-value the exact Mann-Whitney U test can give with samples of
    sizes n1 and n2 (no ties): 2 / C(n1 + n2, n1), capped at 1 (1 if a sample is empty)."""
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided p-value the exact Wilcoxon signed-rank test can give with ``n``
    non-zero differences: 2 / 2^n (all of one sign), capped at 1 (1 if n < 1)."""
    return 1.0 if n < 1 else min(1.0, 2.0 / 2.0**n)


def seeds_needed(alpha: float) -> int:
    """Smallest n such that n vs n seeds let Mann-Whitney reach p < ``alpha``."""
    n = 1
    while min_mannwhitney_p(n, n) >= alpha:
        n += 1
    return n


def pairs_needed(alpha: float) -> int:
    """Smallest n such that n pairs let the signed-rank test reach p < ``alpha``."""
    n = 1
    while min_wilcoxon_p(n) >= alpha:
        n += 1
    return n


# ---------------------------------------------------------------- power


def _t_sum(df: float, alpha: float, power: float) -> float:
    """t[1 - alpha/2, df] + t[power, df]: the distance, in standard errors, between no
    change and the change a two-sided t-test at ``alpha`` detects with ``power``."""
    return float(stdtrit(df, 1.0 - alpha / 2.0) + stdtrit(df, power))


def min_detectable_change(
    sd_base: float, n_base: int, sd_new: float, n_new: int, alpha: float, power: float = POWER
) -> float:
    """Smallest |mean(new) - mean(base)| (the metric's units) Welch's t-test detects at
    two-sided ``alpha`` with ``power``, for samples of sizes n_base, n_new with standard
    deviations sd_base, sd_new: (t[1 - alpha/2, v] + t[power, v]) * se, se the Welch
    standard error, v the Welch-Satterthwaite df (Colas et al. 2018, section 3); 0 for
    two constant samples, NaN if a side has < 2 values."""
    if n_base < 2 or n_new < 2:
        return math.nan
    va, vb = sd_base**2 / n_base, sd_new**2 / n_new
    if va + vb == 0.0:
        return 0.0
    df = (va + vb) ** 2 / (va**2 / (n_base - 1) + vb**2 / (n_new - 1))
    return _t_sum(df, alpha, power) * math.sqrt(va + vb)


def min_detectable_change_paired(
    sd_diff: float, n: int, alpha: float, power: float = POWER
) -> float:
    """Smallest |mean difference| the paired t-test detects at two-sided ``alpha`` with
    ``power`` for ``n`` pairs whose differences have standard deviation ``sd_diff``:
    (t[1 - alpha/2, n - 1] + t[power, n - 1]) * sd_diff / sqrt(n); 0 if sd_diff is 0,
    NaN if n < 2."""
    if n < 2:
        return math.nan
    if sd_diff == 0.0:
        return 0.0
    return _t_sum(n - 1, alpha, power) * sd_diff / math.sqrt(n)


def suggest_seeds(
    sd_base: float, sd_new: float, target: float, alpha: float, paired: bool = False
) -> int | None:
    """Smallest n (seeds per side; pairs when ``paired``, with ``sd_base`` the standard
    deviation of the differences and ``sd_new`` unused) whose minimum detectable change is
    at most ``target`` (the metric's units) and with which the rank test can reach
    ``alpha``; None if no n up to :data:`MAX_SEEDS` does (e.g. ``target`` 0 with spread).
    The MDC falls with n, so a doubling then a bisection finds it."""

    def enough(n: int) -> bool:
        if paired:
            mdc = min_detectable_change_paired(sd_base, n, alpha)
        else:
            mdc = min_detectable_change(sd_base, n, sd_new, n, alpha)
        return mdc <= target

    lo = pairs_needed(alpha) if paired else max(2, seeds_needed(alpha))
    if not math.isfinite(target) or target < 0.0:
        return None
    if enough(lo):
        return lo
    hi = 2 * lo
    while not enough(hi):
        if hi >= MAX_SEEDS:
            return None
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # enough(hi), not enough(lo)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return hi
