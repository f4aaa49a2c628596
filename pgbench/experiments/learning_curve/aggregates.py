"""Conclusions across tasks of a learning-curve run, as rliable draws them (Agarwal et al.
2021, "Deep RL at the edge of the statistical precipice", NeurIPS), from the tidy table.

Written for a run with two or more envs that have reference ranges and share an
algorithm (:mod:`pgbench.experiments.across_tasks` says how tasks, algorithms and runs
are chosen; :mod:`pgbench.suite.score_ranges` where ranges come from):

* ``across_tasks.md`` / ``.csv``: the aggregate intervals (one row per algorithm: IQM,
  median, mean and optimality gap of the final normalized score), the ranges, which entry
  of the suite each algorithm is on each task, the P(X > Y) matrix, what was left out;
  ``probability_of_improvement.csv``: the matrix as tidy rows;
* figures (:mod:`.aggregate_figures`): ``aggregate_intervals.png``,
  ``performance_profile.png``, ``probability_of_improvement.png``,
  ``aggregate_curves.png`` (IQM normalized score against env steps).

Every interval is a stratified bootstrap percentile interval (runs resampled within each
task) of :data:`~pgbench.stats.DEFAULT_BOOTSTRAP` replicates at
:data:`~pgbench.stats.DEFAULT_LEVEL`, drawn from ``numpy.random.default_rng(0)``, so
the files are reproduced exactly from the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.experiments.across_tasks import TaskScores, curve_scores
from pgbench.experiments.summaries import write_table_files
from pgbench.results import atomic_write_text
from pgbench.stats import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_LEVEL,
    Estimate,
    Improvement,
    Profile,
    aggregate,
    group_rng,
    improvement_matrix,
    interval_estimates,
    performance_profile,
)
from pgbench.suite.score_ranges import ranges_from_settings

AGGREGATE_MD = "across_tasks.md"
AGGREGATE_CSV = "across_tasks.csv"
IMPROVEMENT_CSV = "probability_of_improvement.csv"
FRACTIONS = np.linspace(0.0, 1.0, 21)  # points of the aggregate curves, of each budget
N_TAUS = 101
METRIC_NAMES = {
    "iqm": "IQM",
    "median": "median",
    "mean": "mean",
    "optimality_gap": "optimality gap",
}
SEED = 0


@dataclass(frozen=True)
class Aggregates:
    """Everything the files of this module show.

    Attributes:
        scores: the final normalized scores and how they were chosen.
        estimates: the aggregate intervals (:func:`pgbench.stats.aggregate`).
        profiles: algorithm -> its run-score performance profile (runs x tasks).
        task_profiles: algorithm -> its average-score profile (tasks' mean scores).
        improvement: P(a > b) of every ordered pair (none with one algorithm).
        curve_x: (F,) the x of the aggregate curves: env steps where every scored entry
            has the same budget (``same_budget``), else fractions of each budget.
        curves: algorithm -> (F, 3) IQM normalized score, low, high at each x.
    """

    scores: TaskScores
    estimates: tuple[Estimate, ...]
    profiles: dict[str, Profile]
    task_profiles: dict[str, Profile]
    improvement: tuple[Improvement, ...]
    curve_x: np.ndarray
    same_budget: bool
    curves: dict[str, np.ndarray]


def taus_for(scores: dict[str, np.ndarray]) -> np.ndarray:
    """The profile's thresholds: :data:`N_TAUS` points from min(0, lowest score) to
    max(1, highest score)."""
    every = np.concatenate([x.ravel() for x in scores.values()])
    return np.linspace(min(0.0, float(every.min())), max(1.0, float(every.max())), N_TAUS)


def _curve_bands(curves: dict[str, np.ndarray], rng: np.random.Generator) -> dict:
    """algorithm -> (F, 3): the IQM over runs x tasks at each point with its interval; one
    word of ``rng``, then a Generator per (algorithm, point)."""
    base = int(rng.integers(0, 2**63))
    out = {}
    for algo, norm in curves.items():  # (runs, F, tasks)
        rows = []
        for f in range(norm.shape[1]):
            gen = group_rng(base, ("aggregate_curve", algo, f))
            rows.append(interval_estimates(norm[:, f, :], gen, ("iqm",))["iqm"])
        out[algo] = np.array(rows, dtype=np.float64)
    return out


def across_tasks(table: pd.DataFrame, settings: dict) -> Aggregates | None:
    """The aggregates of the learning-curve rows of ``table`` with the run's report
    ``settings`` (their ``score_ranges`` and ``aggregate_as``); None where fewer than two
    tasks qualify."""
    ranges = ranges_from_settings(settings)
    groups = {str(k): str(v) for k, v in (settings.get("aggregate_as") or {}).items()}
    scores, curves = curve_scores(table, ranges, FRACTIONS, groups)
    if len(scores.tasks) < 2 or not scores.scores:
        return None
    rng = np.random.default_rng(SEED)
    estimates = aggregate(scores.scores, rng)
    profiles = performance_profile(scores.scores, taus_for(scores.scores), rng)
    pairs = improvement_matrix(scores.scores, rng) if len(scores.scores) > 1 else ()
    spent = {b for per_task in scores.budgets.values() for b in per_task.values()}
    same = len(spent) == 1
    x = FRACTIONS * next(iter(spent)) if same else FRACTIONS
    bands = _curve_bands(curves, rng)
    taus = taus_for(scores.scores)
    by_task = performance_profile(scores.scores, taus, rng, distribution="task_means")
    return Aggregates(scores, estimates, profiles, by_task, pairs, x, same, bands)


def estimates_frame(agg: Aggregates) -> pd.DataFrame:
    """The aggregate intervals as tidy rows (``across_tasks.csv``)."""
    frame = pd.DataFrame(agg.estimates)
    frame.insert(2, "tasks", ", ".join(agg.scores.tasks))
    return frame


def _interval(e: Estimate | Improvement) -> str:
    point = e.estimate if isinstance(e, Estimate) else e.probability
    return f"{point:.2f} [{e.low:.2f}, {e.high:.2f}]"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def caption(agg: Aggregates) -> str:
    pct = f"{DEFAULT_LEVEL:.0%}"
    return (
        "Final normalized score per run and task: (score - low) / (high - low), with the "
        "task's range below (0: its low reference, 1: its high one), at the entry's budget "
        f"(its last curve point). Aggregates over runs and tasks with {pct} stratified "
        f"bootstrap percentile intervals ({DEFAULT_BOOTSTRAP} replicates, runs resampled "
        "within each task; numpy.random.default_rng(0)): IQM, the mean of the middle 50% of "
        "all runs x tasks scores pooled; median, the median over tasks of each task's mean "
        "score; mean, the mean of all scores; optimality gap, the mean of max(0, 1 - score) "
        "(lower is better). Runs per task: the seeds the algorithm has a score for on every "
        "task (the others are listed under Left out)."
    )


def _estimate_table(agg: Aggregates) -> list[str]:
    by = {(e.algorithm, e.metric): e for e in agg.estimates}
    metrics = list(METRIC_NAMES)
    lines = [
        "| algorithm | "
        + " | ".join(f"{METRIC_NAMES[m]} [{DEFAULT_LEVEL:.0%} CI]" for m in metrics)
        + " | runs per task | tasks |",
        "|---|" + "---|" * len(metrics) + "---|---|",
    ]
    for algo in agg.scores.algorithms:
        first = by[algo, metrics[0]]
        cells = " | ".join(_interval(by[algo, m]) for m in metrics)
        lines.append(f"| {_md(algo)} | {cells} | {first.n_runs} | {first.n_tasks} |")
    return lines


def _range_table(agg: Aggregates) -> list[str]:
    lines = [
        "| task | scored metric | low (score 0) | high (score 1) | source |",
        "|---|---|---|---|---|",
    ]
    for task in agg.scores.tasks:
        r = agg.scores.ranges[task]
        lines.append(f"| {_md(task)} | {r.metric} | {r.low:.6g} | {r.high:.6g} | {_md(r.source)} |")
    return lines


def _entries_table(agg: Aggregates) -> list[str]:
    tasks = agg.scores.tasks
    lines = ["| algorithm | " + " | ".join(map(_md, tasks)) + " |", "|---|" + "---|" * len(tasks)]
    for algo in agg.scores.algorithms:
        per = agg.scores.entries[algo]
        steps = agg.scores.budgets[algo]
        cells = (f"{per[t][0]} ({per[t][1]}, {steps[t]:,} steps)" for t in tasks)
        lines.append(f"| {_md(algo)} | " + " | ".join(map(_md, cells)) + " |")
    return lines


def _improvement_table(agg: Aggregates) -> list[str]:
    algos = agg.scores.algorithms
    by = {(i.algorithm, i.other): i for i in agg.improvement}
    lines = [
        "| P(row > column) | " + " | ".join(map(_md, algos)) + " |",
        "|---|" + "---|" * len(algos),
    ]
    for a in algos:
        cells = ("" if a == b else _interval(by[a, b]) for b in algos)
        lines.append(f"| {_md(a)} | " + " | ".join(cells) + " |")
    return lines


def aggregate_markdown(agg: Aggregates, title: str) -> str:
    """``across_tasks.md``: the caption, then the aggregate, range, entry and P(X > Y)
    tables and what was left out."""
    lines = [f"# Across tasks: {title}", "", caption(agg), ""]
    lines += _estimate_table(agg)
    lines += ["", "## Score ranges", ""] + _range_table(agg)
    lines += ["", "## The suite's entry of each algorithm on each task (policy, budget)", ""]
    lines += _entries_table(agg)
    if agg.improvement:
        lines += [
            "",
            "## Probability of improvement",
            "",
            "P(X > Y): the probability that a run of X scores above a run of Y on a task "
            "(Mann-Whitney U / (n_X n_Y), ties count half), averaged over tasks; row X, "
            f"column Y, with its {DEFAULT_LEVEL:.0%} stratified bootstrap interval. "
            "P > 0.5 with the interval above 0.5: X tends to beat Y.",
            "",
        ]
        lines += _improvement_table(agg)
    if agg.scores.left_out:
        lines += ["", "## Left out", ""] + [f"- {_md(line)}" for line in agg.scores.left_out]
    return "\n".join(lines) + "\n"


def write_tables(agg: Aggregates, title: str, out: str | Path) -> list[Path]:
    """``across_tasks.csv`` / ``.md`` and (with two or more algorithms)
    ``probability_of_improvement.csv`` into ``out``; their paths."""
    out = Path(out)
    tables = write_table_files(
        estimates_frame(agg),
        aggregate_markdown(agg, title),
        out,
        AGGREGATE_CSV,
        AGGREGATE_MD,
        "%.17g",
    )
    if not agg.improvement:
        return tables
    pairs = out / IMPROVEMENT_CSV
    frame = pd.DataFrame(agg.improvement)
    atomic_write_text(pairs, frame.to_csv(index=False, float_format="%.17g"))
    return [*tables, pairs]
