"""``pgbench compare BASE NEW``: the regression check of a run against a baseline run.

Pairing. Rows are paired by *configuration*, never by cell hash (the hash names
the pgbench version): the key is (experiment, env, env_params, policy,
policy_params, theta_params, method, method_params, x_name, x, metric), and the
seeds are the replicates. Where one configuration appears under several labels
in a run (e.g. the same estimator listed twice with different ``min_batch``),
the labels (env, policy, theta, method) join the key for that configuration.

What is compared, per (configuration, x, metric):

* ``x_name`` batch_size (gradient-quality, game-estimators): every batch size;
* ``x_name`` env_steps (learning-curve) or iteration (two-agent): the last point
  of each seed (its largest x), reported as x = ``final``.

Statistics over seeds (NaN and infinite values left out; n counts the rest):
means m_b (BASE) and m_n (NEW); the relative change c = (m_n - m_b) / |m_b|
with a (1 - alpha) percentile bootstrap interval (seeds of both sides resampled
independently, 2000 resamples, one explicit Generator); two-sided p-values of
Welch's t-test and of the Mann-Whitney U test (scipy.stats).

Verdict. Each metric has a direction (:data:`DIRECTIONS`); s = +1 where lower
is better, -1 where higher is better, and w = s * c is how much worse NEW is, as
a fraction of |m_b| (for returns, which may be negative, "25% worse" is a drop
of a quarter of the baseline's magnitude). A comparison is a

* ``regression`` (fails) iff w > T - 1 AND p_welch < alpha AND p_mw < alpha,
  T the metric's threshold factor (1.25: 25% worse). Both tests must agree,
  so a change carried by one or a few seeds (Welch alone) or a shift of ranks
  the means hardly show (Mann-Whitney alone) is reported as ``worse``, not failed.
* ``underpowered`` (warns, never fails) iff w > T - 1 but a side has fewer than
  2 values or the smallest p Mann-Whitney can reach with these n,
  2 / C(n_b + n_n, n_b), is not below alpha (2 vs 2 seeds: 0.33; 3 vs 3: 0.1);
* ``worse`` iff w > T - 1 and not significant (passes);
* ``improved`` / ``changed`` iff significant with w < 0 / within the threshold;
* ``ok`` otherwise;
* ``missing`` (fails) iff BASE has values and NEW has none (a method, batch
  size or metric that disappeared, or became NaN everywhere): in CI a missing
  method is a regression. ``--allow-missing`` turns these into warnings;
* ``new`` (NEW only) and ``no-data`` (no finite value on either side) pass.

A base mean of exactly 0 makes any worsening infinite: there significance decides.

Settings: the threshold factor, per-metric factors, alpha and the metrics come
from the ``compare:`` block of NEW's suite (:class:`pgbench.config.CompareSpec`,
read from ``metadata.json``), overridden by ``--threshold``, ``--alpha`` and
``--metrics``. The default metrics (:data:`DEFAULT_METRICS`) leave out
``seconds`` (machine dependent) and the sampled two-agent rewards (one batch).

Output: a table on stdout (rows with status ok are hidden when there are many;
``--all`` shows them), warnings on stderr, and a JSON verdict (default
``NEW/compare.json``). Exit code 0 pass, 1 regression or missing, 2 bad input.
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
from pgbench.results import METADATA, atomic_write_text, load_results
from pgbench.stats import DEFAULT_BOOTSTRAP, group_rng

LOWER, HIGHER = 1, -1  # sign s of "worse": lower is better / higher is better
DIRECTIONS: dict[str, int] = {
    # gradient quality (pgbench.experiments.gradient_quality)
    "mse": LOWER,
    "trace_cov": LOWER,
    "bias_norm": LOWER,
    "cosine": HIGHER,
    "snr": HIGHER,
    # game estimators (pgbench.experiments.two_agent)
    "rel_error": LOWER,
    "correlation": HIGHER,
    # learning curves (pgbench.algorithms.trainer)
    "eval_return": HIGHER,
    "train_return": HIGHER,
    "exact_value": HIGHER,
    # two-agent games: exact and played per-step reward of each agent
    "reward_1": HIGHER,
    "reward_2": HIGHER,
    "sampled_reward_1": HIGHER,
    "sampled_reward_2": HIGHER,
    # wall time: machine dependent, compared only when asked for
    "seconds": LOWER,
}
DEFAULT_METRICS: tuple[str, ...] = tuple(
    m for m in DIRECTIONS if m not in ("seconds", "sampled_reward_1", "sampled_reward_2")
)
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
KEY = [*CONFIG, "variant", "x_name", "x", "metric"]
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


class CompareError(PgbenchError):
    """Inputs ``pgbench compare`` cannot compare (no results, nothing in common, bad flags)."""


# ---------------------------------------------------------------- statistics of one pair


def min_mannwhitney_p(n1: int, n2: int) -> float:
    """Smallest two-sided p-value the exact Mann-Whitney U test can give with samples of
    sizes n1 and n2 (no ties): 2 / C(n1 + n2, n1), capped at 1 (1 if a sample is empty)."""
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def seeds_needed(alpha: float) -> int:
    """Smallest n such that n vs n seeds let Mann-Whitney reach p < ``alpha``."""
    n = 1
    while min_mannwhitney_p(n, n) >= alpha:
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


def _relative(new_mean: np.ndarray, base_mean: np.ndarray) -> np.ndarray:
    """(new - base) / |base|, elementwise; +-inf where base is 0 and they differ, 0 where
    both are 0."""
    diff = np.asarray(new_mean - base_mean, dtype=np.float64)
    scale = np.abs(base_mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = diff / scale
    return np.where(diff == 0.0, 0.0, out)


def relative_change_ci(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, level: float, n_boot: int
) -> tuple[float, float]:
    """Percentile bootstrap interval (lo, hi) at ``level`` of (mean(b) - mean(a)) / |mean(a)|
    for base values ``a`` (n_a,) and new values ``b`` (n_b,), each side's seeds resampled
    with replacement independently (``n_boot`` resamples from ``rng``)."""
    ma = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
    mb = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1)
    boot = _relative(mb, ma)
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(boot, q) if np.any(~np.isnan(boot)) else (math.nan, math.nan)
    return float(lo), float(hi)


def compare_samples(
    base: np.ndarray,
    new: np.ndarray,
    direction: int,
    threshold: float,
    alpha: float,
    rng: np.random.Generator,
    n_boot: int = DEFAULT_BOOTSTRAP,
) -> dict:
    """Statistics and status of one (configuration, x, metric): ``base`` (n_b,) and ``new``
    (n_n,) hold one value per seed (non-finite ones are dropped); ``direction`` is
    :data:`LOWER` or :data:`HIGHER`. Returns n_base, n_new, base_mean, new_mean, change,
    change_lo, change_hi, worse_by, p_welch, p_mannwhitney, status (see the module
    docstring for the rule)."""
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out = {
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
    }
    if not a.size or not b.size:
        status = "no-data" if not a.size and not b.size else ("new" if b.size else "missing")
        return {**out, "status": status}
    change = float(_relative(np.float64(out["new_mean"]), np.float64(out["base_mean"])))
    lo, hi = relative_change_ci(a, b, rng, 1.0 - alpha, n_boot)
    p_t, p_u = welch_p(a, b), _mannwhitney_p(a, b)
    worse = direction * change + 0.0  # no -0.0
    significant = p_t < alpha and p_u < alpha  # False when a p-value is NaN
    underpowered = min(a.size, b.size) < 2 or min_mannwhitney_p(a.size, b.size) >= alpha
    if worse > threshold - 1.0:
        status = "underpowered" if underpowered else ("regression" if significant else "worse")
    elif significant:
        status = "improved" if worse < 0 else "changed"
    else:
        status = "ok"
    return {
        **out,
        "change": change,
        "change_lo": lo,
        "change_hi": hi,
        "worse_by": worse,
        "p_welch": p_t,
        "p_mannwhitney": p_u,
        "status": status,
    }


# ---------------------------------------------------------------- pairing tables


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


def replicates(df: pd.DataFrame, metrics: tuple[str, ...], side: str) -> pd.DataFrame:
    """One row per (:data:`KEY`, seed) of ``df`` (a tidy table with a ``variant`` column),
    for ``metrics`` only; at x_names in :data:`FINAL_X` only each seed's last point, with
    x = :data:`FINAL`. ``side`` (BASE / NEW) names the table in errors."""
    df = df[df["metric"].isin(metrics)]
    final = df["x_name"].isin(FINAL_X)
    if final.any():
        series = [*CONFIG, "variant", "x_name", "metric", "seed"]
        last = df[final].groupby(series, sort=False)["x"].transform("max")
        ends = df[final][df[final]["x"] == last].assign(x=FINAL)
        df = pd.concat([df[~final], ends], ignore_index=True)
    dup = df.duplicated([*KEY, "seed"])
    if dup.any():
        row = df[dup].iloc[0]
        raise CompareError(
            f"{side} holds more than one row for {row['method_label']} on {row['env_label']}, "
            f"{row['metric']} at {row['x_name']}={row['x']}, seed {row['seed']}: "
            "not the table of one run"
        )
    return df


def _groups(rep: pd.DataFrame) -> pd.DataFrame:
    """Per :data:`KEY`: the values (seed order) and the labels, in table order."""
    rep = rep.sort_values("seed", kind="stable")
    agg = {"values": ("value", list), **{c: (c, "first") for c in LABELS}}
    return rep.groupby(KEY, sort=False, dropna=False).agg(**agg)


# ---------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Settings:
    """Resolved settings: threshold factor T >= 1 (per metric overrides in ``thresholds``),
    significance level ``alpha``, compared ``metrics``, ``allow_missing``."""

    threshold: float = 1.25
    thresholds: dict[str, float] = field(default_factory=dict)
    alpha: float = 0.05
    metrics: tuple[str, ...] = DEFAULT_METRICS
    allow_missing: bool = False

    @classmethod
    def from_spec(cls, spec, allow_missing: bool = False) -> Settings:
        """From a :class:`pgbench.config.CompareSpec` (or None: the defaults)."""
        if spec is None:
            return cls(allow_missing=allow_missing)
        return cls(
            threshold=spec.threshold,
            thresholds=dict(spec.thresholds),
            alpha=spec.alpha,
            metrics=spec.metrics or DEFAULT_METRICS,
            allow_missing=allow_missing,
        )

    def threshold_for(self, metric: str) -> float:
        return self.thresholds.get(metric, self.threshold)

    def as_json(self) -> dict:
        return {
            "threshold": self.threshold,
            "thresholds": dict(self.thresholds),
            "alpha": self.alpha,
            "metrics": list(self.metrics),
            "allow_missing": self.allow_missing,
            "ci_level": 1.0 - self.alpha,
            "rule": RULE,
        }


@dataclass
class Comparison:
    """The rows of a comparison (one per configuration, x and metric; columns of
    :func:`compare_samples` plus labels, params, direction and threshold), the settings
    and the warnings (one line each)."""

    rows: pd.DataFrame
    settings: Settings
    warnings: list[str]

    @property
    def failures(self) -> pd.DataFrame:
        fail = [s for s in FAILING if not (s == "missing" and self.settings.allow_missing)]
        return self.rows[self.rows["status"].isin(fail)]

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
        return value

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
    none of the metrics or the tables share no configuration.
    """
    settings = settings or Settings()
    unknown = [m for m in settings.metrics if m not in DIRECTIONS]
    if unknown:
        raise CompareError(f"no direction known for metrics {unknown}")
    rng = rng if rng is not None else np.random.default_rng(0)
    word = int(rng.integers(0, 2**63))
    base, new = _with_variant([base, new])
    gb = _groups(replicates(base, settings.metrics, "BASE"))
    gn = _groups(replicates(new, settings.metrics, "NEW"))
    if gb.empty:
        raise CompareError("BASE has none of the compared metrics: " + ", ".join(settings.metrics))
    if not gb.index.intersection(gn.index).size:
        raise CompareError(
            "BASE and NEW share no configuration (env, policy, method, params, x, metric); "
            "are they runs of the same suite?"
        )
    base_values = dict(zip(gb.index, gb["values"], strict=True))
    new_values = dict(zip(gn.index, gn["values"], strict=True))
    labels_of = {**gb[LABELS].to_dict("index"), **gn[LABELS].to_dict("index")}  # NEW's first
    keys = list(gb.index) + [k for k in gn.index if k not in base_values]
    records = []
    for key in keys:
        labels = labels_of[key]
        a = np.asarray(base_values.get(key, []), dtype=np.float64)
        b = np.asarray(new_values.get(key, []), dtype=np.float64)
        k = dict(zip(KEY, key, strict=True))
        metric = k["metric"]
        stats = compare_samples(
            a,
            b,
            DIRECTIONS[metric],
            settings.threshold_for(metric),
            settings.alpha,
            group_rng(word, tuple(str(v) for v in key)),
        )
        records.append(
            {
                "experiment": k["experiment"],
                "env": labels["env_label"],
                "policy": labels["policy_label"],
                "theta": labels["theta"],
                "method": labels["method_label"],
                "x_name": k["x_name"],
                "x": int(k["x"]),
                "metric": metric,
                "direction": "lower" if DIRECTIONS[metric] == LOWER else "higher",
                "threshold": settings.threshold_for(metric),
                **stats,
                **{c: k[c] for c in ("env_params", "policy_params", "theta_params")},
                "method_params": k["method_params"],
            }
        )
    rows = pd.DataFrame.from_records(records)
    return Comparison(rows, settings, _warnings(rows, base, new, settings))


def _warnings(
    rows: pd.DataFrame, base: pd.DataFrame, new: pd.DataFrame, settings: Settings
) -> list[str]:
    """One line per problem the reader should know about (none of them fails the check)."""
    out = []
    alpha = settings.alpha
    tested = rows[(rows["n_base"] > 0) & (rows["n_new"] > 0)]
    sizes = sorted(set(zip(tested["n_base"], tested["n_new"], strict=True)))
    blind = [(nb, nn) for nb, nn in sizes if min(nb, nn) < 2 or min_mannwhitney_p(nb, nn) >= alpha]
    if blind:
        count = int(
            sum(((tested["n_base"] == nb) & (tested["n_new"] == nn)).sum() for nb, nn in blind)
        )
        pairs = ", ".join(
            f"{nb} vs {nn} (smallest p {min_mannwhitney_p(nb, nn):.2g})" for nb, nn in blind
        )
        out.append(
            f"too few seeds for the test to ever fire at alpha {alpha:g}: {pairs}; "
            f"{count} of {len(tested)} comparisons can never fail; "
            f"use at least {seeds_needed(alpha)} seeds on each side"
        )
    under = rows[rows["status"] == "underpowered"]
    if len(under):
        out.append(
            f"{len(under)} changes worse than the threshold could not be tested (too few "
            "seeds): "
            + "; ".join(_describe(r) for r in under.head(5).to_dict("records"))
            + (" ..." if len(under) > 5 else "")
        )
    fewer = rows[(rows["n_new"] > 0) & (rows["n_new"] < rows["n_base"])]
    if len(fewer):
        out.append(
            f"{len(fewer)} comparisons have fewer seeds with finite values in NEW than in "
            "BASE (failed cells? see NEW's failures.jsonl)"
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


def _x_text(x_name: str, x: int) -> str:
    return "final" if x == FINAL else f"{x}"


def _describe(r: dict) -> str:
    where = " / ".join(p for p in (r["env"], r["policy"], r["theta"], r["method"]) if p)
    return f"{where} {r['metric']} at {r['x_name']} {_x_text(r['x_name'], r['x'])}"


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
) -> Settings:
    """Settings from the suite's ``spec`` (CompareSpec or None) overridden by the command
    line: ``threshold`` items ``FACTOR`` or ``METRIC=FACTOR``, ``alpha``, ``metrics``
    (comma-separated names). Invalid values raise :class:`CompareError` (one line)."""
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
    return Settings.from_spec(resolved, allow_missing)


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
    level = 1.0 - comparison.settings.alpha
    out = Table()
    out.add_column("env / policy / theta", overflow="fold")
    out.add_column("method", overflow="fold")
    out.add_column("x", justify="right", no_wrap=True)
    out.add_column("metric", no_wrap=True)
    for head in ("n", "base", "new", "change", f"{level:.0%} CI", "p Welch", "p MW"):
        out.add_column(head, justify="right", no_wrap=True)
    out.add_column("status", no_wrap=True)
    for r in rows.to_dict("records"):
        where = " / ".join(p for p in (r["env"], r["policy"], r["theta"]) if p)
        arrow = "v" if r["direction"] == "lower" else "^"
        out.add_row(
            where,
            r["method"],
            _x_text(r["x_name"], r["x"]),
            f"{r['metric']} {arrow}",
            f"{r['n_base']}/{r['n_new']}",
            _num(r["base_mean"]),
            _num(r["new_mean"]),
            _pct(r["change"]),
            f"[{_pct(r['change_lo'])}, {_pct(r['change_hi'])}]"
            if math.isfinite(r["change_lo"]) or math.isfinite(r["change_hi"])
            else "-",
            _num(r["p_welch"]),
            _num(r["p_mannwhitney"]),
            f"[{_STYLE[r['status']]}]{r['status']}[/]",
        )
    return out, hidden


def summary_line(comparison: Comparison) -> str:
    """``PASS`` / ``FAIL`` with the counts and the settings, one line."""
    s = comparison.settings
    counts = ", ".join(f"{n} {status}" for status, n in comparison.counts().items())
    per_metric = "".join(f", {m} {t:g}" for m, t in s.thresholds.items())
    verdict = "FAIL" if comparison.exit_code else "PASS"
    return (
        f"{verdict}: {len(comparison.rows)} comparisons ({counts}); threshold "
        f"{s.threshold:g}{per_metric}, alpha {s.alpha:g}, both Welch and Mann-Whitney"
    )


def failure_lines(failures: pd.DataFrame) -> list[str]:
    """One line per (status, env / policy / theta / method, x_name) of the failing rows,
    naming the metrics and x values, e.g. ``regression: garnet / ... / reinforce: mse at
    batch_size 16, 64``."""
    lines = []
    keys = ["status", "env", "policy", "theta", "method", "x_name"]
    for key, part in failures.groupby(keys, sort=False):
        r = dict(zip(keys, key, strict=True))
        where = " / ".join(p for p in (r["env"], r["policy"], r["theta"], r["method"]) if p)
        metrics = ", ".join(dict.fromkeys(part["metric"]))
        xs = ", ".join(dict.fromkeys(_x_text(r["x_name"], x) for x in part["x"]))
        lines.append(f"{r['status']}: {where}: {metrics} at {r['x_name']} {xs}")
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
        description="Pair the results of BASE and NEW by configuration and seed; fail (exit "
        "1) where a metric got worse than the threshold factor and both Welch's t-test and "
        "the Mann-Whitney U test call it significant, or where NEW lacks results BASE has.",
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
    p.add_argument("--alpha", default=None, help="significance level of both tests (0.05)")
    p.add_argument(
        "--metrics",
        default=None,
        metavar="M1,M2",
        help="metrics to compare (default: every metric with a direction but seconds)",
    )
    p.add_argument("--json", type=Path, default=None, help="verdict file (NEW/compare.json)")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="warn instead of failing when NEW lacks results BASE has",
    )
    p.add_argument("--all", action="store_true", help="show every row of the table")
    return p


def run(args: argparse.Namespace) -> int:
    """Execute ``pgbench compare`` for parsed ``args``; returns the exit code (0 pass,
    1 regression). Bad input raises :class:`CompareError`."""
    from rich.console import Console

    base = load_side(args.base, "BASE")
    new = load_side(args.new, "NEW")
    spec = suite_spec(args.new) if Path(args.new).is_dir() else None
    settings = resolve_settings(spec, args.threshold, args.alpha, args.metrics, args.allow_missing)
    comparison = compare(base, new, settings)
    path = args.json or default_json_path(args.new)
    verdict = comparison.verdict(str(args.base), str(args.new))
    atomic_write_text(path, json.dumps(verdict, indent=2) + "\n")

    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=200)
    report(comparison, out, Console(stderr=True, highlight=False), args.all)
    out.print(f"verdict: {path}", soft_wrap=True)
    return comparison.exit_code
