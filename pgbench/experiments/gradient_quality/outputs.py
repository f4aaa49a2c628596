"""The gradient-quality kind's files: its figures (:mod:`.figures`), then its ranking
tables (:mod:`.ranking`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pgbench.experiments.gradient_quality.figures import make_figures
from pgbench.experiments.gradient_quality.ranking import write_ranking


def write_outputs(table: pd.DataFrame, out: str | Path, settings: dict) -> list[Path]:
    """``variance_mse.png``, ``cosine.png``, ``mse_cost.png``, ``ranking.csv`` and
    ``ranking.md`` of the gradient-quality rows of ``table``, written into ``out``; none
    without such rows. ``settings`` (the run's report settings) are not used."""
    return [*make_figures(table, out), *write_ranking(table, out)]
