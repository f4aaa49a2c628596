"""The learning-curve kind's figure and final-performance table (read the tidy table only).

Alignment: a run records its curve at x = 0, ``log_every``, 2 ``log_every``, ...
and at the budget, the same x for every seed
(:class:`~pgbench.algorithms.trainer.TrainRun`). A curve's grid is the union
of its seeds' x. A seed has no point at a grid point that one of its updates
stepped over (it crossed two at once); there it takes the value of its next
point, the state after the first update that reached that many env steps.

* ``learning_curves.png``: one row of panels per (env, policy), one line per
  algorithm; left, evaluation return against env steps: the mean over seeds
  with a 95% percentile bootstrap interval of that mean (seeds resampled);
  right, the same means against training seconds: at each grid point the median
  over seeds of each seed's seconds (Numba compilation and evaluation excluded;
  monotone, as every seed's clock is). The legend gives the number of seeds n.
* ``final_performance.md`` / ``.csv``: per (env, policy, algorithm) the last
  point of every seed: see :func:`final_performance` and :func:`final_markdown`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pgbench.experiments.learning_curve.aggregate_figures import write_figures
from pgbench.experiments.learning_curve.aggregates import across_tasks, write_tables
from pgbench.experiments.summaries import pyplot, save_png, suite_title, write_table_files
from pgbench.stats import bootstrap_ci, group_rng, iqm

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CURVES_PNG = "learning_curves.png"
FINAL_MD = "final_performance.md"
FINAL_CSV = "final_performance.csv"
EXPERIMENT = "learning-curve"
PANEL = ["env_label", "policy_label"]
CURVE_STAT = "mean over seeds, 95% bootstrap CI"


def _curve_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["experiment"] == EXPERIMENT]


def aligned(
    rows: pd.DataFrame, metric: str, grid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(grid (G,), values (S, G)) of ``metric`` for the rows of one curve (one method of
    one panel, S seeds in seed order).

    A seed's value at grid point x is its value at its first point at or after x
    (NaN past its last point, and where the value itself is NaN). ``grid``
    defaults to every x of ``rows``, all metrics.
    """
    grid = np.unique(rows["x"].to_numpy()) if grid is None else np.asarray(grid)
    picked = rows[rows["metric"] == metric]
    values = [
        seed_rows.drop_duplicates("x", keep="last")
        .set_index("x")["value"]
        .sort_index()
        .reindex(grid, method="bfill")
        .to_numpy(dtype=np.float64)
        for _, seed_rows in picked.groupby("seed", sort=True)
    ]
    return grid, np.array(values, dtype=np.float64).reshape(len(values), grid.size)


def _mean_band(values: np.ndarray, key: tuple, base: int) -> tuple[np.ndarray, ...]:
    """Mean over seeds and its 95% bootstrap interval, per grid column (NaN seeds dropped)."""
    mean, lo, hi = [], [], []
    for g in range(values.shape[1]):
        col = values[:, g]
        col = col[np.isfinite(col)]
        if col.size == 0:
            mean.append(math.nan), lo.append(math.nan), hi.append(math.nan)
            continue
        a, b = bootstrap_ci(col, group_rng(base, (*key, g)), stat=np.mean)
        mean.append(col.mean()), lo.append(a), hi.append(b)
    return np.array(mean), np.array(lo), np.array(hi)


def median_seconds(seconds: np.ndarray) -> np.ndarray:
    """(G,) median over seeds of ``seconds`` (S, G), the x of the seconds panel (NaN
    where no seed has a value)."""
    out = np.full(seconds.shape[1], math.nan)
    for g in range(seconds.shape[1]):
        col = seconds[:, g]
        col = col[np.isfinite(col)]
        if col.size:
            out[g] = np.median(col)
    return out


def learning_curves(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``learning_curves.png``; None if ``table`` has no learning-curve rows."""
    rows = _curve_rows(table)
    if rows.empty:
        return None
    return save_png(curve_figure(rows), Path(run_dir) / CURVES_PNG, dpi=100)


def curve_figure(rows: pd.DataFrame) -> Figure:
    """The figure of ``learning_curves.png`` for learning-curve ``rows`` (see the module
    docstring): one row of (env steps, seconds) panels per (env, policy)."""
    panels = list(rows.groupby(PANEL, sort=False))
    fig, axes = pyplot().subplots(
        len(panels), 2, figsize=(12, 4 * len(panels)), squeeze=False, constrained_layout=True
    )
    for r, ((env, pol), panel) in enumerate(panels):
        ax_steps, ax_secs = axes[r]
        for k, (label, curve) in enumerate(panel.groupby("method_label", sort=False)):
            grid, ev = aligned(curve, "eval_return")
            _, secs = aligned(curve, "seconds", grid)
            mean, lo, hi = _mean_band(ev, (env, pol, label), 0)
            color = f"C{k % 10}"
            ax_steps.plot(grid, mean, color=color, label=f"{label} (n={ev.shape[0]} seeds)")
            ax_steps.fill_between(grid, lo, hi, color=color, alpha=0.2, linewidth=0)
            ax_secs.plot(median_seconds(secs), mean, color=color)
        ax_steps.set_title(f"{env} / {pol}")
        ax_steps.set_xlabel("env steps")
        ax_steps.set_ylabel(f"evaluation return ({CURVE_STAT})")
        ax_secs.set_title(f"{env} / {pol}")
        ax_secs.set_xlabel("training seconds (median over seeds; compile, evaluation excluded)")
        ax_secs.set_ylabel("evaluation return (mean over seeds)")
        ax_steps.legend(fontsize="small", loc="best")
    return fig


def final_performance(
    table: pd.DataFrame, base: int = 0, targets: dict[str, float] | None = None
) -> pd.DataFrame:
    """One row per (env, policy, algorithm label) of the last curve point of every seed.

    Columns: ``n_seeds``; the final evaluation return's ``eval_iqm`` (interquartile
    mean over seeds) with its 95% bootstrap interval ``eval_iqm_lo`` / ``_hi``,
    ``eval_mean``, ``eval_median``; the means over seeds of the final
    ``train_return``, ``exact_value`` and ``optimal_value`` (NaN where undefined);
    ``budget`` (the last grid point), ``env_steps`` (median over seeds of the env steps
    spent, at least the budget), ``seconds_median``
    (median over seeds of the training seconds, Numba compilation and evaluation
    excluded) and ``steps_per_second`` (median over seeds of env steps / seconds).

    ``targets`` maps env labels to an evaluation return that counts as solved; for
    those envs the row also has ``target``, the seeds whose evaluation reached it at
    some curve point (``reached``) and at the end (``final_at_target``), and
    ``steps_to_target`` (:func:`median_steps_to_target`, inf when fewer than half
    of the seeds reached it); elsewhere those are NaN / -1.
    """
    rows = _curve_rows(table)
    targets = targets or {}
    out = []
    for (env, pol, label), curve in rows.groupby([*PANEL, "method_label"], sort=False):
        last = curve[curve["x"] == curve.groupby("seed")["x"].transform("max")]
        per_seed = last.pivot_table(index="seed", columns="metric", values="value")
        ev = per_seed["eval_return"].to_numpy() if "eval_return" in per_seed else np.zeros(0)
        ev = ev[np.isfinite(ev)]
        steps = _spent(curve).groupby(level="seed").max()
        secs = per_seed["seconds"]
        lo, hi = (
            bootstrap_ci(ev, group_rng(base, (env, pol, label)), stat=iqm)
            if ev.size
            else (math.nan, math.nan)
        )
        out.append(
            {
                "env": env,
                "policy": pol,
                "algorithm": label,
                "n_seeds": int(ev.size),
                "eval_iqm": float(iqm(ev)) if ev.size else math.nan,
                "eval_iqm_lo": lo,
                "eval_iqm_hi": hi,
                "eval_mean": float(ev.mean()) if ev.size else math.nan,
                "eval_median": float(np.median(ev)) if ev.size else math.nan,
                "train_return_mean": _finite_mean(per_seed, "train_return"),
                "exact_value_mean": _finite_mean(per_seed, "exact_value"),
                "optimal_value": _finite_mean(per_seed, "optimal_value"),
                "budget": int(curve["x"].max()),
                "env_steps": int(steps.median()),
                "seconds_median": float(secs.median()),
                "steps_per_second": float((steps / secs).median()),
                **_target_columns(curve, ev, targets.get(env)),
            }
        )
    return pd.DataFrame(out)


def _spent(curve: pd.DataFrame) -> pd.Series:
    """Env steps spent at each curve point, indexed by (seed, x): the ``env_steps`` metric
    where the run logged it, else x (tables of older runs)."""
    points = curve.drop_duplicates(["seed", "x"]).set_index(["seed", "x"]).index
    spent = pd.Series(points.get_level_values("x").to_numpy(dtype=np.float64), index=points)
    logged = curve[curve["metric"] == "env_steps"].set_index(["seed", "x"])["value"]
    spent.update(logged)
    return spent


def median_steps_to_target(first: np.ndarray, n: int) -> float:
    """Median env steps to the target over ``n`` seeds: ``first`` (k,) holds the x of the
    first curve point at or above the target of each of the k seeds that reached it;
    the other n - k never did and are censored at the budget, the last grid point.

    With every censoring time at or after every observed x, the Kaplan-Meier estimate
    (Kaplan & Meier 1958) of P(reached by s) is k(s) / n, so the median, the smallest
    s at which it is at least 1/2, is the ceil(n / 2)-th smallest of ``first``; inf
    (beyond the budget) when k < ceil(n / 2).
    """
    rank = math.ceil(n / 2)
    if n == 0 or len(first) < rank:
        return math.inf
    return float(np.sort(np.asarray(first, dtype=np.float64))[rank - 1])


def _target_columns(curve: pd.DataFrame, final_eval: np.ndarray, target: float | None) -> dict:
    if target is None:
        return {
            "target": math.nan,
            "reached": -1,
            "final_at_target": -1,
            "steps_to_target": math.nan,
        }
    ev = curve[curve["metric"] == "eval_return"]
    first = ev[ev["value"] >= target].groupby("seed")["x"].min()
    return {
        "target": float(target),
        "reached": int(first.size),
        "final_at_target": int((final_eval >= target).sum()),
        "steps_to_target": median_steps_to_target(first.to_numpy(), ev["seed"].nunique()),
    }


def _finite_mean(per_seed: pd.DataFrame, metric: str) -> float:
    if metric not in per_seed:
        return math.nan
    v = per_seed[metric].to_numpy()
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


CAPTION = (
    "Evaluation return (greedy / mean action) at the end of the budget: IQM over seeds "
    "with a 95% percentile bootstrap interval (2000 resamples of seeds), mean and median "
    "over seeds; train return: mean over seeds of the last point's training return. "
    "env steps: median over seeds of the env steps spent; seconds: median over seeds of the "
    "training seconds (Numba compilation and evaluation excluded); steps/s: median over "
    "seeds of env steps / seconds; n: seeds."
)
TARGET_CAPTION = (
    "Target columns (envs with a `target`): the seeds whose evaluation reached the target "
    "at some curve point, the seeds at or above it at the end, and the median over all n "
    "seeds of the env steps (curve grid point) of the first point at or above it, a seed "
    "that never reached it counted as censored at the budget (Kaplan-Meier): the "
    'ceil(n/2)-th smallest steps to target, or "> budget" when fewer than half of the '
    "seeds reached it."
)


def _columns(final: pd.DataFrame) -> list[tuple[str, object]]:
    """(header, row -> cell text) of the markdown table; the exact-J and target columns
    only where some row has a value."""
    cols = [
        ("env", lambda r: r.env),
        ("policy", lambda r: r.policy),
        ("algorithm", lambda r: r.algorithm),
        ("IQM [95% CI]", lambda r: f"{r.eval_iqm:.1f} [{r.eval_iqm_lo:.1f}, {r.eval_iqm_hi:.1f}]"),
        ("mean", lambda r: f"{r.eval_mean:.1f}"),
        ("median", lambda r: f"{r.eval_median:.1f}"),
        ("train return", lambda r: _fmt(r.train_return_mean, ".1f")),
    ]
    if np.isfinite(final["exact_value_mean"]).any() or np.isfinite(final["optimal_value"]).any():
        cols += [
            ("exact J", lambda r: _fmt(r.exact_value_mean, ".3f")),
            ("optimal J", lambda r: _fmt(r.optimal_value, ".3f")),
        ]
    if np.isfinite(final["target"]).any():
        cols += [
            ("target", lambda r: _fmt(r.target, "g")),
            ("reached", lambda r: _of(r.reached, r)),
            ("final >= target", lambda r: _of(r.final_at_target, r)),
            ("median steps to target", _steps_to_target),
        ]
    cols += [
        ("env steps", lambda r: f"{r.env_steps:,}"),
        ("seconds", lambda r: _seconds(r.seconds_median)),
        ("steps/s", lambda r: _fmt(r.steps_per_second, ",.0f")),
        ("n", lambda r: f"{r.n_seeds}"),
    ]
    return cols


def _fmt(x: float, spec: str) -> str:
    return "" if not math.isfinite(x) else format(x, spec)


def _of(count: int, r) -> str:
    return f"{count}/{r.n_seeds}" if math.isfinite(r.target) else ""


def _steps_to_target(r) -> str:
    """E.g. ``25,000 (n=10, 2 censored)``; ``> 20,000 (...)`` when the median is past the
    budget."""
    if not math.isfinite(r.target):
        return ""
    n = f"(n={r.n_seeds}, {r.n_seeds - r.reached} censored)"
    if math.isinf(r.steps_to_target):
        return f"> {r.budget:,} {n}"
    return f"{r.steps_to_target:,.0f} {n}"


def _seconds(x: float) -> str:
    """Three significant digits, no exponent: 0.00412, 1.45, 123, 12,345."""
    if not math.isfinite(x):
        return ""
    if x == 0:
        return "0"
    return f"{x:,.{max(0, 2 - math.floor(math.log10(abs(x))))}f}"


def final_markdown(final: pd.DataFrame, title: str) -> str:
    """The final-performance table as markdown, with a caption that states each
    statistic; a column that is empty on every row (exact J, target) is left out."""
    cols = _columns(final)
    lines = [f"# Final performance: {title}", "", CAPTION, ""]
    if np.isfinite(final["target"]).any():
        lines += [TARGET_CAPTION, ""]
    lines += [
        "| " + " | ".join(h for h, _ in cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for r in final.itertuples():
        lines.append("| " + " | ".join(str(cell(r)) for _, cell in cols) + " |")
    return "\n".join(lines) + "\n"


def write_final_performance(
    table: pd.DataFrame, run_dir: str | Path, targets: dict[str, float] | None = None
) -> list[Path]:
    """Write ``final_performance.csv`` / ``.md``; [] without learning-curve rows.
    ``targets``: env label -> solved return (see :func:`final_performance`)."""
    final = final_performance(table, targets=targets)
    if final.empty:
        return []
    return write_table_files(
        final, final_markdown(final, suite_title(table)), run_dir, FINAL_CSV, FINAL_MD, "%.17g"
    )


def write_outputs(table: pd.DataFrame, out: str | Path, settings: dict) -> list[Path]:
    """``learning_curves.png``, ``final_performance.csv`` and ``final_performance.md`` of
    the learning-curve rows of ``table``, written into ``out``, and where two or more
    envs have reference ranges the conclusions across them (:mod:`.aggregates`: its
    figures, then ``across_tasks.md`` / ``.csv``); none without such rows.
    ``settings``: the run's report settings; its ``targets`` (env label -> solved return)
    add the target columns to the table, its ``score_ranges`` normalize the scores."""
    curve = learning_curves(table, out)
    figures = [curve] if curve else []
    tables = write_final_performance(table, out, settings.get("targets") or {})
    agg = across_tasks(table, settings) if curve else None
    if agg is not None:
        figures += write_figures(agg, out)
        tables += write_tables(agg, suite_title(table), out)
    return [*figures, *tables]
