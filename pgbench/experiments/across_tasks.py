"""Learning-curve results as (runs, tasks) matrices of normalized scores, the input of
:mod:`pgbench.stats`' cross-task aggregates (Agarwal et al. 2021).

* A *task* is an env label with a reference range (:mod:`pgbench.suite.score_ranges`);
  its score is the range's metric (``eval_return``, or the exact J of tabular envs),
  normalized: (score - low) / (high - low).
* An *algorithm* across tasks is what the suite's entries say they count as
  (``aggregate_as``), else their registry name (``ppo-clip``): the settings tuned per task,
  as papers report one algorithm. A key with several entries (method label and policy) on
  one task splits into its method labels (and ``label/policy`` where a label runs with
  several policies).
* The matrices must be rectangular: the tasks are the subset (two or more) that the most
  algorithms share, chosen to maximize algorithms x tasks (ties: more tasks, then the
  suite's order); an algorithm's runs are the seeds it ran on every one of them.
  What is left out, and why, is in :attr:`TaskScores.left_out`.

:func:`final_scores` scores the last curve point of every seed; :func:`curve_scores` the
same matrices at fractions of each task's budget (sample-efficiency curves).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pgbench.registry import ScoreRange
from pgbench.stats import normalized_scores

EXPERIMENT = "learning-curve"
MAX_EXHAUSTIVE_TASKS = 12  # beyond: every task, and the algorithms that ran all of them


@dataclass(frozen=True)
class TaskScores:
    """Normalized scores of algorithms on a common set of tasks.

    Attributes:
        scores: algorithm -> (runs, tasks) float64 normalized scores, columns in
            ``tasks`` order, rows in ``seeds[algorithm]`` order.
        tasks: the env labels of the columns.
        ranges: env label -> the :class:`~pgbench.registry.ScoreRange` used.
        seeds: algorithm -> the seeds of its rows.
        entries: algorithm -> env label -> (method label, policy label) scored there.
        budgets: algorithm -> env label -> that entry's env-step budget (its last x).
        left_out: one line per env or algorithm left out, saying why.
    """

    scores: dict[str, np.ndarray]
    tasks: tuple[str, ...]
    ranges: dict[str, ScoreRange]
    seeds: dict[str, tuple[int, ...]]
    entries: dict[str, dict[str, tuple[str, str]]]
    budgets: dict[str, dict[str, int]] = field(default_factory=dict)
    left_out: tuple[str, ...] = field(default_factory=tuple)

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self.scores)


def curve_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["experiment"] == EXPERIMENT]


def algorithm_keys(rows: pd.DataFrame, groups: dict[str, str] | None = None) -> pd.Series:
    """The algorithm across tasks of each row of ``rows`` (see the module docstring):
    ``groups[method label]`` where the suite named it (``aggregate_as``), else the
    registry name; a key with two entries on one task splits into method labels, and a
    label that runs with several policies on some task into ``label/policy`` on every
    task. Name the rows of the tasks scored only (:func:`scored_rows`): an entry on an
    env without a range must not rename the algorithm on the others."""
    groups = groups or {}
    cols = ["env_label", "policy_label", "method_label", "method"]
    entries = rows[cols].drop_duplicates()
    first = {
        (env, pol, label, method): groups.get(label, method)
        for env, pol, label, method in entries.itertuples(index=False, name=None)
    }
    per_task: dict[tuple[str, str], int] = {}
    for (env, *_), key in first.items():
        per_task[env, key] = per_task.get((env, key), 0) + 1
    split = {key for (_, key), n in per_task.items() if n > 1}
    label_policies = entries.groupby(["env_label", "method_label"])["policy_label"].nunique()
    several = {label for (_, label), n in label_policies.items() if n > 1}

    def key(entry: tuple) -> str:
        _, pol, label, _ = entry
        if first[entry] not in split:
            return first[entry]
        return f"{label}/{pol}" if label in several else label

    keys = {entry: key(entry) for entry in first}
    return pd.Series(
        [keys[t] for t in rows[cols].itertuples(index=False, name=None)],
        index=rows.index,
        dtype=object,
    )


def scored_rows(
    table: pd.DataFrame, ranges: dict[str, ScoreRange], groups: dict[str, str] | None = None
) -> pd.DataFrame:
    """The learning-curve rows of ``table`` on envs with a range, with the column
    ``algorithm`` (:func:`algorithm_keys` of these rows): the one naming of the report and
    of both sides of ``pgbench compare``."""
    rows = curve_rows(table)
    rows = rows[rows["env_label"].isin(ranges)]
    keys = algorithm_keys(rows, groups) if len(rows) else pd.Series(dtype=object)
    return rows.assign(algorithm=keys)


def _choose_tasks(cover: dict[str, set[str]], tasks: list[str]) -> tuple[str, ...]:
    """The subset of ``tasks`` (two or more) maximizing algorithms x tasks, where
    ``cover`` maps each algorithm to the tasks it ran; () when no algorithm ran two."""

    def value(subset) -> tuple[int, int]:
        n_algos = sum(1 for ran in cover.values() if ran.issuperset(subset))
        return (n_algos * len(subset) if n_algos else 0, len(subset))

    if len(tasks) > MAX_EXHAUSTIVE_TASKS:
        return tuple(tasks) if value(tasks)[0] else ()
    best, best_value = (), (0, 0)
    for size in range(2, len(tasks) + 1):
        for subset in itertools.combinations(tasks, size):
            v = value(subset)
            if v > best_value:
                best, best_value = subset, v
    return best


def _per_seed(rows: pd.DataFrame, metric: str, at: np.ndarray) -> pd.DataFrame:
    """seed -> value of ``metric`` at the first point at or after each x of ``at``
    (columns); NaN past the seed's last point."""
    picked = rows[rows["metric"] == metric]
    out = {}
    for seed, seed_rows in picked.groupby("seed", sort=True):
        series = seed_rows.drop_duplicates("x", keep="last").set_index("x")["value"].sort_index()
        out[int(seed)] = series.reindex(at, method="bfill").to_numpy(dtype=np.float64)
    return pd.DataFrame(out, index=range(len(at))).T


def _seeds_text(seeds) -> str:
    return ", ".join(str(s) for s in sorted(seeds))


def _task_scores(
    table: pd.DataFrame,
    ranges: dict[str, ScoreRange],
    fractions: np.ndarray,
    groups: dict[str, str] | None,
) -> tuple[TaskScores, dict[str, np.ndarray]]:
    rows = curve_rows(table)
    if rows.empty:
        return TaskScores({}, (), {}, {}, {}), {}
    env_order = list(dict.fromkeys(rows["env_label"]))
    left = [
        f"env {env!r}: no reference range (give it a score_range in the suite)"
        for env in env_order
        if env not in ranges
    ]
    tasks = [env for env in env_order if env in ranges]
    scored = scored_rows(table, ranges, groups)
    algo_order = list(dict.fromkeys(scored["algorithm"]))
    cover = {a: set(scored.loc[scored["algorithm"] == a, "env_label"]) for a in algo_order}
    chosen = _choose_tasks(cover, tasks)
    kept = sum(1 for ran in cover.values() if ran.issuperset(chosen))
    for env in tasks:
        if env not in chosen:
            with_it = sum(1 for ran in cover.values() if ran.issuperset({*chosen, env}))
            left.append(
                f"env {env!r}: with it, {with_it} algorithm(s) share the tasks; without, "
                f"{kept} on {len(chosen)}"
            )
    values: dict[str, list[pd.DataFrame]] = {}
    entries: dict[str, dict[str, tuple[str, str]]] = {}
    spent: dict[str, dict[str, int]] = {}
    for algo in algo_order:
        if not chosen or not cover[algo].issuperset(chosen):
            ran = ", ".join(sorted(cover[algo]))
            left.append(f"algorithm {algo!r}: ran on {ran} only")
            continue
        mine = scored[(scored["algorithm"] == algo) & scored["env_label"].isin(chosen)]
        per_task = []
        for env in chosen:
            task = mine[mine["env_label"] == env]
            first = task.iloc[0]
            budget = int(task["x"].max())
            entries.setdefault(algo, {})[env] = (first.method_label, first.policy_label)
            spent.setdefault(algo, {})[env] = budget
            # every seed is scored at the entry's budget (its last grid point)
            per_task.append(_per_seed(task, ranges[env].metric, np.round(fractions * budget)))
        values[algo] = per_task
    scores, seeds, curves = {}, {}, {}
    for algo, per_task in values.items():
        ran = [set(f.index) for f in per_task]
        common = sorted(set.intersection(*ran))
        # (runs, tasks, points) of raw scores, then normalized per task
        raw = np.stack([f.loc[common].to_numpy(dtype=np.float64) for f in per_task], axis=1)
        finite = np.all(np.isfinite(raw), axis=(1, 2))
        dropped = set.union(*ran) - {s for s, ok in zip(common, finite, strict=True) if ok}
        if dropped:
            left.append(
                f"algorithm {algo!r}: seed(s) {_seeds_text(dropped)} left out (without a "
                "score at the budget of every task: not run, failed or cut short there)"
            )
        if not finite.any():
            entries.pop(algo, None)
            spent.pop(algo, None)
            continue
        raw = raw[finite]
        low = np.array([ranges[env].low for env in chosen])
        high = np.array([ranges[env].high for env in chosen])
        norm = normalized_scores(np.moveaxis(raw, 1, -1), low, high)  # (runs, points, tasks)
        seeds[algo] = tuple(int(s) for s, ok in zip(common, finite, strict=True) if ok)
        scores[algo] = norm[:, -1, :]
        curves[algo] = norm
    for env in chosen:
        budgets = {spent[a][env] for a in scores}
        if len(budgets) > 1:
            listed = ", ".join(f"{a} {spent[a][env]:,}" for a in scores)
            left.append(f"env {env!r}: the algorithms' budgets differ ({listed} env steps)")
    result = TaskScores(
        scores,
        tuple(chosen) if scores else (),
        {e: ranges[e] for e in chosen},
        seeds,
        entries,
        spent,
        tuple(left),
    )
    return result, curves


def final_scores(
    table: pd.DataFrame, ranges: dict[str, ScoreRange], groups: dict[str, str] | None = None
) -> TaskScores:
    """Normalized scores at the last curve point of every seed of the learning-curve rows
    of ``table`` (see the module docstring); empty ``scores`` where no two tasks with a
    range share an algorithm. ``groups``: method label -> the algorithm it counts as (the
    suite's ``aggregate_as``, recorded in the run's settings)."""
    return _task_scores(table, ranges, np.ones(1), groups)[0]


def curve_scores(
    table: pd.DataFrame,
    ranges: dict[str, ScoreRange],
    fractions: np.ndarray,
    groups: dict[str, str] | None = None,
) -> tuple[TaskScores, dict[str, np.ndarray]]:
    """(:class:`TaskScores` of the last fraction, algorithm -> (runs, F, tasks) normalized
    scores at each of ``fractions`` (F,) of every task's budget): a seed's score at x is
    that of its first curve point at or after x (the state after the update that reached
    x env steps)."""
    return _task_scores(table, ranges, np.asarray(fractions, dtype=np.float64), groups)
