"""The game-estimators kind's figure and table (read the tidy table only).

* ``game_estimators.png``: one row per (game, point); cosine, correlation and relative
  error of each estimator against batch size (median over seeds, 95% bootstrap interval
  over seeds; :func:`pgbench.experiments.summaries.seed_bands`).
* ``game_estimators.md`` / ``.csv``: per (game, point, estimator, batch size) the median
  over seeds of cosine, correlation and relative error against the exact derivative.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pgbench.experiments.summaries import (
    pyplot,
    save_png,
    seed_bands,
    suite_title,
    write_table_files,
)

ESTIMATORS_PNG = "game_estimators.png"
ESTIMATORS_CSV = "game_estimators.csv"
ESTIMATORS_MD = "game_estimators.md"


def estimator_quality(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``game_estimators.png``; None without game-estimator rows."""
    plt = pyplot()
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
        s = seed_bands(t, metric)
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
    return save_png(fig, Path(run_dir) / ESTIMATORS_PNG, dpi=110)


def estimator_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (game, point, estimator, batch size): the median over seeds of cosine,
    correlation and relative error, and ``n_seeds`` (the columns of ``game_estimators.csv``);
    empty without game-estimator rows."""
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


def estimator_markdown(est: pd.DataFrame, title: str) -> str:
    """``game_estimators.md``: the rows of :func:`estimator_table` ``est``, with a caption."""
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
    return "\n".join(md) + "\n"


def write_table(table: pd.DataFrame, run_dir: str | Path) -> list[Path]:
    """Write ``game_estimators.csv`` and ``game_estimators.md`` into ``run_dir``; none
    without game-estimator rows. Returns the paths written."""
    est = estimator_table(table)
    if est.empty:
        return []
    return write_table_files(
        est,
        estimator_markdown(est, suite_title(table)),
        run_dir,
        ESTIMATORS_CSV,
        ESTIMATORS_MD,
        "%.6g",
    )


def write_outputs(table: pd.DataFrame, out: str | Path, settings: dict) -> list[Path]:
    """``game_estimators.png``, ``game_estimators.csv`` and ``game_estimators.md`` of the
    game-estimator rows of ``table``, written into ``out``; none without such rows.
    ``settings`` (the run's report settings) are not used."""
    if table is None or table.empty:
        return []
    figure = estimator_quality(table, out)
    return [*([figure] if figure else []), *write_table(table, out)]
