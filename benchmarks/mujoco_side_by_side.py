"""pgbench's MuJoCo run next to Stable-Baselines3's PPO: final evaluation returns per task
and D4RL-normalized scores across tasks (issue 13).

Reads a pgbench run directory of ``suites/mujoco.yaml`` (``pgbench run suites/mujoco.yaml
--out results/mujoco``; finished cells only, :func:`pgbench.results.load_results`) and the
CSV folder of ``benchmarks/sb3_mujoco.py``, and prints markdown::

    python benchmarks/mujoco_side_by_side.py --pgbench results/mujoco --sb3 DIR [--json F]

Algorithms: the pgbench rows grouped by registry name (``ppo-clip`` -> "pgbench PPO", the
``ppo-*`` entries tuned per task; ``a2c`` -> "pgbench A2C"; ``trpo`` -> "pgbench TRPO",
``trpo`` and ``trpo-halfcheetah``), and "SB3 PPO" (method ``sb3-ppo``). Each seed's score
is its last curve point's ``eval_return`` (as ``final_performance.md``).

* Per task (env label): for each algorithm entry (method label / policy label) the final
  evaluation return's IQM (interquartile mean over seeds) with its 95% percentile
  bootstrap interval over seeds, exactly as
  :func:`pgbench.experiments.learning_curve.outputs.final_performance` computes it
  (:func:`pgbench.stats.bootstrap_ci` of :func:`pgbench.stats.iqm`, Generator
  ``group_rng(0, (env label, policy label, method label))``), the mean, the seeds, and the
  median over seeds of the training minutes (evaluation excluded on both sides; pgbench
  also excludes Numba compilation); then whether pgbench PPO's IQM lies in SB3 PPO's
  interval (issue 13's bar), and P(pgbench seed > SB3 seed) with two-sided Mann-Whitney
  and Welch p-values of the two sets of final returns (:func:`pgbench.stats.mannwhitney_p`,
  :func:`pgbench.stats.welch_p`).
* Across tasks: the tasks where both pgbench PPO and SB3 PPO have seeds and a reference
  range (:func:`pgbench.envs.score_ranges.gymnasium_range`: D4RL's random / expert
  returns); each algorithm with one entry on every such task, on the seeds it ran on all of
  them; scores normalized by :func:`pgbench.stats.normalized_scores`; IQM, median, mean
  and optimality gap with stratified bootstrap intervals (:func:`pgbench.stats.aggregate`,
  Generator ``numpy.random.default_rng(0)``) and P(pgbench PPO > SB3 PPO)
  (:func:`pgbench.stats.probability_of_improvement`, its own ``default_rng(0)``).
* Missing: the (algorithm, task) pairs short of ``--seeds`` on ``--tasks`` (the SB3 side
  and every pgbench algorithm the run has), and budgets that differ on a task.

``--json FILE`` writes the same numbers. Exit status 2 with one line for a path that holds
no results.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.envs.score_ranges import gymnasium_range
from pgbench.errors import PgbenchError
from pgbench.results import load_results
from pgbench.stats import (
    aggregate,
    bootstrap_ci,
    group_rng,
    iqm,
    mannwhitney_p,
    normalized_scores,
    probability_of_improvement,
    welch_p,
)

TASK_IDS = {"halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5"}
"""env label -> Gymnasium id, for SB3 rows (pgbench rows carry theirs in ``env_params``)."""

EXPERIMENT = "learning-curve"
SB3_METHOD = "sb3-ppo"
SB3 = "SB3 PPO"
PGBENCH_PPO = "pgbench PPO"
FAMILIES = {"ppo-clip": "PPO", "a2c": "A2C", "trpo": "TRPO"}
ORDER = (PGBENCH_PPO, "pgbench A2C", "pgbench TRPO", SB3)
METRIC_ORDER = ("iqm", "median", "mean", "optimality_gap")
SB3_COLUMNS = (
    "suite",
    "experiment",
    "env_label",
    "policy_label",
    "method",
    "method_label",
    "seed",
    "x_name",
    "x",
    "metric",
    "value",
)
SEED = 0
LEVEL = "95%"


@dataclass(frozen=True)
class Entry:
    """One algorithm entry's final results on one task.

    Attributes:
        algorithm: e.g. "pgbench PPO", "SB3 PPO".
        task: env label.
        method_label / policy_label: the entry's labels.
        seeds: (n,) seeds, ascending.
        final: (n,) final ``eval_return`` per seed (seed order).
        minutes: (n,) training minutes at that point per seed.
        budget: the largest x of the entry's rows (env steps).
        network: the policy's hidden layers and activation, e.g. ``256x256 relu``.
    """

    algorithm: str
    task: str
    method_label: str
    policy_label: str
    seeds: tuple[int, ...]
    final: np.ndarray
    minutes: np.ndarray
    budget: int
    network: str


def algorithm_of(method: str) -> str:
    """Display name of a table's ``method`` (registry name, or ``sb3-ppo``)."""
    if method == SB3_METHOD:
        return SB3
    return f"pgbench {FAMILIES.get(method, method)}"


def network_of(method: str, policy_label: str, policy_params: str | None) -> str:
    """``256x256 relu``-style description of a policy network: from a pgbench row's
    ``policy_params`` (defaults: no hidden layer, tanh), or an SB3 label
    ``sb3-zoo-<width>-<activation>`` (two layers)."""
    if method == SB3_METHOD:
        width, activation = policy_label.rsplit("-", 2)[-2:]
        return f"{width}x{width} {activation}"
    params = json.loads(policy_params or "{}")
    hidden = "x".join(str(h) for h in params.get("hidden", [])) or "linear"
    return f"{hidden} {params.get('activation', 'tanh')}"


def read_sb3(folder: str | Path) -> pd.DataFrame:
    """The tidy rows of every ``<task>-seed<k>.csv`` of ``folder`` (none: an empty frame)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PgbenchError(f"no SB3 results at {folder} (not a folder)")
    frames = []
    for path in sorted(folder.glob("*-seed*.csv")):
        frame = pd.read_csv(path, dtype={"value": str}, keep_default_na=False)
        frame["value"] = frame["value"].map(float)  # exact: the files hold repr(float)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=SB3_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def final_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Per seed (index, ascending) the ``eval_return`` and ``seconds`` of its last curve
    point (largest x); seeds whose final evaluation is NaN are dropped."""
    last = rows[rows["x"] == rows.groupby("seed")["x"].transform("max")]
    per_seed = last.pivot_table(index="seed", columns="metric", values="value", dropna=False)
    per_seed = per_seed.reindex(columns=["eval_return", "seconds"]).sort_index()
    return per_seed[np.isfinite(per_seed["eval_return"].to_numpy(dtype=np.float64))]


def entries(table: pd.DataFrame) -> list[Entry]:
    """Every (algorithm, task, method label, policy label) of learning-curve ``table``."""
    rows = table[table["experiment"] == EXPERIMENT]
    out = []
    keys = ["method", "env_label", "method_label", "policy_label"]
    for (method, task, label, policy), entry in rows.groupby(keys, sort=False):
        fin = final_points(entry)
        out.append(
            Entry(
                algorithm=algorithm_of(str(method)),
                task=str(task),
                method_label=str(label),
                policy_label=str(policy),
                seeds=tuple(int(s) for s in fin.index),
                final=fin["eval_return"].to_numpy(dtype=np.float64),
                minutes=fin["seconds"].to_numpy(dtype=np.float64) / 60.0,
                budget=int(entry["x"].max()),
                network=network_of(
                    str(method),
                    str(policy),
                    entry["policy_params"].iloc[0] if "policy_params" in entry else None,
                ),
            )
        )
    order = {name: i for i, name in enumerate(ORDER)}
    return sorted(out, key=lambda e: (order.get(e.algorithm, len(order)), e.algorithm))


def task_ids(pgbench: pd.DataFrame) -> dict[str, str]:
    """env label -> Gymnasium id: :data:`TASK_IDS`, overridden by the pgbench rows' own."""
    ids = dict(TASK_IDS)
    if "env_params" in pgbench:
        for label, params in pgbench[["env_label", "env_params"]].drop_duplicates().values:
            gym_id = json.loads(params or "{}").get("id")
            if gym_id:
                ids[str(label)] = str(gym_id)
    return ids


def summarize(entry: Entry) -> dict:
    """The per-task row of one entry (see the module docstring)."""
    n = entry.final.size
    lo = hi = math.nan
    if n:
        key = (entry.task, entry.policy_label, entry.method_label)
        lo, hi = bootstrap_ci(entry.final, group_rng(SEED, key), stat=iqm)
    return {
        "algorithm": entry.algorithm,
        "task": entry.task,
        "method_label": entry.method_label,
        "policy_label": entry.policy_label,
        "n_seeds": n,
        "seeds": list(entry.seeds),
        "finals": [float(v) for v in entry.final],
        "eval_iqm": float(iqm(entry.final)) if n else math.nan,
        "eval_iqm_lo": lo,
        "eval_iqm_hi": hi,
        "eval_mean": float(entry.final.mean()) if n else math.nan,
        "minutes_median": float(np.median(entry.minutes)) if n else math.nan,
        "budget": entry.budget,
        "network": entry.network,
    }


def verdict(ppo: dict, sb3: dict) -> str:
    """Where pgbench PPO's IQM lies relative to SB3 PPO's interval, in words, and whether the
    two sets of final returns differ: P(pgbench seed > SB3 seed) over all pairs of seeds
    (ties count half; :func:`pgbench.stats.probability_of_improvement` on one task) and
    two-sided Mann-Whitney and Welch p-values (with 2+ seeds a side).
    """
    x, lo, hi = ppo["eval_iqm"], sb3["eval_iqm_lo"], sb3["eval_iqm_hi"]
    where = "inside" if lo <= x <= hi else ("below" if x < lo else "above")
    text = (
        f"pgbench PPO's IQM {x:.1f} is {where} SB3 PPO's {LEVEL} interval [{lo:.1f}, {hi:.1f}] "
        f"({ppo['n_seeds']} and {sb3['n_seeds']} seeds)."
    )
    a, b = np.asarray(ppo["finals"]), np.asarray(sb3["finals"])
    if a.size >= 2 and b.size >= 2:
        wins = probability_of_improvement(a[:, None], b[:, None]).probability
        text += (
            f" Final returns, seed against seed: P(pgbench > SB3) = {wins:.2f};"
            f" Mann-Whitney p = {mannwhitney_p(a, b):.2f}, Welch p = {welch_p(a, b):.2f}."
        )
    return text


def across_tasks(found: list[Entry], ids: dict[str, str], task_order: list[str]) -> dict:
    """The aggregates across tasks (see the module docstring) as plain data."""
    by = {}
    for e in found:
        by.setdefault((e.algorithm, e.task), []).append(e)
    notes, tasks = [], []
    for t in task_order:
        sides = [by.get((a, t), []) for a in (PGBENCH_PPO, SB3)]
        if not all(len(s) == 1 and s[0].final.size for s in sides):
            short = [a for a, s in zip((PGBENCH_PPO, SB3), sides, strict=True) if not s]
            if any(sides):
                why = f"{', '.join(short)}: no seeds" if short else "no single entry per side"
                notes.append(f"{t} left out ({why})")
            continue
        if gymnasium_range(ids.get(t, "")) is None:
            notes.append(f"{t} left out (no reference range for {ids.get(t, t)!r})")
            continue
        tasks.append(t)
    if not tasks:
        return {"tasks": [], "notes": notes}
    ranges = {t: gymnasium_range(ids[t]) for t in tasks}
    low = np.array([ranges[t].low for t in tasks])
    high = np.array([ranges[t].high for t in tasks])
    scores, seeds = {}, {}
    for algo in dict.fromkeys(e.algorithm for e in found):
        picked = [by.get((algo, t), []) for t in tasks]
        if any(len(p) != 1 for p in picked):
            notes.append(f"{algo} left out (not one entry on each of {', '.join(tasks)})")
            continue
        common = sorted(set.intersection(*(set(p[0].seeds) for p in picked)))
        if not common:
            notes.append(f"{algo} left out (no seed on all of {', '.join(tasks)})")
            continue
        cols = [p[0].final[[p[0].seeds.index(s) for s in common]] for p in picked]
        scores[algo] = normalized_scores(np.stack(cols, axis=1), low, high)
        seeds[algo] = common
    if PGBENCH_PPO not in scores or SB3 not in scores:
        return {"tasks": [], "notes": notes}
    estimates = aggregate(scores, np.random.default_rng(SEED), METRIC_ORDER)
    improvement = probability_of_improvement(
        scores[PGBENCH_PPO],
        scores[SB3],
        np.random.default_rng(SEED),
        names=(PGBENCH_PPO, SB3),
    )
    return {
        "tasks": tasks,
        "ranges": {t: {"low": ranges[t].low, "high": ranges[t].high} for t in tasks},
        "seeds": seeds,
        "scores": {a: s.tolist() for a, s in scores.items()},
        "estimates": [asdict(e) for e in estimates],
        "probability_of_improvement": asdict(improvement),
        "notes": notes,
    }


def missing(found: list[Entry], task_order: list[str], seeds: list[int]) -> list[str]:
    """One line per (algorithm, task) short of ``seeds``, and per task whose budgets differ."""
    algos = [a for a in ORDER if a == SB3 or any(e.algorithm == a for e in found)]
    algos += [a for a in dict.fromkeys(e.algorithm for e in found) if a not in algos]
    out = []
    for t in task_order:
        for a in algos:
            have = {s for e in found if (e.algorithm, e.task) == (a, t) for s in e.seeds}
            lack = [s for s in seeds if s not in have]
            if not have:
                out.append(f"{a} on {t}: no seeds")
            elif lack:
                out.append(f"{a} on {t}: seeds {', '.join(map(str, lack))} missing")
        budgets = sorted({e.budget for e in found if e.task == t})
        if len(budgets) > 1:
            out.append(f"{t}: budgets differ ({', '.join(f'{b:,}' for b in budgets)} env steps)")
    return out


# ---------------------------------------------------------------- markdown


def _ci(row: dict) -> str:
    if not row["n_seeds"]:
        return "-"
    return f"{row['eval_iqm']:.1f} [{row['eval_iqm_lo']:.1f}, {row['eval_iqm_hi']:.1f}]"


def task_markdown(task: str, gym_id: str, rows: list[dict]) -> list[str]:
    lines = [
        f"## {task} ({gym_id})",
        "",
        f"| algorithm | entry | final eval IQM [{LEVEL} CI] | mean | n seeds "
        "| training min (median) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        mean = f"{r['eval_mean']:.1f}" if r["n_seeds"] else "-"
        mins = f"{r['minutes_median']:.1f}" if r["n_seeds"] else "-"
        entry = f"{r['method_label']} / {r['policy_label']}"
        lines.append(
            f"| {r['algorithm']} | {entry} | {_ci(r)} | {mean} | {r['n_seeds']} | {mins} |"
        )
    ppo = [r for r in rows if r["algorithm"] == PGBENCH_PPO and r["n_seeds"]]
    sb3 = [r for r in rows if r["algorithm"] == SB3 and r["n_seeds"]]
    if len(ppo) == 1 and len(sb3) == 1:
        lines += ["", verdict(ppo[0], sb3[0])]
        if ppo[0]["network"] != sb3[0]["network"]:
            lines.append(
                f"The policies differ: pgbench PPO {ppo[0]['network']}, "
                f"SB3 PPO {sb3[0]['network']}."
            )
    return lines + [""]


def _interval(e: dict) -> str:
    return f"{e['estimate']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def across_markdown(agg: dict) -> list[str]:
    lines = ["## Across tasks: D4RL-normalized final scores", ""]
    if not agg["tasks"]:
        lines.append("No task has both pgbench PPO and SB3 PPO seeds yet.")
        return lines + [f"* {n}" for n in agg["notes"]] + [""]
    ranges = "; ".join(f"{t} [{r['low']:g}, {r['high']:g}]" for t, r in agg["ranges"].items())
    lines += [
        f"Tasks: {', '.join(agg['tasks'])} (both pgbench PPO and SB3 PPO have seeds). "
        f"Score: (return - random) / (expert - random), D4RL's references: {ranges}. "
        f"{LEVEL} stratified bootstrap intervals (runs resampled within each task).",
        "",
        "| algorithm | runs (seeds) | IQM | median | mean | optimality gap |",
        "|---|---|---|---|---|---|",
    ]
    by_algo: dict[str, dict[str, dict]] = {}
    for e in agg["estimates"]:
        by_algo.setdefault(e["algorithm"], {})[e["metric"]] = e
    for algo, est in by_algo.items():
        seeds = ", ".join(map(str, agg["seeds"][algo]))
        cells = " | ".join(_interval(est[m]) for m in METRIC_ORDER)
        lines.append(f"| {algo} | {len(agg['seeds'][algo])} ({seeds}) | {cells} |")
    p = agg["probability_of_improvement"]
    lines += [
        "",
        f"P({p['algorithm']} > {p['other']}) = {p['probability']:.3f} "
        f"[{p['low']:.3f}, {p['high']:.3f}] over {p['n_tasks']} task(s), "
        f"{p['n_runs']} and {p['n_runs_other']} runs per task.",
    ]
    return lines + [f"* {n}" for n in agg["notes"]] + [""]


def report(pgbench: pd.DataFrame, sb3: pd.DataFrame, tasks: list[str], seeds: list[int]):
    """(markdown text, the numbers as a dict) of the two tables (see the module docstring)."""
    ours = entries(pgbench)
    found = ours + entries(sb3)
    ids = task_ids(pgbench)
    order = list(dict.fromkeys([*tasks, *(e.task for e in found)]))
    per_task = {t: [summarize(e) for e in found if e.task == t] for t in order}
    agg = across_tasks(found, ids, order)
    lacking = missing(found, tasks, seeds)
    if not ours:
        lacking.insert(0, "pgbench: no finished learning-curve cells in the run")
    lines = []
    for t in order:
        if per_task[t]:
            lines += task_markdown(t, ids.get(t, t), per_task[t])
    lines += across_markdown(agg)
    lines += ["## Missing", ""] + ([f"* {m}" for m in lacking] or ["Nothing."]) + [""]
    numbers = {"tasks": per_task, "across_tasks": agg, "missing": lacking}
    return "\n".join(lines), numbers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--pgbench", type=Path, required=True, help="pgbench run directory")
    p.add_argument("--sb3", type=Path, required=True, help="folder of sb3_mujoco.py's CSVs")
    p.add_argument("--tasks", nargs="+", default=list(TASK_IDS), help="tasks expected")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="seeds expected")
    p.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = p.parse_args(argv)
    try:
        text, numbers = report(
            load_results(args.pgbench), read_sb3(args.sb3), args.tasks, args.seeds
        )
    except PgbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2, default=_plain) + "\n")
        print(f"wrote {args.json}")
    return 0


def _plain(value):
    """JSON for numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
