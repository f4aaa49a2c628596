"""Run a suite's cells through an executor: resume, atomic writes, failures recorded.

* A cell whose Parquet file exists is finished and is skipped on re-run (its
  hash covers everything that determines its rows, so a changed suite makes
  new cells rather than reusing stale ones).
* Each cell runs through :func:`run_cell`, a top-level function of (cell,
  run_dir) that writes its own rows atomically, so an executor may run it in
  another process or on another machine; :class:`SerialExecutor` runs cells
  in order in this process (kernels compiled once per process are shared);
  :class:`LocalExecutor` runs them in a pool of worker processes.
* An exception inside a cell (a PgbenchError, a NaN gradient, a bug) is caught,
  recorded in ``failures.jsonl`` (cell hash, cell, one-line error, and a
  traceback for non-user errors), and the sweep goes on.
* Nothing is written before the suite is expanded into cells, so an invalid
  suite leaves no run directory behind.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd

from pgbench import results
from pgbench.config import Suite
from pgbench.errors import PgbenchError
from pgbench.experiments import get_experiment
from pgbench.sweep import Cell, expand

Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one cell. ``seconds``: wall time of the cell in this run."""

    cell: Cell
    status: Status
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None

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
            "error_type": self.error_type,
            "error": self.error,
        }
        if self.traceback:
            rec["traceback"] = self.traceback
        return rec


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def run_cell(cell: Cell, run_dir: str | Path) -> Outcome:
    """Run one cell and write its rows to ``run_dir/cells/<hash>.parquet``; never raises
    an Exception: failures come back as an :class:`Outcome` with status ``failed``."""
    start = time.perf_counter()
    try:
        output = get_experiment(cell.experiment)(cell)
        results.write_cell(Path(run_dir), cell, results.cell_frame(cell, output))
    except Exception as exc:  # noqa: BLE001  (recorded, the sweep goes on)
        user = isinstance(exc, PgbenchError)
        return Outcome(
            cell,
            "failed",
            time.perf_counter() - start,
            error=_one_line(exc) if user else f"{type(exc).__name__}: {_one_line(exc)}",
            error_type=type(exc).__name__,
            traceback=None if user else traceback.format_exc(),
        )
    return Outcome(cell, "done", time.perf_counter() - start)


class Executor(Protocol):
    """Runs ``fn`` on every cell, yielding outcomes as they finish (any order)."""

    def map(self, fn: Callable[[Cell], Outcome], cells: Sequence[Cell]) -> Iterator[Outcome]: ...


class SerialExecutor:
    """Cells one after another in this process."""

    def map(self, fn: Callable[[Cell], Outcome], cells: Sequence[Cell]) -> Iterator[Outcome]:
        for cell in cells:
            yield fn(cell)


class LocalExecutor:
    """Cells in a pool of ``workers`` processes on this machine (default: one per core).

    Workers are started with ``spawn`` (a fresh interpreter each, no inherited Numba
    or thread state) and load compiled kernels from the on-disk cache. A cell's rows
    depend only on the cell, so the results equal the serial executor's.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def map(self, fn: Callable[[Cell], Outcome], cells: Sequence[Cell]) -> Iterator[Outcome]:
        if not cells:
            return
        context = multiprocessing.get_context("spawn")
        workers = min(self.workers, len(cells))
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(fn, cell): cell for cell in cells}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except BrokenProcessPool as exc:
                    yield Outcome(
                        futures[future],
                        "failed",
                        error=f"worker process died: {exc}",
                        error_type="BrokenProcessPool",
                    )


def make_executor(name: str, workers: int | None = None) -> Executor:
    """``serial`` or ``local`` (a process pool of ``workers``, default one per core)."""
    if workers is not None and workers < 1:
        raise PgbenchError(f"--workers must be at least 1, got {workers}")
    if name == "serial":
        return SerialExecutor()
    if name == "local":
        return LocalExecutor(workers)
    raise PgbenchError(f"unknown executor {name!r}; executors: serial, local")


class Observer(Protocol):
    """Progress callbacks (the CLI draws a progress bar with them)."""

    def started(self, cells: Sequence[Cell], pending: Sequence[Cell]) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...


class _Silent:
    def started(self, cells, pending) -> None:
        pass

    def finished(self, outcome) -> None:
        pass


@dataclass
class RunSummary:
    """The result of :func:`run_suite`."""

    run_dir: Path
    cells: list[Cell]
    outcomes: list[Outcome] = field(default_factory=list)
    table: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed


def default_run_dir(suite: Suite) -> Path:
    """``results/<suite name>`` under the current directory."""
    return Path("results") / suite.name


def run_suite(
    suite: Suite,
    run_dir: str | Path | None = None,
    *,
    suite_text: str = "",
    suite_file: str | None = None,
    executor: Executor | None = None,
    observer: Observer | None = None,
) -> RunSummary:
    """Run every unfinished cell of ``suite`` into ``run_dir``; write CSV and metadata.

    Returns a :class:`RunSummary`; failed cells are in ``summary.failed`` and in
    ``failures.jsonl``; the table holds the rows of every finished current cell.
    """
    start = time.perf_counter()
    cells = expand(suite)  # before any file is written
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(suite)
    executor = executor or SerialExecutor()
    observer = observer or _Silent()

    (run_dir / results.CELLS_DIR).mkdir(parents=True, exist_ok=True)
    results.write_metadata(
        run_dir, results.run_metadata(suite, suite_text, suite_file, cells, status="running")
    )
    results.write_failures(run_dir, [])

    pending = [c for c in cells if not results.cell_path(run_dir, c.hash).is_file()]
    summary = RunSummary(run_dir=run_dir, cells=cells)
    observer.started(cells, pending)
    todo = {c.hash for c in pending}
    for cell in cells:
        if cell.hash not in todo:
            outcome = Outcome(cell, "skipped")
            summary.outcomes.append(outcome)
            observer.finished(outcome)
    failures: list[dict] = []
    for outcome in executor.map(functools.partial(run_cell, run_dir=run_dir), pending):
        summary.outcomes.append(outcome)
        if outcome.status == "failed":
            failures.append(outcome.failure_record())
            results.write_failures(run_dir, failures)
        observer.finished(outcome)

    summary.table = results.load_results(run_dir)
    summary.files["cells"] = run_dir / results.CELLS_DIR
    summary.files["csv"] = results.export_csv(summary.table, run_dir)
    if failures:
        summary.files["failures"] = run_dir / results.FAILURES
    summary.seconds = time.perf_counter() - start
    summary.files["metadata"] = results.write_metadata(
        run_dir,
        results.run_metadata(
            suite,
            suite_text,
            suite_file,
            cells,
            status="finished",
            counts={s: summary.count(s) for s in ("done", "skipped", "failed")},
            seconds=round(summary.seconds, 3),
        ),
    )
    return summary
