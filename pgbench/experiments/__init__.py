"""Experiment kinds: each turns one :class:`~pgbench.sweep.Cell` into tidy metric rows.

An experiment is ``run_cell(cell) -> CellOutput``: pure computation (no file IO,
no printing); the runner attaches the cell's identity columns and writes the
rows (:mod:`pgbench.results`). A new kind (learning curves, games) adds a module
here, an entry in :data:`EXPERIMENTS` and a suite model in :mod:`pgbench.config`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple


class MetricRow(NamedTuple):
    """One (x, metric) value of a cell, e.g. ``("batch_size", 64, "mse", 0.12)``."""

    x_name: str
    x: int
    metric: str
    value: float


@dataclass(frozen=True)
class CellOutput:
    """What an experiment returns for one cell.

    rows: the metric rows, in a fixed order.
    columns: cell-level columns added to every row (e.g. ``{"reference": "exact"}``).
    compile_seconds: seconds spent compiling (or loading from the cache) the cell's Numba
        kernels before its clock started, kept out of its ``seconds`` metric; the runner
        records it in ``metadata.json`` (0.0 where the experiment does not measure it).
    """

    rows: list[MetricRow]
    columns: dict = field(default_factory=dict)
    compile_seconds: float = 0.0


def get_experiment(kind: str) -> Callable:
    """``run_cell`` of experiment ``kind`` (imported on first use)."""
    if kind == "gradient-quality":
        from pgbench.experiments.gradient_quality import run_cell

        return run_cell
    if kind == "learning-curve":
        from pgbench.experiments.learning_curve import run_cell

        return run_cell
    if kind in ("two-agent", "game-estimators"):
        from pgbench.experiments import two_agent

        return two_agent.run_cell if kind == "two-agent" else two_agent.run_estimator_cell
    raise KeyError(f"no experiment kind {kind!r}")


EXPERIMENTS = ("gradient-quality", "learning-curve", "two-agent", "game-estimators")

__all__ = ["EXPERIMENTS", "CellOutput", "MetricRow", "get_experiment"]
