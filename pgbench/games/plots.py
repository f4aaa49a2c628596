"""Figures of the two-agent kinds (read the tidy table only).

* ``two_agent_rewards.png``: one panel per game; per pairing, the mean over runs of
  each agent's exact per-step reward (1 - gamma) V^k against iteration (agent 1 solid,
  agent 2 dashed) with a band of +-1.96 standard errors of that mean; n runs in the legend.
* ``two_agent_policies.png``: one panel per game; per pairing and agent, the mean over
  runs of the final P(cooperate) in each own-view state, error bars +-1 std over runs.
* ``game_estimators.png``: one row per (game, point); cosine, correlation and relative
  error of each estimator against batch size (median over seeds, 95% bootstrap interval
  over seeds; :func:`pgbench.report.seed_summary`).
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pgbench.results import atomic_write_bytes  # noqa: E402

REWARDS_PNG = "two_agent_rewards.png"
POLICIES_PNG = "two_agent_policies.png"
ESTIMATORS_PNG = "game_estimators.png"
STATES = ("start", "CC", "CD", "DC", "DD")


def _save(fig, path: Path) -> Path:
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def reward_curves(table: pd.DataFrame, run_dir) -> Path | None:
    rows = table[
        (table["experiment"] == "two-agent") & table["metric"].isin(["reward_1", "reward_2"])
    ]
    if rows.empty:
        return None
    games = list(dict.fromkeys(rows["env_label"]))
    fig, axes = plt.subplots(1, len(games), squeeze=False, figsize=(6.5 * len(games) + 2, 4.2))
    cmap = plt.get_cmap("tab10")
    labels = list(dict.fromkeys(rows["method_label"]))
    for g, game in enumerate(games):
        ax = axes[0][g]
        here = rows[rows["env_label"] == game]
        for i, label in enumerate(labels):
            part = here[here["method_label"] == label]
            if part.empty:
                continue
            for k, style in ((1, "-"), (2, "--")):
                wide = part[part["metric"] == f"reward_{k}"].pivot_table(
                    index="x", columns="seed", values="value"
                )
                m = wide.mean(axis=1)
                se = wide.std(axis=1, ddof=1).fillna(0) / np.sqrt(wide.shape[1])
                n = wide.shape[1]
                ax.plot(
                    m.index,
                    m,
                    style,
                    color=cmap(i % 10),
                    lw=1.3,
                    label=f"{label} (n={n})" if k == 1 else None,
                )
                ax.fill_between(
                    m.index, m - 1.96 * se, m + 1.96 * se, color=cmap(i % 10), alpha=0.12, lw=0
                )
        ax.set_title(f"{game}: per-step reward (agent 1 solid, agent 2 dashed)", fontsize=9)
        ax.set_xlabel("iteration")
        ax.set_ylabel("(1 - gamma) V, exact")
        ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=7, title="pairing (runs)", title_fontsize=7)
    fig.set_layout_engine("constrained")
    return _save(fig, Path(run_dir) / REWARDS_PNG)


def final_policies(table: pd.DataFrame, run_dir) -> Path | None:
    t = table[table["experiment"] == "two-agent"]
    if t.empty:
        return None
    last = t.groupby(["cell"])["x"].transform("max")
    t = t[(t["x"] == last) & t["metric"].str.match(r"^p_(start|CC|CD|DC|DD)_[12]$")]
    games = list(dict.fromkeys(t["env_label"]))
    labels = list(dict.fromkeys(t["method_label"]))
    fig, axes = plt.subplots(len(games), 1, squeeze=False, figsize=(11, 3.6 * len(games)))
    cmap = plt.get_cmap("tab20")
    width = 0.8 / (2 * max(len(labels), 1))
    for g, game in enumerate(games):
        ax = axes[g][0]
        here = t[t["env_label"] == game]
        j = 0
        for i, label in enumerate(labels):
            for k in (1, 2):
                vals = [
                    here[(here["method_label"] == label) & (here["metric"] == f"p_{s}_{k}")][
                        "value"
                    ]
                    for s in STATES
                ]
                if all(v.empty for v in vals):
                    continue
                pos = np.arange(5) - 0.4 + width * (j + 0.5)
                ax.bar(
                    pos,
                    [v.mean() for v in vals],
                    width,
                    yerr=[v.std(ddof=0) for v in vals],
                    color=cmap((2 * i + k - 1) % 20),
                    label=f"{label}, agent {k}",
                    capsize=1.5,
                )
                j += 1
        ax.set_xticks(np.arange(5), [f"P(C | {s})" for s in STATES])
        ax.set_ylim(0, 1.05)
        ax.set_title(
            f"{game}: final probability of cooperating, own view (mean +- std over runs)",
            fontsize=9,
        )
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=6, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.set_layout_engine("constrained")
    return _save(fig, Path(run_dir) / POLICIES_PNG)


def estimator_quality(table: pd.DataFrame, run_dir) -> Path | None:
    from pgbench.report import seed_summary

    t = table[table["experiment"] == "game-estimators"]
    if t.empty:
        return None
    metrics = (
        ("cosine", "cosine to exact", False),
        ("correlation", "correlation with exact", False),
        ("rel_error", "relative error", True),
    )
    panels = list(dict.fromkeys(zip(t["env_label"], t["theta"], strict=True)))
    fig, axes = plt.subplots(len(panels), 3, squeeze=False, figsize=(14, 3.4 * len(panels)))
    cmap = plt.get_cmap("tab10")
    labels = list(dict.fromkeys(t["method_label"]))
    for m, (metric, ylabel, ylog) in enumerate(metrics):
        s = seed_summary(t, metric, np.random.default_rng(0))
        for r, (game, theta) in enumerate(panels):
            ax = axes[r][m]
            here = s[(s["env_label"] == game) & (s["theta"] == theta)]
            for i, label in enumerate(labels):
                b = here[here["method_label"] == label].sort_values("x")
                if b.empty:
                    continue
                ax.plot(
                    b["x"],
                    b["median"],
                    "o-",
                    ms=3,
                    color=cmap(i % 10),
                    label=label if r == 0 and m == 0 else None,
                )
                ax.fill_between(b["x"], b["lo"], b["hi"], color=cmap(i % 10), alpha=0.12, lw=0)
            ax.set_xscale("log", base=2)
            if ylog:
                ax.set_yscale("log")
            ax.set_xlabel("batch size (episodes)", fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_title(f"{game} · {theta}", fontsize=8, loc="left")
            ax.grid(alpha=0.3, which="both")
    fig.legend(loc="outside right upper", fontsize=7, title="estimator", title_fontsize=7)
    fig.set_layout_engine("constrained")
    return _save(fig, Path(run_dir) / ESTIMATORS_PNG)


def make_plots(table: pd.DataFrame, run_dir) -> list[Path]:
    """Every two-agent figure that applies to ``table``, written into ``run_dir``."""
    if table is None or table.empty:
        return []
    return [
        p
        for p in (
            reward_curves(table, run_dir),
            final_policies(table, run_dir),
            estimator_quality(table, run_dir),
        )
        if p
    ]
