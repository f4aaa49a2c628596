"""What an experiment returns for one cell: tidy metric rows and cell-level columns."""

from __future__ import annotations

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
