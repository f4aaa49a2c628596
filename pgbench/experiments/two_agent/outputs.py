"""The two-agent kind's figures and table (read the tidy table only).

* ``two_agent_rewards.png``: one panel per game; per pairing, the mean over runs of
  each agent's exact per-step reward (1 - gamma) V^k against iteration (agent 1 solid,
  agent 2 dashed) with a band of +-1.96 standard errors of that mean; n runs in the legend.
* ``two_agent_policies.png``: one panel per game; per pairing and agent, the mean over
  runs of the final P(cooperate) in each own-view state, error bars +-1 std over runs.
* ``two_agent.md`` / ``.csv``: per (game, pairing): runs n; final exact per-step reward
  R of agent 1, agent 2 and their mean (mean and std over runs, as LOLA's Table 3);
  %TFT of each agent (share of runs whose final policy is tit-for-tat by
  :func:`pgbench.games.playing.is_tit_for_tat`), the soft %TFT (mean probability of the
  TFT action in the four memory states); the final P(cooperate) per own-view state
  averaged over runs and both agents; and, where episodes were played, the mean sampled
  per-step reward of both agents over the last 10 iterations (LOLA-DiCE's measure).

The game-estimators kind's outputs are in :mod:`.estimator_outputs`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.experiments.summaries import pyplot, save_png, suite_title, write_table_files

REWARDS_PNG = "two_agent_rewards.png"
POLICIES_PNG = "two_agent_policies.png"
TWO_AGENT_CSV = "two_agent.csv"
TWO_AGENT_MD = "two_agent.md"
STATES = ("start", "CC", "CD", "DC", "DD")


# ---------------------------------------------------------------- figures


def reward_curves(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``two_agent_rewards.png``; None without two-agent rows."""
    plt = pyplot()
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
    return save_png(fig, Path(run_dir) / REWARDS_PNG, dpi=110)


def final_policies(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``two_agent_policies.png``; None without two-agent rows."""
    plt = pyplot()
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
    return save_png(fig, Path(run_dir) / POLICIES_PNG, dpi=110)


# ---------------------------------------------------------------- table


def two_agent_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (game, pairing) of the final policies' rewards and cooperation (the
    columns of ``two_agent.csv``; see the module docstring); empty without two-agent rows."""
    t = table[table["experiment"] == "two-agent"]
    if t.empty:
        return pd.DataFrame()
    last = t.groupby("cell")["x"].transform("max")
    final = t[t["x"] == last].pivot_table(
        index=["env_label", "method_label", "seed"], columns="metric", values="value"
    )
    sampled = t[t["metric"].isin(["sampled_reward_1", "sampled_reward_2"]) & (t["x"] >= last - 10)]
    late = sampled.groupby(["env_label", "method_label", "seed"])["value"].mean()
    rows = []
    for (game, label), f in final.groupby(level=[0, 1], sort=False):
        both = (f["reward_1"] + f["reward_2"]) / 2
        row = {
            "game": game,
            "pairing": label,
            "runs": len(f),
            "R1_mean": f["reward_1"].mean(),
            "R1_std": f["reward_1"].std(ddof=0),
            "R2_mean": f["reward_2"].mean(),
            "R2_std": f["reward_2"].std(ddof=0),
            "R_mean": both.mean(),
            "R_std": both.std(ddof=0),
            "tft1_pct": 100 * f["tft_1"].mean(),
            "tft2_pct": 100 * f["tft_2"].mean(),
            "tft_soft_pct": 100 * (f["tft_soft_1"].mean() + f["tft_soft_2"].mean()) / 2,
        }
        for s in STATES:
            row[f"p_{s}"] = (f[f"p_{s}_1"].mean() + f[f"p_{s}_2"].mean()) / 2
        key = late.loc[(game, label)] if (game, label) in late.index.droplevel(2) else None
        row["sampled_last10_mean"] = float(key.mean()) if key is not None else np.nan
        row["sampled_last10_std"] = float(key.std(ddof=0)) if key is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _f(v, d=2):
    return "-" if pd.isna(v) else f"{v:.{d}f}"


def two_agent_markdown(df: pd.DataFrame, title: str) -> str:
    """``two_agent.md``: the rows of :func:`two_agent_table` ``df``, with a caption."""
    lines = [
        f"# Two-agent learning: {title}",
        "",
        "R: exact per-step reward (1 - gamma) V of the final policies, mean (std) over runs; "
        "R both: the agents' mean. %TFT: share of runs whose final policy is tit-for-tat "
        "(P(C|CC) > .5, P(C|DC) > .5, P(C|CD) < .5, P(C|DD) < .5, own view); soft: mean "
        "probability of the TFT action in those states. P(C|s): final, averaged over runs "
        "and agents. sampled: played per-step reward, both agents, last 10 iterations.",
        "",
        "| game | pairing | n | R agent 1 | R agent 2 | R both | %TFT 1 | %TFT 2 | soft %TFT "
        "| P(C\\|start) | P(C\\|CC) | P(C\\|CD) | P(C\\|DC) | P(C\\|DD) | sampled |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in df.itertuples(index=False):
        lines.append(
            f"| {r.game} | {r.pairing} | {r.runs} | {_f(r.R1_mean)} ({_f(r.R1_std)}) | "
            f"{_f(r.R2_mean)} ({_f(r.R2_std)}) | {_f(r.R_mean)} ({_f(r.R_std)}) | "
            f"{_f(r.tft1_pct, 0)} | {_f(r.tft2_pct, 0)} | {_f(r.tft_soft_pct, 0)} | "
            + " | ".join(_f(getattr(r, f"p_{s}")) for s in STATES)
            + f" | {_f(r.sampled_last10_mean)} ({_f(r.sampled_last10_std)}) |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files


def write_table(table: pd.DataFrame, run_dir: str | Path) -> list[Path]:
    """Write ``two_agent.csv`` and ``two_agent.md`` into ``run_dir``; none without
    two-agent rows. Returns the paths written."""
    df = two_agent_table(table)
    if df.empty:
        return []
    return write_table_files(
        df, two_agent_markdown(df, suite_title(table)), run_dir, TWO_AGENT_CSV, TWO_AGENT_MD, "%.6g"
    )


def write_outputs(table: pd.DataFrame, out: str | Path, settings: dict) -> list[Path]:
    """``two_agent_rewards.png``, ``two_agent_policies.png``, ``two_agent.csv`` and
    ``two_agent.md`` of the two-agent rows of ``table``, written into ``out``; none without
    such rows. ``settings`` (the run's report settings) are not used."""
    if table is None or table.empty:
        return []
    figures = [reward_curves(table, out), final_policies(table, out)]
    return [*(p for p in figures if p), *write_table(table, out)]
