"""Tables of the two-agent kinds (read the tidy table only).

``two_agent.md`` / ``.csv``: per (game, pairing): runs n; final exact per-step reward
R of agent 1, agent 2 and their mean (mean and std over runs, as LOLA's Table 3);
%TFT of each agent (share of runs whose final policy is tit-for-tat by
:func:`pgbench.games.playing.is_tit_for_tat`), the soft %TFT (mean probability of the
TFT action in the four memory states); the final P(cooperate) per own-view state
averaged over runs and both agents; and, where episodes were played, the mean sampled
per-step reward of both agents over the last 10 iterations (LOLA-DiCE's measure).

``game_estimators.md`` / ``.csv``: per (game, point, estimator, batch size) the median
over seeds of cosine, correlation and relative error against the exact derivative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.results import atomic_write_text

STATES = ("start", "CC", "CD", "DC", "DD")
TWO_AGENT_MD = "two_agent.md"
ESTIMATORS_MD = "game_estimators.md"


def two_agent_table(table: pd.DataFrame) -> pd.DataFrame:
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


def estimator_table(table: pd.DataFrame) -> pd.DataFrame:
    t = table[(table["experiment"] == "game-estimators")]
    t = t[t["metric"].isin(["cosine", "correlation", "rel_error"])]
    if t.empty:
        return pd.DataFrame()
    out = t.pivot_table(
        index=["env_label", "theta", "method_label", "x"],
        columns="metric",
        values="value",
        aggfunc="median",
        sort=False,
    ).reset_index()
    n = t.groupby(["env_label", "theta", "method_label", "x"], sort=False)["seed"].nunique()
    out["n_seeds"] = n.to_numpy()
    return out.rename(
        columns={
            "env_label": "game",
            "theta": "point",
            "method_label": "estimator",
            "x": "batch_size",
        }
    )


def write_tables(table: pd.DataFrame, run_dir) -> list[Path]:
    """Write the two-agent tables that apply to ``table``; returns the paths written."""
    if table is None or table.empty:
        return []
    run_dir = Path(run_dir)
    title = ", ".join(dict.fromkeys(table["suite"].astype(str)))
    written = []
    df = two_agent_table(table)
    if not df.empty:
        atomic_write_text(run_dir / "two_agent.csv", df.to_csv(index=False, float_format="%.6g"))
        atomic_write_text(run_dir / TWO_AGENT_MD, two_agent_markdown(df, title))
        written += [run_dir / "two_agent.csv", run_dir / TWO_AGENT_MD]
    est = estimator_table(table)
    if not est.empty:
        md = [
            "# Game estimators against exact derivatives: " + title,
            "",
            "Median over seeds of the mean over repeats; rel_error = ||est - exact|| / ||exact||.",
            "",
            "| game | point | estimator | N | cosine | correlation | rel. error | seeds |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in est.itertuples(index=False):
            md.append(
                f"| {r.game} | {r.point} | {r.estimator} | {r.batch_size} | {r.cosine:.3f} | "
                f"{r.correlation:.3f} | {r.rel_error:.3g} | {r.n_seeds} |"
            )
        atomic_write_text(
            run_dir / "game_estimators.csv", est.to_csv(index=False, float_format="%.6g")
        )
        atomic_write_text(run_dir / ESTIMATORS_MD, "\n".join(md) + "\n")
        written += [run_dir / "game_estimators.csv", run_dir / ESTIMATORS_MD]
    return written
