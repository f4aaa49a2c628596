"""One row of a comparison: the statistics and status of one (key, x, metric) from the
values of its seeds, with the independent design (:func:`compare_samples`) or the paired
one (:func:`compare_pairs`). The rules are those of :mod:`pgbench.compare` (Statistics
over seeds; Power; Verdict)."""

from __future__ import annotations

import math

import numpy as np

from pgbench.stats import (
    DEFAULT_BOOTSTRAP,
    mannwhitney_p,
    min_detectable_change,
    min_detectable_change_paired,
    min_mannwhitney_p,
    min_wilcoxon_p,
    relative_change,
    relative_change_ci,
    suggest_seeds,
    welch_p,
    wilcoxon_p,
)


def _mdc_relative(mdc: float, base_mean: float) -> float:
    """MDC / |base mean|: 0 where the MDC is 0, inf where only the base mean is."""
    if math.isnan(mdc) or mdc == 0.0:
        return mdc
    return mdc / abs(base_mean) if base_mean != 0.0 else math.inf


def _status(worse: float, threshold: float, significant: bool, underpowered: bool) -> str:
    """The status of a compared row (the Verdict of :mod:`pgbench.compare`)."""
    if worse > threshold - 1.0:
        if significant:
            return "regression"
        return "underpowered" if underpowered else "worse"
    if significant:
        return "improved" if worse < 0 else "changed"
    return "ok"


def _empty(a: np.ndarray, b: np.ndarray) -> dict:
    """The columns of a row of values ``a`` (BASE) and ``b`` (NEW), statistics NaN."""
    return {
        "n_base": int(a.size),
        "n_new": int(b.size),
        "base_mean": float(a.mean()) if a.size else math.nan,
        "new_mean": float(b.mean()) if b.size else math.nan,
        "change": math.nan,
        "change_lo": math.nan,
        "change_hi": math.nan,
        "worse_by": math.nan,
        "p_welch": math.nan,
        "p_mannwhitney": math.nan,
        "p_wilcoxon": math.nan,
        "mdc": math.nan,
        "underpowered": False,
        "seeds_suggested": None,
    }


def compare_samples(
    base: np.ndarray,
    new: np.ndarray,
    direction: int,
    threshold: float,
    alpha: float,
    rng: np.random.Generator,
    n_boot: int = DEFAULT_BOOTSTRAP,
) -> dict:
    """Statistics and status of one (key, x, metric), independent design: ``base`` (n_b,)
    and ``new`` (n_n,) hold one value per seed (non-finite ones are dropped);
    ``direction`` is :data:`~pgbench.metrics.LOWER` or :data:`~pgbench.metrics.HIGHER`.
    Returns n_base, n_new, base_mean, new_mean, change, change_lo, change_hi, worse_by,
    p_welch, p_mannwhitney, p_wilcoxon (NaN), mdc (relative), underpowered,
    seeds_suggested (None unless underpowered), status (the rules of
    :mod:`pgbench.compare`)."""
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out = _empty(a, b)
    if not a.size or not b.size:
        status = "no-data" if not a.size and not b.size else ("new" if b.size else "missing")
        return {**out, "status": status}
    change = float(relative_change(np.float64(out["new_mean"]), np.float64(out["base_mean"])))
    lo, hi = relative_change_ci(a, b, rng, 1.0 - alpha, n_boot)
    p_t, p_u = welch_p(a, b), mannwhitney_p(a, b)
    worse = direction * change + 0.0  # no -0.0
    sd_a = float(a.std(ddof=1)) if a.size > 1 else math.nan
    sd_b = float(b.std(ddof=1)) if b.size > 1 else math.nan
    mdc = _mdc_relative(min_detectable_change(sd_a, a.size, sd_b, b.size, alpha), out["base_mean"])
    underpowered = not mdc <= threshold - 1.0 or min_mannwhitney_p(a.size, b.size) >= alpha
    suggested = None
    if underpowered and a.size > 1 and b.size > 1:
        target = (threshold - 1.0) * abs(out["base_mean"])
        suggested = suggest_seeds(sd_a, sd_b, target, alpha)
    significant = p_t < alpha and p_u < alpha  # False when a p-value is NaN
    return {
        **out,
        "change": change,
        "change_lo": lo,
        "change_hi": hi,
        "worse_by": worse,
        "p_welch": p_t,
        "p_mannwhitney": p_u,
        "mdc": mdc,
        "underpowered": bool(underpowered),
        "seeds_suggested": suggested,
        "status": _status(worse, threshold, significant, underpowered),
    }


def compare_pairs(
    base: np.ndarray,
    new: np.ndarray,
    direction: int,
    threshold: float,
    alpha: float,
    rng: np.random.Generator,
    n_boot: int = DEFAULT_BOOTSTRAP,
) -> dict:
    """Statistics and status of one (key, x, metric), paired design: ``base[i]`` and
    ``new[i]`` (n,) are the values of one seed (pairs with a non-finite value are
    dropped). The columns of :func:`compare_samples`, with n_base = n_new = the pairs,
    p_wilcoxon in place of p_welch and p_mannwhitney (NaN) and the paired MDC; no pair
    gives status ``no-data``, underpowered."""
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples of different sizes {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    out = _empty(a, b)
    if not a.size:
        return {**out, "underpowered": True, "status": "no-data"}
    change = float(relative_change(np.float64(out["new_mean"]), np.float64(out["base_mean"])))
    lo, hi = relative_change_ci(a, b, rng, 1.0 - alpha, n_boot, paired=True)
    d = b - a
    p = wilcoxon_p(d)
    worse = direction * change + 0.0  # no -0.0
    sd_d = float(d.std(ddof=1)) if d.size > 1 else math.nan
    mdc = _mdc_relative(min_detectable_change_paired(sd_d, d.size, alpha), out["base_mean"])
    underpowered = not mdc <= threshold - 1.0 or min_wilcoxon_p(d.size) >= alpha
    if worse > threshold - 1.0 and min_wilcoxon_p(int(np.count_nonzero(d))) >= alpha:
        underpowered = True  # the zeros dropped leave too few pairs to test this change
    suggested = None
    if underpowered and d.size > 1:
        target = (threshold - 1.0) * abs(out["base_mean"])
        suggested = suggest_seeds(sd_d, math.nan, target, alpha, paired=True)
    significant = p < alpha  # False when p is NaN
    return {
        **out,
        "change": change,
        "change_lo": lo,
        "change_hi": hi,
        "worse_by": worse,
        "p_wilcoxon": p,
        "mdc": mdc,
        "underpowered": bool(underpowered),
        "seeds_suggested": suggested,
        "status": _status(worse, threshold, significant, underpowered),
    }
