"""Learning-curve figures and the final-performance table (read the tidy table only).

Curves are aligned across seeds on the grid 0, log_every, 2 log_every, ...:
the value of a seed at grid point x is its last logged value at or before x
(runs log when an update crosses a grid point, so every seed has one there).

* ``learning_curves.png``: one row of panels per (env, policy); left, mean
  evaluation return against env steps with a 95% percentile bootstrap band of
  the mean over seeds; right, the same means against the median wall seconds
  at each grid point (evaluation time excluded). The legend gives n seeds.
* ``final_performance.md`` / ``.csv``: per (env, policy, algorithm) the final
  evaluation return's IQM (interquartile mean over seeds) with a 95%
  bootstrap interval, its mean and median, the final training return, the
  median seconds and env steps per second, and the number of seeds; on tabular
  envs also the mean exact J of the final policies and the optimal J (value
  iteration).
"""

from __future__ import annotations

import math
from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pgbench.results import atomic_write_bytes, atomic_write_text  # noqa: E402
from pgbench.stats import bootstrap_ci, group_rng, iqm  # noqa: E402

CURVES_PNG = "learning_curves.png"
FINAL_MD = "final_performance.md"
FINAL_CSV = "final_performance.csv"
EXPERIMENT = "learning-curve"
PANEL = ["env_label", "policy_label"]


def _curve_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["experiment"] == EXPERIMENT]


def aligned(rows: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(grid (G,), values (seeds, G)) of ``metric`` for the rows of one curve (one method
    of one panel), forward-filled onto the common grid of logged env steps."""
    wide = rows[rows["metric"] == metric].pivot_table(
        index="x", columns="seed", values="value", aggfunc="last"
    )
    wide = wide.sort_index()
    grid = _grid(wide.index.to_numpy())
    filled = wide.reindex(wide.index.union(grid)).ffill().loc[grid]
    return grid, filled.to_numpy().T


def _grid(xs: np.ndarray) -> np.ndarray:
    """0 and the smallest logged x of each seed-aligned point: the sorted distinct x values
    that every seed has reached (a seed's x values differ by whole segments at most)."""
    xs = np.unique(xs)
    if xs.size <= 1:
        return xs
    step = np.min(np.diff(xs))
    # group x values closer than half the smallest gap to the largest of the group
    groups = np.split(xs, np.flatnonzero(np.diff(xs) > step / 2) + 1)
    return np.array([g.max() for g in groups])


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


def learning_curves(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``learning_curves.png``; None if ``table`` has no learning-curve rows."""
    rows = _curve_rows(table)
    if rows.empty:
        return None
    panels = list(rows.groupby(PANEL, sort=False))
    fig, axes = plt.subplots(
        len(panels), 2, figsize=(12, 4 * len(panels)), squeeze=False, constrained_layout=True
    )
    for r, ((env, pol), panel) in enumerate(panels):
        ax_steps, ax_secs = axes[r]
        for k, (label, curve) in enumerate(panel.groupby("method_label", sort=False)):
            grid, ev = aligned(curve, "eval_return")
            _, secs = aligned(curve, "seconds")
            mean, lo, hi = _mean_band(ev, (env, pol, label), 0)
            n = ev.shape[0]
            color = f"C{k % 10}"
            ax_steps.plot(grid, mean, color=color, label=f"{label} (n={n})")
            ax_steps.fill_between(grid, lo, hi, color=color, alpha=0.2, linewidth=0)
            ax_secs.plot(np.nanmedian(secs, axis=0), mean, color=color)
        ax_steps.set_title(f"{env} / {pol}")
        ax_steps.set_xlabel("env steps")
        ax_steps.set_ylabel("evaluation return (mean over seeds, 95% CI)")
        ax_secs.set_title(f"{env} / {pol}")
        ax_secs.set_xlabel("seconds (median over seeds)")
        ax_secs.set_ylabel("evaluation return")
        ax_steps.legend(fontsize="small", loc="best")
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    path = Path(run_dir) / CURVES_PNG
    atomic_write_bytes(path, buf.getvalue())
    return path


def final_performance(
    table: pd.DataFrame, base: int = 0, targets: dict[str, float] | None = None
) -> pd.DataFrame:
    """One row per (env, policy, algorithm label) of the last curve point of every seed.

    ``targets`` maps env labels to an evaluation return that counts as solved; for
    those envs the row also counts the seeds whose evaluation reached it at some
    curve point (``reached``) and at the end (``final_at_target``), and gives the
    median env steps of the first point at or above it over the seeds that reached it.
    """
    rows = _curve_rows(table)
    targets = targets or {}
    out = []
    for (env, pol, label), curve in rows.groupby([*PANEL, "method_label"], sort=False):
        last = curve[curve["x"] == curve.groupby("seed")["x"].transform("max")]
        per_seed = last.pivot_table(index="seed", columns="metric", values="value")
        ev = per_seed["eval_return"].to_numpy() if "eval_return" in per_seed else np.zeros(0)
        ev = ev[np.isfinite(ev)]
        steps = curve.groupby("seed")["x"].max()
        secs = per_seed["seconds"]
        lo, hi = (
            bootstrap_ci(ev, group_rng(base, (env, pol, label)), stat=iqm)
            if ev.size
            else (
                math.nan,
                math.nan,
            )
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
                "env_steps": int(steps.median()),
                "seconds_median": float(secs.median()),
                "steps_per_second": float((steps / secs).median()),
                **_target_columns(curve, ev, targets.get(env)),
            }
        )
    return pd.DataFrame(out)


def _target_columns(curve: pd.DataFrame, final_eval: np.ndarray, target: float | None) -> dict:
    if target is None:
        return {
            "target": math.nan,
            "reached": -1,
            "final_at_target": -1,
            "steps_to_target": math.nan,
        }
    ev = curve[curve["metric"] == "eval_return"]
    hit = ev[ev["value"] >= target]
    first = hit.groupby("seed")["x"].min()
    return {
        "target": float(target),
        "reached": int(first.size),
        "final_at_target": int((final_eval >= target).sum()),
        "steps_to_target": float(first.median()) if first.size else math.nan,
    }


def _finite_mean(per_seed: pd.DataFrame, metric: str) -> float:
    if metric not in per_seed:
        return math.nan
    v = per_seed[metric].to_numpy()
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


def _opt(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.3f}"


def final_markdown(final: pd.DataFrame, title: str) -> str:
    lines = [
        f"# Final performance: {title}",
        "",
        "Evaluation return (greedy / mean action) at the end of the budget: IQM over seeds "
        "with a 95% percentile bootstrap interval (2000 resamples of seeds).",
        "",
        "Target columns (envs with a `target`): seeds whose evaluation reached the target "
        "at some curve point, seeds at or above it at the end, and the median env steps of "
        "the first point at or above it (over the seeds that reached it).",
        "",
        "| env | policy | algorithm | IQM [95% CI] | mean | median | train return | "
        "exact J | optimal J | target | reached | final >= target | steps to target | "
        "env steps | seconds | steps/s | n |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in final.itertuples():
        has_target = math.isfinite(r.target)
        lines.append(
            f"| {r.env} | {r.policy} | {r.algorithm} | {r.eval_iqm:.1f} "
            f"[{r.eval_iqm_lo:.1f}, {r.eval_iqm_hi:.1f}] | {r.eval_mean:.1f} | "
            f"{r.eval_median:.1f} | {r.train_return_mean:.1f} | {_opt(r.exact_value_mean)} | "
            f"{_opt(r.optimal_value)} | {f'{r.target:g}' if has_target else ''} | "
            f"{f'{r.reached}/{r.n_seeds}' if has_target else ''} | "
            f"{f'{r.final_at_target}/{r.n_seeds}' if has_target else ''} | "
            f"{_steps(r.steps_to_target)} | {r.env_steps} | "
            f"{r.seconds_median:.1f} | {r.steps_per_second:,.0f} | {r.n_seeds} |"
        )
    return "\n".join(lines) + "\n"


def _steps(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:,.0f}"


def write_final_performance(
    table: pd.DataFrame, run_dir: str | Path, targets: dict[str, float] | None = None
) -> list[Path]:
    """Write ``final_performance.csv`` / ``.md``; [] without learning-curve rows.
    ``targets``: env label -> solved return (see :func:`final_performance`)."""
    final = final_performance(table, targets=targets)
    if final.empty:
        return []
    run_dir = Path(run_dir)
    title = ", ".join(dict.fromkeys(table["suite"].astype(str)))
    csv_path, md_path = run_dir / FINAL_CSV, run_dir / FINAL_MD
    atomic_write_text(csv_path, final.to_csv(index=False, float_format="%.17g"))
    atomic_write_text(md_path, final_markdown(final, title))
    return [csv_path, md_path]
