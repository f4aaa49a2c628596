"""Run a suite's cells through an executor: resume, a run lock, isolation, retries.

* A cell whose Parquet file exists is finished and is skipped on re-run (its
  hash covers everything that determines its rows, so a changed suite makes
  new cells rather than reusing stale ones); ``force=True`` recomputes it.
* Cells run as :class:`~pgbench.celltask.CellTask` s through an executor
  (:mod:`pgbench.executors`); a failed cell is recorded in ``failures.jsonl``
  and the sweep goes on.
* A lock file (:mod:`pgbench.runlock`) stops two runs from writing one run
  directory at the same time.
* Nothing is written before the suite is expanded into cells, so an invalid
  suite leaves no run directory behind.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from pgbench import results
from pgbench.celltask import (
    PLUGINS_ENV,
    CellTask,
    Outcome,
    Status,
    component_modules,
    plugin_modules,
)
from pgbench.config import Suite
from pgbench.errors import PgbenchError
from pgbench.executors import Executor, SerialExecutor
from pgbench.runlock import RunLock
from pgbench.sweep import Cell, expand


def _task(run_dir: Path, cells: Sequence[Cell], executor: Executor) -> CellTask:
    """The task of a run: the plugins and component modules a worker must import."""
    found = component_modules(cells)
    if "__main__" in found and not isinstance(executor, SerialExecutor):
        raise PgbenchError(
            f"{found['__main__']} is defined in __main__, which worker processes cannot "
            f"import; define it in a module named in {PLUGINS_ENV}, or use --executor serial"
        )
    modules = [m for m in (*plugin_modules(), *found) if m != "__main__"]
    return CellTask(str(run_dir), tuple(dict.fromkeys(modules)))


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
    def retried(self) -> int:
        """Cells that needed more than one attempt."""
        return sum(o.attempts > 1 for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return not self.failed


def default_run_dir(suite: Suite) -> Path:
    """``results/<suite name>`` under the current directory."""
    return Path("results") / suite.name


def _remove_partial_files(run_dir: Path) -> None:
    """Temporary files of writes that a killed run left behind (the lock is ours)."""
    for folder in (run_dir, run_dir / results.CELLS_DIR):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


_metadata = results.run_metadata


def run_suite(
    suite: Suite,
    run_dir: str | Path | None = None,
    *,
    suite_text: str = "",
    suite_file: str | None = None,
    executor: Executor | None = None,
    observer: Observer | None = None,
    force: bool = False,
) -> RunSummary:
    """Run every unfinished cell of ``suite`` (every cell if ``force``) into ``run_dir``;
    write CSV and metadata. Holds the run directory's lock while it runs.

    Returns a :class:`RunSummary`; failed cells are in ``summary.failed`` and in
    ``failures.jsonl``; the table holds the rows of every finished current cell.
    """
    start = time.perf_counter()
    cells = expand(suite)  # before any file is written
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(suite)
    executor = executor or SerialExecutor()
    task = _task(run_dir.resolve(), cells, executor)
    (run_dir / results.CELLS_DIR).mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        _remove_partial_files(run_dir)
        results.write_metadata(
            run_dir, _metadata(suite, suite_text, suite_file, cells, status="running")
        )
        results.write_failures(run_dir, [])
        summary = RunSummary(run_dir=run_dir, cells=cells)
        try:
            _sweep(cells, task, executor, observer or _Silent(), force, summary)
        except KeyboardInterrupt:
            results.write_metadata(
                run_dir, _metadata(suite, suite_text, suite_file, cells, status="interrupted")
            )
            raise
        _finish(summary, suite, suite_text, suite_file, start)
    return summary


def _sweep(cells, task, executor, observer, force, summary) -> None:
    """Skip finished cells, run the others, record outcomes and failures as they come."""
    run_dir = summary.run_dir
    on_disk = {c.hash for c in cells if results.cell_path(run_dir, c.hash).is_file()}
    finished = set() if force else on_disk
    pending = [c for c in cells if c.hash not in finished]
    observer.started(cells, pending)
    for cell in cells:
        if cell.hash in finished:
            outcome = Outcome(cell, "skipped", attempts=0)
            summary.outcomes.append(outcome)
            observer.finished(outcome)
    failures: list[dict] = []
    outcomes = executor.map(task, pending)
    try:
        for outcome in outcomes:
            summary.outcomes.append(outcome)
            if outcome.status == "failed":
                failures.append(outcome.failure_record())
                results.write_failures(run_dir, failures)
            observer.finished(outcome)
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()  # stops worker processes at once, also on Ctrl-C


def _finish(summary: RunSummary, suite, suite_text, suite_file, start: float) -> None:
    """Load the table, export CSV, write the final metadata."""
    run_dir = summary.run_dir
    summary.table = results.load_results(run_dir)
    summary.files["cells"] = run_dir / results.CELLS_DIR
    summary.files["csv"] = results.export_csv(summary.table, run_dir)
    if summary.failed:
        summary.files["failures"] = run_dir / results.FAILURES
    summary.seconds = time.perf_counter() - start
    counts = {s: summary.count(s) for s in ("done", "skipped", "failed")}
    summary.files["metadata"] = results.write_metadata(
        run_dir,
        _metadata(
            suite,
            suite_text,
            suite_file,
            summary.cells,
            status="finished",
            counts=counts,
            seconds=round(summary.seconds, 3),
        ),
    )
