"""The gradient-quality kind's files: its figures (:mod:`.figures`, :mod:`.across_figure`),
then its tables (the ranking per panel, :mod:`.ranking`, and across problems,
:mod:`.across_problems`); and the ranking as ``pgbench run`` prints it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pgbench.experiments.gradient_quality.across_figure import across_figure
from pgbench.experiments.gradient_quality.across_problems import across_problems, write_across
from pgbench.experiments.gradient_quality.figures import make_figures
from pgbench.experiments.gradient_quality.ranking import rank_matrix, ranking, write_ranking


def write_outputs(table: pd.DataFrame, out: str | Path, settings: dict) -> list[Path]:
    """``variance_mse.png``, ``cosine.png``, ``mse_cost.png``, ``across_problems.png``,
    ``ranking.csv``, ``ranking.md``, ``across_problems.csv`` and ``across_problems.md`` of
    the gradient-quality rows of ``table``, written into ``out``; none without such rows,
    none of the ``across_problems`` files where fewer than two estimators or two panels
    qualify (:func:`.across_problems.select`). ``settings`` (the run's report settings) are
    not used."""
    selection, across = across_problems(table)
    figures = make_figures(table, out)
    if selection is not None:
        figures.append(across_figure(table, selection, across, out))
    return [*figures, *write_ranking(table, out), *write_across(table, selection, across, out)]


def print_summary(console, table: pd.DataFrame) -> None:
    """The compact ranking: one table per (env, policy, theta), one row per estimator, its
    MSE rank at every batch size, and its median MSE (bootstrap interval over seeds),
    cosine, env steps and seconds per estimate at the largest batch size, of the
    gradient-quality rows of ``table`` printed on the rich ``console``."""
    from rich.table import Table  # on first use: rich's tables are for the terminal only

    rank = ranking(table)
    for (env, pol, theta, ref), frame in rank_matrix(rank):
        sizes = [c for c in frame.columns if c.startswith("N=")]
        n_seeds = int(frame["n_seeds"].max())
        where = " x ".join([env, pol] + ([f"theta {theta}"] if theta else []))
        console.print(
            f"{where}: MSE rank by batch size (median over {n_seeds} "
            f"seed{'s' if n_seeds != 1 else ''}, reference {ref}); values at {sizes[-1]}",
            soft_wrap=True,
            markup=False,
        )
        out = Table()
        out.add_column("estimator", overflow="fold")
        for head in ("unb.", *sizes, "MSE", "95% CI", "cosine", "steps", "s/est"):
            out.add_column(head, justify="right", no_wrap=True)
        for row in frame.to_dict("records"):
            unbiased = "-" if pd.isna(row["unbiased"]) else ("yes" if row["unbiased"] else "no")
            out.add_row(
                row["estimator"],
                unbiased,
                *("" if pd.isna(row[c]) else str(int(row[c])) for c in sizes),
                f"{row['mse_median']:.3g}",
                f"[{row['mse_lo']:.3g}, {row['mse_hi']:.3g}]",
                f"{row['cosine_median']:.3g}",
                f"{row['env_steps_median']:.0f}",
                f"{row['seconds_median']:.2g}",
            )
        console.print(out)
