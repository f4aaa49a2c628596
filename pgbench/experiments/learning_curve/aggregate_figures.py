"""The figures of a learning-curve run's conclusions across tasks (:mod:`.aggregates`):

* ``aggregate_intervals.png``: one panel per metric (IQM, median, mean, optimality gap),
  one row per algorithm: the point estimate and its stratified bootstrap interval, as
  rliable's ``plot_interval_estimates``;
* ``performance_profile.png``: against tau, the fraction of runs x tasks with a
  normalized score above tau (left) and the fraction of tasks whose mean score over runs
  is above it (right), each with its pointwise bootstrap band;
* ``probability_of_improvement.png``: the P(row > column) matrix (two or more
  algorithms);
* ``aggregate_curves.png``: IQM normalized score against env steps (or fractions of
  each entry's budget, where budgets differ) with its band.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pgbench.experiments.learning_curve.aggregates import METRIC_NAMES, Aggregates
from pgbench.experiments.summaries import pyplot, save_png
from pgbench.stats import DEFAULT_LEVEL

INTERVALS_PNG = "aggregate_intervals.png"
PROFILE_PNG = "performance_profile.png"
IMPROVEMENT_PNG = "probability_of_improvement.png"
CURVES_PNG = "aggregate_curves.png"
FIGURES = (INTERVALS_PNG, PROFILE_PNG, IMPROVEMENT_PNG, CURVES_PNG)
DPI = 100


def _colors(agg: Aggregates) -> dict[str, object]:
    """One color per algorithm: matplotlib's cycle up to 10, tab20 beyond (then repeats)."""
    algos = agg.scores.algorithms
    if len(algos) <= 10:
        return {a: f"C{k}" for k, a in enumerate(algos)}
    cmap = pyplot().get_cmap("tab20")
    return {a: cmap(k % 20) for k, a in enumerate(algos)}


def _legend(ax, n: int) -> None:
    """In the axes for a few lines; to their right for many."""
    if n <= 6:
        ax.legend(fontsize="small", loc="best")
    else:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _tasks_note(agg: Aggregates) -> str:
    n = len(agg.scores.tasks)
    return f"{n} tasks: {', '.join(agg.scores.tasks)}"


def intervals_figure(agg: Aggregates):
    algos = agg.scores.algorithms
    by = {(e.algorithm, e.metric): e for e in agg.estimates}
    metrics = list(METRIC_NAMES)
    colors = _colors(agg)
    fig, axes = pyplot().subplots(
        1,
        len(metrics),
        figsize=(3.2 * len(metrics), 0.9 + 0.38 * len(algos)),
        sharey=True,
        constrained_layout=True,
        squeeze=False,
    )
    ys = np.arange(len(algos))[::-1]
    for ax, metric in zip(axes[0], metrics, strict=True):
        for y, algo in zip(ys, algos, strict=True):
            e = by[algo, metric]
            ax.barh(y, e.high - e.low, left=e.low, height=0.6, color=colors[algo], alpha=0.75)
            ax.plot([e.estimate, e.estimate], [y - 0.3, y + 0.3], color="black", linewidth=1.5)
        ax.set_title(METRIC_NAMES[metric])
        ax.set_xlabel("normalized score")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(ys, [f"{a} (n={by[a, metrics[0]].n_runs})" for a in algos])
    fig.suptitle(
        f"Final normalized score, {DEFAULT_LEVEL:.0%} stratified bootstrap intervals "
        f"({_tasks_note(agg)}; n: runs per task)",
        fontsize="medium",
    )
    return fig


def profile_figure(agg: Aggregates):
    """Left: the run-score profile (runs x tasks); right: the average-score profile
    (tasks' mean over runs; steps of 1 / tasks)."""
    colors = _colors(agg)
    fig, axes = pyplot().subplots(1, 2, figsize=(13, 4.8), sharey=True, constrained_layout=True)
    panels = (
        (agg.profiles, "runs x tasks", r"fraction of runs with score > $\tau$"),
        (agg.task_profiles, "tasks, mean over runs", r"fraction of tasks with mean score > $\tau$"),
    )
    for ax, (profiles, what, ylabel) in zip(axes, panels, strict=True):
        for algo, prof in profiles.items():
            label = f"{algo} (n={prof.n_runs})"
            ax.plot(prof.taus, prof.fraction, color=colors[algo], label=label)
            ax.fill_between(prof.taus, prof.low, prof.high, color=colors[algo], alpha=0.1, lw=0)
        ax.set_xlabel(r"normalized score $\tau$")
        ax.set_ylabel(ylabel)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(f"Performance profile: {what}", fontsize="medium")
    _legend(axes[1], len(agg.profiles))
    fig.suptitle(
        f"{_tasks_note(agg)}; {DEFAULT_LEVEL:.0%} stratified bootstrap bands; n: runs per task",
        fontsize="medium",
    )
    return fig


def improvement_figure(agg: Aggregates):
    algos = agg.scores.algorithms
    by = {(i.algorithm, i.other): i for i in agg.improvement}
    matrix = np.full((len(algos), len(algos)), np.nan)
    for r, a in enumerate(algos):
        for c, b in enumerate(algos):
            if a != b:
                matrix[r, c] = by[a, b].probability
    size = 1.2 + 0.62 * len(algos)
    fig, ax = pyplot().subplots(figsize=(size + 1.5, size), constrained_layout=True)
    image = ax.imshow(matrix, cmap="RdBu", vmin=0.0, vmax=1.0)
    for r, a in enumerate(algos):
        for c, b in enumerate(algos):
            if a == b:
                continue
            i = by[a, b]
            sure = i.low > 0.5 or i.high < 0.5  # the interval excludes 1/2
            text = f"{i.probability:.2f}" + ("*" if sure else "")
            ax.text(c, r, text, ha="center", va="center", fontsize="x-small")
    ax.set_xticks(range(len(algos)), algos, rotation=45, ha="right")
    ax.set_yticks(range(len(algos)), algos)
    ax.set_xlabel("Y")
    ax.set_ylabel("X")
    fig.colorbar(image, ax=ax, label="P(X > Y)")
    ax.set_title(
        f"Probability of improvement P(X > Y), averaged over {len(agg.scores.tasks)} tasks\n"
        f"*: its {DEFAULT_LEVEL:.0%} stratified bootstrap interval excludes 0.5",
        fontsize="medium",
    )
    return fig


def curves_figure(agg: Aggregates):
    colors = _colors(agg)
    fig, ax = pyplot().subplots(figsize=(9, 4.8), constrained_layout=True)
    for algo, band in agg.curves.items():
        n = agg.scores.scores[algo].shape[0]
        ax.plot(agg.curve_x, band[:, 0], color=colors[algo], label=f"{algo} (n={n})")
        ax.fill_between(agg.curve_x, band[:, 1], band[:, 2], color=colors[algo], alpha=0.15, lw=0)
    if agg.same_budget:
        ax.set_xlabel("env steps")
    else:
        ax.set_xlabel("fraction of the env-step budget (each entry's own)")
    ax.set_ylabel("IQM normalized score")
    ax.grid(alpha=0.3)
    _legend(ax, len(agg.curves))
    ax.set_title(
        f"IQM normalized score over runs x tasks ({_tasks_note(agg)})\n"
        f"{DEFAULT_LEVEL:.0%} stratified bootstrap bands; n: runs per task",
        fontsize="medium",
    )
    return fig


def write_figures(agg: Aggregates, out: str | Path) -> list[Path]:
    """The figures of the module docstring, written into ``out``; their paths (the
    P(X > Y) matrix only with two or more algorithms)."""
    out = Path(out)
    paths = [
        save_png(intervals_figure(agg), out / INTERVALS_PNG, DPI),
        save_png(profile_figure(agg), out / PROFILE_PNG, DPI),
    ]
    if agg.improvement:
        paths.append(save_png(improvement_figure(agg), out / IMPROVEMENT_PNG, DPI))
    paths.append(save_png(curves_figure(agg), out / CURVES_PNG, DPI))
    return paths
