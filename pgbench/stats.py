"""Statistics over replicate seeds, each with an explicit :class:`numpy.random.Generator`.

The right axis for intervals is the seed: each seed is an independent replicate
of a whole cell, so :func:`bootstrap_ci` resamples seeds, never the estimates
inside one seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

DEFAULT_BOOTSTRAP = 2000  # resamples
DEFAULT_LEVEL = 0.95


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
    from scipy.stats import trim_mean

    return trim_mean(np.asarray(values, dtype=np.float64), 0.25, axis=axis)
