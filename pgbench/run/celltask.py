"""One cell as a unit of work: its outcome, the function that runs it, plugins.

A cell runs through a :class:`CellTask`, a picklable function of the cell that
writes the cell's rows atomically (``run_dir/cells/<hash>.parquet``) and
returns an :class:`Outcome`, so an executor may run it in this process, in a
worker process or on another machine. Failure kinds (an outcome's ``failure``):

  ``error``        the cell raised (a PgbenchError, a bug): deterministic, not retried;
  ``nonfinite``    its rows hold NaN or inf where the metric is defined: not retried;
  ``timeout``      it ran past the per-cell timeout; its worker is killed: retried;
  ``worker-died``  its worker process died (segfault, abort, out-of-memory kill): retried.

Plugins: modules named in ``PGBENCH_PLUGINS`` (comma-separated) are imported
before a suite is read and in every worker, so they can register components
that suites name; workers also import the module that defines each registered
component a suite uses.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from pgbench import results
from pgbench.errors import PgbenchError
from pgbench.experiments import get_experiment
from pgbench.metrics import MAY_BE_NAN
from pgbench.plugins import one_line
from pgbench.registry import ALGORITHMS, ENVS, ESTIMATORS, GAME_ESTIMATORS, LEARNERS, POLICIES
from pgbench.run.sweep import Cell

Status = Literal["done", "skipped", "failed"]
Failure = Literal["error", "nonfinite", "timeout", "worker-died"]
RETRYABLE: frozenset[str] = frozenset({"timeout", "worker-died"})
# Metrics whose value is documented as possibly NaN or inf (undefined, not broken):
# snr is inf for a zero-variance estimator, cosines are NaN at a zero gradient, and a
# training return is NaN where no episode ended since the previous point.


@dataclass(frozen=True)
class Outcome:
    """What happened to one cell. ``seconds``: wall time of its last attempt;
    ``failure``: the failure kind of a failed cell; ``attempts``: runs in this sweep;
    ``compile_seconds``: the Numba compile time its experiment reported (part of
    ``seconds``, not of the cell's ``seconds`` metric)."""

    cell: Cell
    status: Status
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    failure: Failure | None = None
    attempts: int = 1
    compile_seconds: float = 0.0

    def failure_record(self) -> dict:
        """The ``failures.jsonl`` object of a failed cell."""
        c = self.cell
        rec = {
            "cell": c.hash,
            "env": c.env.display,
            "policy": c.policy.display,
            "theta": c.theta.display if c.theta is not None else None,
            "method": c.method.display,
            "seed": c.seed,
            "status": self.failure,
            "attempts": self.attempts,
            "error_type": self.error_type,
            "error": self.error,
        }
        if self.traceback:
            rec["traceback"] = self.traceback
        return rec


def failure_outcome(
    cell: Cell, failure: Failure, error: str, error_type: str, seconds=0.0
) -> Outcome:
    return Outcome(cell, "failed", seconds, error=error, error_type=error_type, failure=failure)


# ---------------------------------------------------------------- plugin modules


def _defining_module(obj) -> str | None:
    return getattr(getattr(obj, "fn", obj), "__module__", None)


def component_modules(cells: Sequence[Cell]) -> dict[str, str]:
    """Modules outside pgbench that define a registered component the cells use, which a
    worker process must import to find it (as ``pickle`` imports a function's module),
    each with the first component it defines, e.g. ``{"mypkg.ests": "estimator 'mine'"}``."""
    found: dict[str, str] = {}
    for cell in cells:
        wanted = [(ENVS, cell.env.name), (POLICIES, cell.policy.name)]
        wanted += [
            (r, cell.method.name) for r in (ESTIMATORS, ALGORITHMS, LEARNERS, GAME_ESTIMATORS)
        ]
        for registry, name in wanted:
            if name not in registry:
                continue
            module = _defining_module(registry.get(name))
            if module and module != "pgbench" and not module.startswith("pgbench."):
                found.setdefault(module, f"{registry.kind} {name!r}")
    return found


# ---------------------------------------------------------------- one cell


def _nonfinite(frame: pd.DataFrame) -> str | None:
    """A one-line description of non-finite values where the metric is defined, or None."""
    values = frame["value"].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) & ~frame["metric"].isin(MAY_BE_NAN).to_numpy()
    if not bad.any():
        return None
    first = frame[bad].iloc[0]
    return (
        f"{int(bad.sum())} non-finite value(s) in the results, first "
        f"{first['metric']} = {first['value']} at {first['x_name']} {first['x']}"
    )


def run_cell(cell: Cell, run_dir: str | Path) -> Outcome:
    """Run one cell and write its rows to ``run_dir/cells/<hash>.parquet``; never raises
    an Exception: failures come back as an :class:`Outcome` with status ``failed``."""
    start = time.perf_counter()
    try:
        output = get_experiment(cell.experiment)(cell)
        frame = results.cell_frame(cell, output)
        problem = _nonfinite(frame)
        if problem is None:
            results.write_cell(Path(run_dir), cell, frame)
    except Exception as exc:  # noqa: BLE001  (recorded, the sweep goes on)
        user = isinstance(exc, PgbenchError)
        return Outcome(
            cell,
            "failed",
            time.perf_counter() - start,
            error=one_line(exc) if user else f"{type(exc).__name__}: {one_line(exc)}",
            error_type=type(exc).__name__,
            traceback=None if user else traceback.format_exc(),
            failure="error",
        )
    if problem is not None:
        return failure_outcome(
            cell, "nonfinite", problem, "NonFiniteResult", time.perf_counter() - start
        )
    seconds = time.perf_counter() - start
    return Outcome(cell, "done", seconds, compile_seconds=float(output.compile_seconds))


@dataclass(frozen=True)
class CellTask:
    """The picklable unit an executor runs: one cell into ``run_dir``. ``modules``: plugin
    and component modules a worker process imports before its first cell."""

    run_dir: str
    modules: tuple[str, ...] = ()

    def __call__(self, cell: Cell) -> Outcome:
        return run_cell(cell, self.run_dir)
