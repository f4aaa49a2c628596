"""``pgbench compare BASE NEW``: the regression check of a run against a baseline run.

Pairing. By default (``--pair-by config``) rows are paired by *configuration*,
never by cell hash (the hash names the pgbench version): the key is (experiment,
env, env_params, policy, policy_params, theta_params, method, method_params,
x_name, x, metric), and the seeds are the replicates. Where one configuration
appears under several labels in a run (e.g. the same estimator listed twice with
different ``min_batch``), the labels (env, policy, theta, method) join the key
for that configuration. ``--pair-by label`` keys rows by their labels instead:
(experiment, env_label, policy_label, theta, method_label, x_name, x, metric),
so a method whose hyperparameters changed under the same label ("ppo" with lr
1e-4 in BASE, 1e-3 in NEW) is compared rather than reported missing and new;
each row names the parameter columns that differ (``params_changed``, NEW's
parameters shown). Labels are unique per suite axis, so they identify a row.

What is compared, per (key, x, metric):

* ``x_name`` batch_size (gradient-quality, game-estimators): every batch size;
* ``x_name`` env_steps (learning-curve) or iteration (two-agent): the last point
  of each seed (its largest x), reported as x = ``final``.

Statistics over seeds (NaN and infinite values left out; n counts the rest):
means m_b (BASE) and m_n (NEW); the relative change c = (m_n - m_b) / |m_b|
with a (1 - alpha) percentile bootstrap interval (2000 resamples, one explicit
Generator). Two designs:

* independent (default): the seeds of the two sides are independent samples;
  the bootstrap resamples each side on its own; the tests are Welch's t-test
  and the Mann-Whitney U test, two-sided (scipy.stats).
* paired (``--paired``), for two runs made side by side on one machine (e.g. the
  ``seconds`` of base and new code run alternately seed by seed): the values of
  one key are paired by seed; seeds present on one side only, and pairs with a
  non-finite value, are left out and counted in a warning; n (both n_base and
  n_new) is the number of pairs, the bootstrap resamples pairs, and the one test
  is the Wilcoxon signed-rank test (Wilcoxon 1945; scipy.stats.wilcoxon,
  two-sided) of the differences d = new - base. Zero differences are dropped
  (Wilcoxon's own treatment, ``zero_method="wilcox"``: a seed whose value did not
  move is evidence of neither direction); if every difference is 0, p = 1.

Power (Colas, Sigaud and Oudeyer 2018, "How many random seeds? Statistical
power analysis in deep reinforcement learning experiments", arXiv:1806.08295).
The minimum detectable change (MDC) of a row is the smallest |m_n - m_b| the
t-test would detect at two-sided alpha with power 0.8, from the observed spread:

* independent: (t[1 - alpha/2, v] + t[0.8, v]) * sqrt(s_b^2 / n_b + s_n^2 / n_n),
  s the seeds' standard deviations, v the Welch-Satterthwaite degrees of freedom;
* paired: (t[1 - alpha/2, n - 1] + t[0.8, n - 1]) * s_d / sqrt(n), s_d the
  standard deviation of the n differences;

reported as ``mdc`` = MDC / |m_b|, in the units of ``change`` (shown as +-12%).
It is the t-test's, a guide that is optimistic for the exact rank tests with few
seeds: in a simulation with normal noise (20000 draws), a true change of one MDC
was caught by Welch and Mann-Whitney together 61% of the time with 4 seeds per
side, 67% with 5, 74% with 10 and 76% with 20 (Welch alone 75% to 80%); by the
signed-rank test 62% of the time with 6 pairs, 77% with 10 or 30.

A row with values on both sides is *underpowered* iff it could not detect a
change of the threshold size: mdc > T - 1 (T below), or a side has fewer than 2
values (no spread, no MDC), or the rank test cannot reach alpha with these n:
Mann-Whitney's smallest p is 2 / C(n_b + n_n, n_b) (2 vs 2 seeds 0.33, 3 vs 3
0.1, 4 vs 4 0.029), the signed-rank test's 2 / 2^n for n pairs (5 pairs 0.0625,
6 pairs 0.031); a paired row also is where it got worse by more than T - 1 and
its non-zero differences are too few for the test to reach alpha. A paired row
with no common seed is ``no-data`` and underpowered. For an underpowered row,
``seeds_suggested`` is the smallest n per side (pairs, when paired) whose MDC
with the observed spreads is at most (T - 1) * |m_b| and with which the rank test
can reach alpha; null where no n would do (a base mean of 0, or T = 1, with
spread). With the independent design a row that is worse by more than T - 1
with Welch's p >= alpha is always underpowered (its MDC exceeds the change).

Verdict. Each metric has a direction (:data:`DIRECTIONS`); s = +1 where lower
is better, -1 where higher is better, and w = s * c is how much worse NEW is, as
a fraction of |m_b| (for returns, which may be negative, "25% worse" is a drop
of a quarter of the baseline's magnitude). A comparison is a

* ``regression`` (fails) iff w > T - 1 and the design's test is significant:
  independent, p_welch < alpha AND p_mw < alpha; paired, p_wilcoxon < alpha.
  T is the metric's threshold factor (1.25: 25% worse). Independent: both tests
  must agree, so a change carried by one or a few seeds (Welch alone) or a
  shift of ranks the means hardly show (Mann-Whitney alone) is not failed;
* ``underpowered`` (warns) iff w > T - 1, not significant, and the row is
  underpowered;
* ``worse`` iff w > T - 1, not significant, and the row could have detected it
  (passes; with the independent design: Welch fires, Mann-Whitney does not);
* ``improved`` / ``changed`` iff significant with w < 0 / within the threshold;
* ``ok`` otherwise;
* ``missing`` (fails) iff BASE has values and NEW has none (a method, batch
  size or metric that disappeared, or became NaN everywhere): in CI a missing
  method is a regression. ``--allow-missing`` turns these into warnings;
* ``new`` (NEW only) and ``no-data`` (no finite value on either side) pass.

A base mean of exactly 0 makes any worsening infinite: there significance decides.

``--strict`` fails every underpowered row as well, whatever its status (a check
that could not have seen a regression of the threshold size does not pass);
without it they are warnings. Missing rows fail in both modes.

Settings: the threshold factor, per-metric factors, alpha and the metrics come
from the ``compare:`` block of NEW's suite (:class:`pgbench.config.CompareSpec`,
read from ``metadata.json``), overridden by ``--threshold``, ``--alpha`` and
``--metrics``. The default metrics (:data:`DEFAULT_METRICS`) leave out
``seconds`` (machine dependent) and the sampled two-agent rewards (one batch).

Output: a table on stdout (rows with status ok are hidden when there are many;
``--all`` shows them), warnings on stderr, and a JSON verdict (default
``NEW/compare.json``), written before anything is printed. Exit code 0 pass,
1 regression, missing or (``--strict``) underpowered, 2 bad input, including a
verdict file that cannot be written.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.errors import PgbenchError
from pgbench.metrics import DEFAULT_COMPARED, DIRECTIONS, LOWER
from pgbench.results import METADATA, atomic_write_text, load_results
from pgbench.stats import DEFAULT_BOOTSTRAP, group_rng

DEFAULT_METRICS = DEFAULT_COMPARED
FINAL_X = frozenset({"env_steps", "iteration"})  # compared at each seed's last point
FINAL = -1  # x of a final-point comparison (shown as "final", null in JSON)
CONFIG = [
    "experiment",
    "env",
    "env_params",
    "policy",
    "policy_params",
    "theta_params",
    "method",
    "method_params",
]
LABELS = ["env_label", "policy_label", "theta", "method_label"]
PARAMS = ["env_params", "policy_params", "theta_params", "method_params"]
KEY = [*CONFIG, "variant", "x_name", "x", "metric"]  # --pair-by config
LABEL_KEY = ["experiment", *LABELS, "x_name", "x", "metric"]  # --pair-by label
PAIR_BY = ("config", "label")
POWER = 0.8  # of the minimum detectable change
MAX_SEEDS = 10**6  # beyond it, no seed count is suggested
FAILING = ("regression", "missing")
STATUS_ORDER = (
    "regression",
    "missing",
    "underpowered",
    "worse",
    "changed",
    "improved",
    "new",
    "no-data",
    "ok",
)
JSON_NAME = "compare.json"
SHOW_ALL_UP_TO = 60  # table rows; beyond, rows with status ok are hidden unless --all
RULE = (
    "regression iff worse_by > threshold - 1 and p_welch < alpha and p_mannwhitney < alpha, "
    "worse_by = s * (new_mean - base_mean) / |base_mean|, s = +1 lower-is-better, -1 "
    "higher-is-better; missing (values in BASE, none in NEW) fails unless allowed"
)
PAIRED_RULE = RULE.replace("p_welch < alpha and p_mannwhitney < alpha", "p_wilcoxon < alpha")
STRICT_RULE = "; underpowered (mdc > threshold - 1 or the test cannot reach alpha) fails"


class CompareError(PgbenchError):
    """Inputs ``pgbench compare`` cannot compare (no results, nothing in common, bad flags,
    a verdict file that cannot be written)."""


# ---------------------------------------------------------------- tests and power


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


def welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of Welch's unequal-variance t-test of ``a`` (n_a,) vs ``b`` (n_b,)
    (Welch 1947; the Welch-Satterthwaite degrees of freedom), as scipy's
    ``ttest_ind(equal_var=False)``; NaN if a side has < 2 values; for two constant
    samples 1 if they are equal, else 0."""
    from scipy.special import stdtr

    if a.size < 2 or b.size < 2:
        return math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = abs(float(b.mean() - a.mean()))
    if va + vb == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return float(min(1.0, 2.0 * stdtr(df, -t)))


def _mannwhitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value (scipy's exact method for small samples without
    ties, else the normal approximation); NaN if a side is empty."""
    from scipy.stats import mannwhitneyu

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
    from scipy.stats import wilcoxon

    if d.size < 1:
        return math.nan
    nonzero = d[d != 0.0]
    if not nonzero.size:
        return 1.0
    return float(wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided").pvalue)


def _t_sum(df: float, alpha: float, power: float) -> float:
    """t[1 - alpha/2, df] + t[power, df]: the distance, in standard errors, between no
    change and the change a two-sided t-test at ``alpha`` detects with ``power``."""
    from scipy.special import stdtrit

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


# ---------------------------------------------------------------- statistics of one pair


def _relative(new_mean: np.ndarray, base_mean: np.ndarray) -> np.ndarray:
    """(new - base) / |base|, elementwise; +-inf where base is 0 and they differ, 0 where
    both are 0."""
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
    (n_a = n_b, ``a[i]`` and ``b[i]`` one seed), the pairs are resampled."""
    ia = rng.integers(0, a.size, size=(n_boot, a.size))
    ib = ia if paired else rng.integers(0, b.size, size=(n_boot, b.size))
    boot = _relative(b[ib].mean(axis=1), a[ia].mean(axis=1))
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(boot, q) if np.any(~np.isnan(boot)) else (math.nan, math.nan)
    return float(lo), float(hi)


def _mdc_relative(mdc: float, base_mean: float) -> float:
    """MDC / |base mean|: 0 where the MDC is 0, inf where only the base mean is."""
    if math.isnan(mdc) or mdc == 0.0:
        return mdc
    return mdc / abs(base_mean) if base_mean != 0.0 else math.inf


def _status(worse: float, threshold: float, significant: bool, underpowered: bool) -> str:
    """The status of a compared row (module docstring)."""
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
    ``direction`` is :data:`LOWER` or :data:`HIGHER`. Returns n_base, n_new, base_mean,
    new_mean, change, change_lo, change_hi, worse_by, p_welch, p_mannwhitney, p_wilcoxon
    (NaN), mdc (relative), underpowered, seeds_suggested (None unless underpowered),
    status (see the module docstring for the rules)."""
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out = _empty(a, b)
    if not a.size or not b.size:
        status = "no-data" if not a.size and not b.size else ("new" if b.size else "missing")
        return {**out, "status": status}
    change = float(_relative(np.float64(out["new_mean"]), np.float64(out["base_mean"])))
    lo, hi = relative_change_ci(a, b, rng, 1.0 - alpha, n_boot)
    p_t, p_u = welch_p(a, b), _mannwhitney_p(a, b)
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
    change = float(_relative(np.float64(out["new_mean"]), np.float64(out["base_mean"])))
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


# ---------------------------------------------------------------- pairing tables


def key_columns(pair_by: str = "config") -> list[str]:
    """The columns that pair rows: :data:`KEY` (``config``) or :data:`LABEL_KEY` (``label``)."""
    if pair_by not in PAIR_BY:
        raise CompareError(f"--pair-by: {pair_by!r} is not one of {', '.join(PAIR_BY)}")
    return KEY if pair_by == "config" else LABEL_KEY


def _with_variant(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """``frames`` with a ``variant`` column: the joined labels where a configuration appears
    under more than one label tuple in some frame, else ``""``."""
    ambiguous = []
    for df in frames:
        labelled = df[CONFIG + LABELS].drop_duplicates()
        ambiguous.append(labelled[labelled.duplicated(CONFIG, keep=False)][CONFIG])
    flags = pd.concat(ambiguous).drop_duplicates().assign(_ambiguous=True)
    out = []
    for df in frames:
        marked = df.merge(flags, on=CONFIG, how="left")["_ambiguous"].eq(True).to_numpy()
        joined = df[LABELS[0]].astype(str)
        for column in LABELS[1:]:
            joined = joined + " / " + df[column].astype(str)
        out.append(df.assign(variant=np.where(marked, joined.to_numpy(), "")))
    return out


def replicates(
    df: pd.DataFrame, metrics: tuple[str, ...], side: str, key: list[str] = KEY
) -> pd.DataFrame:
    """One row per (``key``, seed) of ``df`` (a tidy table, with a ``variant`` column when
    ``key`` is :data:`KEY`), for ``metrics`` only; at x_names in :data:`FINAL_X` only each
    seed's last point, with x = :data:`FINAL`. ``side`` (BASE / NEW) names the table in
    errors."""
    df = df[df["metric"].isin(metrics)]
    final = df["x_name"].isin(FINAL_X)
    if final.any():
        series = [*(c for c in key if c != "x"), "seed"]
        last = df[final].groupby(series, sort=False)["x"].transform("max")
        ends = df[final][df[final]["x"] == last].assign(x=FINAL)
        df = pd.concat([df[~final], ends], ignore_index=True)
    dup = df.duplicated([*key, "seed"])
    if dup.any():
        row = df[dup].iloc[0]
        by = "configuration" if key == KEY else "labels"
        raise CompareError(
            f"{side} holds more than one row for {row['method_label']} on {row['env_label']}, "
            f"{row['metric']} at {row['x_name']}={row['x']}, seed {row['seed']} (paired by "
            f"{by}): not the table of one run"
        )
    return df


def _groups(rep: pd.DataFrame, key: list[str] = KEY) -> pd.DataFrame:
    """Per ``key``: the values and seeds (seed order), the labels and parameters not in
    the key (first row's), in table order."""
    rep = rep.sort_values("seed", kind="stable")
    info = [c for c in LABELS + PARAMS if c not in key]
    agg = {"values": ("value", list), "seeds": ("seed", list)}
    agg |= {c: (c, "first") for c in info}
    return rep.groupby(key, sort=False, dropna=False).agg(**agg)


def _pair(base: tuple[list, list], new: tuple[list, list]) -> tuple[np.ndarray, np.ndarray, int]:
    """The values of the seeds on both sides, as (base (n,), new (n,), unpaired), from
    (values, seeds) of each side; unpaired counts the values of seeds on one side only."""
    vb = dict(zip(base[1], base[0], strict=True))
    vn = dict(zip(new[1], new[0], strict=True))
    common = [s for s in vb if s in vn]
    a = np.array([vb[s] for s in common], dtype=np.float64)
    b = np.array([vn[s] for s in common], dtype=np.float64)
    return a, b, len(vb) + len(vn) - 2 * len(common)


# ---------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Settings:
    """Resolved settings: threshold factor T >= 1 (per metric overrides in ``thresholds``),
    significance level ``alpha``, compared ``metrics``, ``allow_missing``, the pairing
    (``pair_by`` config or label), the ``paired`` design and ``strict`` (underpowered
    rows fail)."""

    threshold: float = 1.25
    thresholds: dict[str, float] = field(default_factory=dict)
    alpha: float = 0.05
    metrics: tuple[str, ...] = DEFAULT_METRICS
    allow_missing: bool = False
    pair_by: str = "config"
    paired: bool = False
    strict: bool = False

    @classmethod
    def from_spec(cls, spec, allow_missing: bool = False, **flags) -> Settings:
        """From a :class:`pgbench.config.CompareSpec` (or None: the defaults); ``flags``
        (pair_by, paired, strict) as given."""
        if spec is None:
            return cls(allow_missing=allow_missing, **flags)
        return cls(
            threshold=spec.threshold,
            thresholds=dict(spec.thresholds),
            alpha=spec.alpha,
            metrics=spec.metrics or DEFAULT_METRICS,
            allow_missing=allow_missing,
            **flags,
        )

    def threshold_for(self, metric: str) -> float:
        return self.thresholds.get(metric, self.threshold)

    def as_json(self) -> dict:
        rule = PAIRED_RULE if self.paired else RULE
        return {
            "threshold": self.threshold,
            "thresholds": dict(self.thresholds),
            "alpha": self.alpha,
            "metrics": list(self.metrics),
            "allow_missing": self.allow_missing,
            "ci_level": 1.0 - self.alpha,
            "pair_by": self.pair_by,
            "paired": self.paired,
            "strict": self.strict,
            "power": POWER,
            "rule": rule + (STRICT_RULE if self.strict else ""),
        }


@dataclass
class Comparison:
    """The rows of a comparison (one per key, x and metric; columns of
    :func:`compare_samples` plus labels, params, direction and threshold), the settings
    and the warnings (one line each)."""

    rows: pd.DataFrame
    settings: Settings
    warnings: list[str]

    @property
    def failures(self) -> pd.DataFrame:
        """The failing rows, with a column ``failure``: the status, or ``underpowered``
        for a row that fails only because of ``--strict``."""
        fail = [s for s in FAILING if not (s == "missing" and self.settings.allow_missing)]
        failing = self.rows["status"].isin(fail)
        strict = self.rows["underpowered"].eq(True) & ~failing if self.settings.strict else False
        out = self.rows[failing | strict]
        return out.assign(failure=np.where(out["status"].isin(fail), out["status"], "underpowered"))

    @property
    def exit_code(self) -> int:
        return 1 if len(self.failures) else 0

    def counts(self) -> dict[str, int]:
        counts = self.rows["status"].value_counts()
        return {s: int(counts[s]) for s in STATUS_ORDER if s in counts}

    def verdict(self, base: str = "", new: str = "") -> dict:
        """The JSON verdict: pass / fail, settings, counts, failures, warnings, all rows."""
        return {
            "verdict": "fail" if self.exit_code else "pass",
            "exit_code": self.exit_code,
            "base": base,
            "new": new,
            "settings": self.settings.as_json(),
            "counts": self.counts(),
            "underpowered": int(self.rows["underpowered"].sum()),
            "failures": _records(self.failures),
            "warnings": list(self.warnings),
            "comparisons": _records(self.rows),
        }


def _records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready records: NaN / inf as null, x of final points as null."""

    def clean(value):
        if isinstance(value, (float, np.floating)):
            return float(value) if math.isfinite(value) else None
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.bool_):
            return bool(value)
        return None if value is pd.NA else value

    out = []
    for rec in df.to_dict("records"):
        rec = {k: clean(v) for k, v in rec.items()}
        if rec.get("x") == FINAL:
            rec["x"] = None
        out.append(rec)
    return out


def compare(
    base: pd.DataFrame,
    new: pd.DataFrame,
    settings: Settings | None = None,
    rng: np.random.Generator | None = None,
) -> Comparison:
    """Compare the tidy tables ``base`` and ``new`` (:mod:`pgbench.results`).

    One word is drawn from ``rng`` (default ``default_rng(0)``); each row's bootstrap
    uses :func:`~pgbench.stats.group_rng` of it and the row's key, so a row's interval
    does not depend on the other rows. Raises :class:`CompareError` when ``base`` has
    none of the metrics, the tables share no key, or (paired) no key shares a seed.
    """
    settings = settings or Settings()
    unknown = [m for m in settings.metrics if m not in DIRECTIONS]
    if unknown:
        raise CompareError(f"no direction known for metrics {unknown}")
    key_cols = key_columns(settings.pair_by)
    rng = rng if rng is not None else np.random.default_rng(0)
    word = int(rng.integers(0, 2**63))
    if key_cols == KEY:
        base, new = _with_variant([base, new])
    gb = _groups(replicates(base, settings.metrics, "BASE", key_cols), key_cols)
    gn = _groups(replicates(new, settings.metrics, "NEW", key_cols), key_cols)
    if gb.empty:
        raise CompareError("BASE has none of the compared metrics: " + ", ".join(settings.metrics))
    if not gb.index.intersection(gn.index).size:
        raise CompareError(
            f"BASE and NEW share no {_shared_what(key_cols)}; are they runs of the same suite?"
        )
    info = [c for c in gb.columns if c not in ("values", "seeds")]
    info_b, info_n = gb[info].to_dict("index"), gn[info].to_dict("index")
    seeds_b = dict(zip(gb.index, zip(gb["values"], gb["seeds"], strict=True), strict=True))
    seeds_n = dict(zip(gn.index, zip(gn["values"], gn["seeds"], strict=True), strict=True))
    keys = list(gb.index) + [k for k in gn.index if k not in info_b]
    records = []
    for key in keys:
        k = dict(zip(key_cols, key, strict=True))
        ib, inew = info_b.get(key), info_n.get(key)
        meta = {**(ib or {}), **(inew or {}), **k}  # NEW's labels and params first
        metric = k["metric"]
        args = (DIRECTIONS[metric], settings.threshold_for(metric), settings.alpha)
        row_rng = group_rng(word, tuple(str(v) for v in key))
        a, b = (np.asarray(s[key][0] if key in s else [], float) for s in (seeds_b, seeds_n))
        if settings.paired and np.isfinite(a).any() and np.isfinite(b).any():
            a, b, lost = _pair(seeds_b[key], seeds_n[key])
            stats = {**compare_pairs(a, b, *args, row_rng), "n_unpaired": lost}
        else:
            stats = compare_samples(a, b, *args, row_rng)
            stats["n_unpaired"] = 0 if settings.paired else None
        changed = [c for c in PARAMS if ib and inew and c in ib and ib[c] != inew[c]]
        records.append(
            {
                "experiment": k["experiment"],
                "env": meta["env_label"],
                "policy": meta["policy_label"],
                "theta": meta["theta"],
                "method": meta["method_label"],
                "x_name": k["x_name"],
                "x": int(k["x"]),
                "metric": metric,
                "direction": "lower" if DIRECTIONS[metric] == LOWER else "higher",
                "threshold": settings.threshold_for(metric),
                **stats,
                **{c: meta[c] for c in PARAMS},
                "params_changed": changed,
            }
        )
    rows = pd.DataFrame.from_records(records)
    rows = rows.astype({"seeds_suggested": "Int64", "n_unpaired": "Int64"})
    pairless = rows["status"].eq("no-data") & rows["underpowered"]
    if settings.paired and pairless.any() and not (rows["n_new"] > 0).any():
        raise CompareError("--paired: BASE and NEW share no seed of any comparison")
    return Comparison(rows, settings, _warnings(rows, base, new, settings))


def _shared_what(key_cols: list[str]) -> str:
    if key_cols == KEY:
        return "configuration (env, policy, method, params, x, metric)"
    return "labels (env, policy, theta, method, x, metric)"


def _warnings(
    rows: pd.DataFrame, base: pd.DataFrame, new: pd.DataFrame, settings: Settings
) -> list[str]:
    """One line per problem the reader should know about (none of them fails the check,
    but underpowered rows fail with ``--strict``)."""
    out = []
    alpha = settings.alpha
    tested = rows[(rows["n_base"] > 0) & (rows["n_new"] > 0)]
    blind = _blind_sizes(tested, alpha, settings.paired)
    if blind:
        count = int(sum(_of_size(tested, nb, nn).sum() for nb, nn in blind))
        if settings.paired:
            sizes = ", ".join(f"{n} pairs (smallest p {min_wilcoxon_p(n):.2g})" for n, _ in blind)
            test, need = "signed-rank test", f"{pairs_needed(alpha)} seeds on both sides"
        else:
            sizes = ", ".join(
                f"{nb} vs {nn} (smallest p {min_mannwhitney_p(nb, nn):.2g})" for nb, nn in blind
            )
            test, need = "test", f"{seeds_needed(alpha)} seeds on each side"
        out.append(
            f"too few seeds for the {test} to ever fire at alpha {alpha:g}: {sizes}; "
            f"{count} of {len(tested)} comparisons can never fail; use at least {need}"
        )
    under = rows[rows["status"] == "underpowered"]
    if len(under):
        out.append(
            f"{len(under)} changes worse than the threshold could not be tested (too few "
            "seeds for their spread): "
            + "; ".join(_describe(r) for r in under.head(5).to_dict("records"))
            + (" ..." if len(under) > 5 else "")
        )
    weak = rows[rows["underpowered"].eq(True)]
    if len(weak):
        out.append(
            f"{len(weak)} of {len(tested)} comparisons are underpowered: they could not detect "
            f"a change of the threshold size at alpha {alpha:g} with power {POWER:g} "
            "(minimum detectable change above threshold - 1, or a test that cannot reach "
            "alpha): "
            + "; ".join(
                _describe_power(r, settings.paired) for r in weak.head(5).to_dict("records")
            )
            + (" ..." if len(weak) > 5 else "")
            + ("; failed (--strict)" if settings.strict else "; --strict fails them")
        )
    if settings.paired:
        lost = int(rows["n_unpaired"].fillna(0).sum())
        if lost:
            count = int((rows["n_unpaired"] > 0).sum())
            out.append(
                f"--paired: {lost} values of {count} comparisons have no partner (the same "
                "comparison and seed on the other side) and were left out"
            )
    fewer = rows[(rows["n_new"] > 0) & (rows["n_new"] < rows["n_base"])]
    if len(fewer):
        out.append(
            f"{len(fewer)} comparisons have fewer seeds with finite values in NEW than in "
            "BASE (failed cells? see NEW's failures.jsonl)"
        )
    differ = rows[rows["params_changed"].map(len) > 0]
    if len(differ):
        names = dict.fromkeys(
            f"{r['method']} ({', '.join(r['params_changed'])})" for r in differ.to_dict("records")
        )
        out.append(
            f"{len(differ)} comparisons pair rows whose parameters differ (--pair-by label): "
            + ", ".join(list(names)[:5])
            + (" ..." if len(names) > 5 else "")
        )
    missing = rows[rows["status"] == "missing"]
    if len(missing) and settings.allow_missing:
        out.append(f"{len(missing)} comparisons are missing from NEW (allowed)")
    if settings.metrics != DEFAULT_METRICS:  # asked for by name: say which are absent
        present = set(base["metric"]) | set(new["metric"])
        absent = [m for m in settings.metrics if m not in present]
        if absent:
            out.append("metrics in neither BASE nor NEW: " + ", ".join(absent))
    added = rows[rows["status"] == "new"]
    if len(added):
        out.append(f"{len(added)} comparisons are in NEW only (not checked)")
    return out


def _blind_sizes(tested: pd.DataFrame, alpha: float, paired: bool) -> list[tuple[int, int]]:
    """The (n_base, n_new) of ``tested`` with which the rank test can never reach alpha."""
    sizes = sorted(set(zip(tested["n_base"], tested["n_new"], strict=True)))
    if paired:
        return [(nb, nn) for nb, nn in sizes if min_wilcoxon_p(nb) >= alpha]
    return [(nb, nn) for nb, nn in sizes if min(nb, nn) < 2 or min_mannwhitney_p(nb, nn) >= alpha]


def _of_size(rows: pd.DataFrame, n_base: int, n_new: int) -> pd.Series:
    return (rows["n_base"] == n_base) & (rows["n_new"] == n_new)


def _x_text(x_name: str, x: int) -> str:
    return "final" if x == FINAL else f"{x}"


def _describe(r: dict) -> str:
    where = " / ".join(p for p in (r["env"], r["policy"], r["theta"], r["method"]) if p)
    return f"{where} {r['metric']} at {r['x_name']} {_x_text(r['x_name'], r['x'])}"


def _describe_power(r: dict, paired: bool) -> str:
    """``_describe`` with the MDC and the suggested seed count."""
    n = r["seeds_suggested"]
    unit = "pairs" if paired else "seeds per side"
    need = f"needs {int(n)} {unit}" if _is_count(n) else "no seed count suffices"
    return f"{_describe(r)} (MDC {_mdc_text(r['mdc'])}, {need})"


def _is_count(n) -> bool:
    return n is not None and not (isinstance(n, float) and math.isnan(n))


# ---------------------------------------------------------------- settings and inputs


def suite_spec(run_dir: str | Path):
    """The :class:`pgbench.config.CompareSpec` of the ``compare:`` block of the suite stored
    in ``run_dir/metadata.json``; None where there is no metadata, suite text or block."""
    import yaml
    from pydantic import ValidationError

    from pgbench.config import CompareSpec

    meta = Path(run_dir) / METADATA
    if not meta.is_file():
        return None
    try:
        text = (json.loads(meta.read_text(encoding="utf-8")).get("suite") or {}).get("text")
        data = yaml.safe_load(text) if text else None
    except (ValueError, AttributeError, yaml.YAMLError, UnicodeDecodeError):
        raise CompareError(f"{meta}: not a pgbench metadata file with a readable suite") from None
    block = data.get("compare") if isinstance(data, dict) else None
    if block is None:
        return None
    try:
        return CompareSpec.model_validate(block)
    except ValidationError as exc:
        raise CompareError(f"{meta}: suite key compare: {_pydantic_line(exc)}") from None


def _pydantic_line(exc) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CompareError(f"{flag}: not a number: {text!r}") from None


def resolve_settings(
    spec,
    threshold: list[str] | None = None,
    alpha: str | None = None,
    metrics: str | None = None,
    allow_missing: bool = False,
    pair_by: str | None = None,
    paired: bool = False,
    strict: bool = False,
) -> Settings:
    """Settings from the suite's ``spec`` (CompareSpec or None) overridden by the command
    line: ``threshold`` items ``FACTOR`` or ``METRIC=FACTOR``, ``alpha``, ``metrics``
    (comma-separated names), ``pair_by`` (None: the suite's, else config), ``paired``,
    ``strict`` (or the suite's). Invalid values raise :class:`CompareError` (one line)."""
    from pydantic import ValidationError

    from pgbench.config import CompareSpec

    data = spec.model_dump() if spec is not None else {}
    thresholds = dict(data.get("thresholds") or {})
    flag = "--threshold"
    for item in threshold or []:
        if "=" in item:
            name, _, value = item.partition("=")
            thresholds[name.strip()] = _number(value, flag)
        else:
            data["threshold"] = _number(item, flag)
    data["thresholds"] = thresholds
    if alpha is not None:
        data["alpha"] = _number(alpha, "--alpha")
    if metrics is not None:
        data["metrics"] = [m.strip() for m in metrics.split(",") if m.strip()]
        if not data["metrics"]:
            raise CompareError(f"--metrics: no metric named in {metrics!r}")
    try:
        resolved = CompareSpec.model_validate(data)
    except ValidationError as exc:
        raise CompareError(_flag_error(exc.errors()[0], data.get("metrics") or [])) from None
    pair_by = pair_by or getattr(resolved, "pair_by", None) or "config"
    key_columns(pair_by)  # validates it
    strict = strict or bool(getattr(resolved, "strict", False))  # a suite may ask for it
    return Settings.from_spec(
        resolved, allow_missing, pair_by=pair_by, paired=paired, strict=strict
    )


def _flag_error(err: dict, metrics: list[str]) -> str:
    """One line naming the command-line flag (and metric) of a CompareSpec error ``err``."""
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "pgbench":  # a per-metric threshold naming an unknown metric
        return f"--threshold: {msg}"
    field, rest = str(err["loc"][0]), err["loc"][1:]
    if field == "metrics" and rest:
        return f"--metrics {metrics[int(rest[0])]!r}: {msg}"
    if field == "thresholds" and rest:
        return f"--threshold {rest[0]}: {msg}"
    return f"--{field}: {msg}"


def load_side(path: Path, side: str) -> pd.DataFrame:
    """The tidy table at ``path`` (run directory or Parquet file); :class:`CompareError`
    (one line) where there is none."""
    import pyarrow as pa

    from pgbench.results import ResultsError

    try:
        table = load_results(path)
    except ResultsError as exc:
        raise CompareError(f"{side}: {exc}") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        raise CompareError(
            f"{side}: cannot read results at {path}: {first[0] if first else type(exc).__name__}"
        ) from None
    if table.empty:
        raise CompareError(f"{side}: no results at {path}")
    return table


def default_json_path(new: Path) -> Path:
    """``NEW/compare.json``, or next to NEW where NEW is a Parquet file."""
    new = Path(new)
    return new / JSON_NAME if new.is_dir() else new.parent / JSON_NAME


# ---------------------------------------------------------------- output


_STYLE = {
    "regression": "bold red",
    "missing": "red",
    "underpowered": "yellow",
    "worse": "yellow",
    "changed": "cyan",
    "improved": "green",
    "new": "cyan",
    "no-data": "dim",
    "ok": "dim",
}


def _num(v: float) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.4g}"


def _pct(v: float) -> str:
    if v is None or math.isnan(v):
        return "-"
    return f"{'+' if v > 0 else '-'}inf" if math.isinf(v) else f"{v:+.1%}"


def _mdc_text(v: float) -> str:
    """A relative MDC as ``+-12%`` (``+-inf``, ``-`` where undefined)."""
    if v is None or math.isnan(v):
        return "-"
    return "+-inf" if math.isinf(v) else f"+-{v:.0%}" if v >= 0.1 else f"+-{v:.1%}"


def table(comparison: Comparison, show_all: bool = False):
    """A :class:`rich.table.Table` of the comparison's rows (rows with status ok hidden when
    there are more than :data:`SHOW_ALL_UP_TO` unless ``show_all``); (table, hidden)."""
    from rich.table import Table

    rows = comparison.rows
    hidden = 0
    if not show_all and len(rows) > SHOW_ALL_UP_TO:
        keep = rows["status"] != "ok"
        hidden = int((~keep).sum())
        rows = rows[keep]
    paired = comparison.settings.paired
    level = 1.0 - comparison.settings.alpha
    out = Table()
    out.add_column("env / policy / theta", overflow="fold")
    out.add_column("method", overflow="fold")
    out.add_column("x", justify="right", no_wrap=True)
    out.add_column("metric", no_wrap=True)
    tests = ("p Wilcoxon",) if paired else ("p Welch", "p MW")
    for head in ("pairs" if paired else "n", "base", "new", "change", f"{level:.0%} CI", *tests):
        out.add_column(head, justify="right", no_wrap=True)
    out.add_column("MDC", justify="right", no_wrap=True)
    out.add_column("seeds?", justify="right", no_wrap=True)
    out.add_column("status", no_wrap=True)
    for r in rows.to_dict("records"):
        where = " / ".join(p for p in (r["env"], r["policy"], r["theta"]) if p)
        arrow = "v" if r["direction"] == "lower" else "^"
        p_values = (r["p_wilcoxon"],) if paired else (r["p_welch"], r["p_mannwhitney"])
        weak = r["underpowered"] is True
        out.add_row(
            where,
            r["method"],
            _x_text(r["x_name"], r["x"]),
            f"{r['metric']} {arrow}",
            f"{r['n_base']}" if paired else f"{r['n_base']}/{r['n_new']}",
            _num(r["base_mean"]),
            _num(r["new_mean"]),
            _pct(r["change"]),
            f"[{_pct(r['change_lo'])}, {_pct(r['change_hi'])}]"
            if math.isfinite(r["change_lo"]) or math.isfinite(r["change_hi"])
            else "-",
            *(_num(p) for p in p_values),
            f"[yellow]{_mdc_text(r['mdc'])}[/]" if weak else _mdc_text(r["mdc"]),
            f"{int(r['seeds_suggested'])}" if weak and _is_count(r["seeds_suggested"]) else "",
            f"[{_STYLE[r['status']]}]{r['status']}[/]",
        )
    return out, hidden


def summary_line(comparison: Comparison) -> str:
    """``PASS`` / ``FAIL`` with the counts and the settings, one line."""
    s = comparison.settings
    counts = ", ".join(f"{n} {status}" for status, n in comparison.counts().items())
    per_metric = "".join(f", {m} {t:g}" for m, t in s.thresholds.items())
    verdict = "FAIL" if comparison.exit_code else "PASS"
    tests = "paired Wilcoxon signed-rank" if s.paired else "both Welch and Mann-Whitney"
    weak = int(comparison.rows["underpowered"].sum())
    extra = f"; {weak} underpowered" + (" (--strict: failed)" if s.strict else "") if weak else ""
    by = ", paired by label" if s.pair_by == "label" else ""
    return (
        f"{verdict}: {len(comparison.rows)} comparisons ({counts}){extra}; threshold "
        f"{s.threshold:g}{per_metric}, alpha {s.alpha:g}, {tests}{by}"
    )


def failure_lines(failures: pd.DataFrame) -> list[str]:
    """One line per (failure, env / policy / theta / method, x_name) of the failing rows
    (:attr:`Comparison.failures`), naming the metrics and x values, e.g. ``regression:
    garnet / ... / reinforce: mse at batch_size 16, 64``."""
    lines = []
    failures = failures if "failure" in failures else failures.assign(failure=failures["status"])
    keys = ["failure", "env", "policy", "theta", "method", "x_name"]
    for key, part in failures.groupby(keys, sort=False):
        r = dict(zip(keys, key, strict=True))
        where = " / ".join(p for p in (r["env"], r["policy"], r["theta"], r["method"]) if p)
        metrics = ", ".join(dict.fromkeys(part["metric"]))
        xs = ", ".join(dict.fromkeys(_x_text(r["x_name"], x) for x in part["x"]))
        lines.append(f"{r['failure']}: {where}: {metrics} at {r['x_name']} {xs}")
    return lines


def report(comparison: Comparison, out, err, show_all: bool = False) -> None:
    """Print the table and summary to the rich console ``out``, warnings to ``err``."""
    tab, hidden = table(comparison, show_all)
    out.print(tab)
    if hidden:
        out.print(f"{hidden} comparisons with status ok not shown (--all shows them)")
    for line in failure_lines(comparison.failures):
        out.print(line, soft_wrap=True, markup=False)
    for line in comparison.warnings:
        err.print(f"pgbench: warning: {line}", soft_wrap=True, markup=False, highlight=False)
    style = "bold red" if comparison.exit_code else "bold green"
    out.print(f"[{style}]{summary_line(comparison)}[/]", soft_wrap=True)


# ---------------------------------------------------------------- command line


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``compare`` subcommand on ``subparsers`` (argparse); returns its parser."""
    p = subparsers.add_parser(
        "compare",
        help="compare a run against a baseline run (CI regression check)",
        description="Pair the results of BASE and NEW by configuration (or label) and seed; "
        "fail (exit 1) where a metric got worse than the threshold factor and both Welch's "
        "t-test and the Mann-Whitney U test (--paired: the Wilcoxon signed-rank test) call it "
        "significant, where NEW lacks results BASE has, or (--strict) where the seeds could "
        "not detect a change of the threshold size. Exit 2: bad input.",
    )
    p.add_argument("base", type=Path, help="baseline run directory (or Parquet file)")
    p.add_argument("new", type=Path, help="new run directory (or Parquet file)")
    p.add_argument(
        "--threshold",
        action="append",
        metavar="[METRIC=]FACTOR",
        default=None,
        help="fail when a metric is worse by this factor (default 1.25, i.e. 25%%; "
        "METRIC=FACTOR for one metric; repeatable)",
    )
    p.add_argument("--alpha", default=None, help="significance level of the tests (0.05)")
    p.add_argument(
        "--metrics",
        default=None,
        metavar="M1,M2",
        help="metrics to compare (default: every metric with a direction but seconds)",
    )
    p.add_argument(
        "--pair-by",
        choices=PAIR_BY,
        default=None,
        help="pair rows by configuration (parameters; the default) or by label (env, "
        "policy, theta and method labels: compares a method whose parameters changed)",
    )
    p.add_argument(
        "--paired",
        action="store_true",
        help="pair the values by seed and use the Wilcoxon signed-rank test (runs made side "
        "by side, e.g. --metrics seconds)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail rows whose seeds could not detect a change of the threshold size",
    )
    p.add_argument("--json", type=Path, default=None, help="verdict file (NEW/compare.json)")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="warn instead of failing when NEW lacks results BASE has",
    )
    p.add_argument("--all", action="store_true", help="show every row of the table")
    return p


def write_verdict(path: Path, verdict: dict) -> None:
    """Write the JSON ``verdict`` to ``path`` atomically; :class:`CompareError` (one line,
    exit 2) where it cannot be written."""
    try:
        atomic_write_text(path, json.dumps(verdict, indent=2) + "\n")
    except OSError as exc:
        raise CompareError(
            f"--json: cannot write the verdict to {path}: {exc.strerror or exc}"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Execute ``pgbench compare`` for parsed ``args``; returns the exit code (0 pass,
    1 regression, missing or --strict underpowered). Bad input, including a verdict file
    that cannot be written, raises :class:`CompareError` (exit 2)."""
    from rich.console import Console

    base = load_side(args.base, "BASE")
    new = load_side(args.new, "NEW")
    spec = suite_spec(args.new) if Path(args.new).is_dir() else None
    settings = resolve_settings(
        spec,
        args.threshold,
        args.alpha,
        args.metrics,
        args.allow_missing,
        pair_by=getattr(args, "pair_by", None),
        paired=getattr(args, "paired", False),
        strict=getattr(args, "strict", False),
    )
    comparison = compare(base, new, settings)
    path = args.json or default_json_path(args.new)
    write_verdict(path, comparison.verdict(str(args.base), str(args.new)))

    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=200)
    report(comparison, out, Console(stderr=True, highlight=False), args.all)
    out.print(f"verdict: {path}", soft_wrap=True)
    return comparison.exit_code
