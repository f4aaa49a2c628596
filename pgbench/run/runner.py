"""Run a suite's cells through an executor: resume, a run lock, isolation, retries.

* ``cells/`` holds exactly the finished cells of the suite being run: at the start
  (under the lock) files of cells the suite no longer has move to ``stale-cells/``,
  and files there that the suite asks for again move back instead of being
  recomputed. A cell's hash covers everything that determines its rows, so a
  changed suite makes new cells rather than reusing stale ones.
* A cell is finished when its file is valid (:func:`pgbench.results.read_cell_file`:
  whole, and the cell it should be). An invalid file moves to ``invalid-cells/``
  with a one-line warning and its cell runs again; ``force=True`` recomputes every
  cell. Each file is read once: at the start, or after the sweep if it was written
  in it, and the run's table is built from those reads.
* Cells run as :class:`~pgbench.run.celltask.CellTask` s through an executor
  (:mod:`pgbench.run.executors`); a failed cell is recorded in ``failures.jsonl``
  and the sweep goes on.
* A lock file (:mod:`pgbench.run.runlock`) stops two runs from writing one run
  directory at the same time.
* Nothing is written before the suite is expanded into cells, so an invalid
  suite leaves no run directory behind.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa

from pgbench import results
from pgbench.errors import PgbenchError
from pgbench.plugins import PLUGINS_ENV, plugin_modules
from pgbench.run.celltask import CellTask, Outcome, Status, component_modules, failure_outcome
from pgbench.run.executors import Executor, SerialExecutor, ThreadsExecutor
from pgbench.run.runlock import RunLock
from pgbench.run.sweep import Cell, expand
from pgbench.suite.base import Suite


def _task(run_dir: Path, cells: Sequence[Cell], executor: Executor) -> CellTask:
    """The task of a run: the plugins and component modules a worker must import."""
    found = component_modules(cells)
    if "__main__" in found and not isinstance(executor, (SerialExecutor, ThreadsExecutor)):
        raise PgbenchError(
            f"{found['__main__']} is defined in __main__, which worker processes cannot "
            "import; define it in a plug-in module (a pgbench.plugins entry point or "
            f"{PLUGINS_ENV}), or use --executor serial"
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
    """The result of :func:`run_suite`. ``warnings``: one line each (also printed to
    stderr); ``compile_seconds``: Numba compile seconds per finished cell hash."""

    run_dir: Path
    cells: list[Cell]
    outcomes: list[Outcome] = field(default_factory=list)
    table: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    compile_seconds: dict[str, float] = field(default_factory=dict)

    def warn(self, line: str) -> None:
        self.warnings.append(line)
        print(f"pgbench: warning: {line}", file=sys.stderr)

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
    meta = functools.partial(_metadata, suite, suite_text, suite_file, cells)
    with RunLock(run_dir):
        _remove_partial_files(run_dir)
        summary = RunSummary(run_dir=run_dir, cells=cells)
        previous = results.read_metadata(run_dir)
        tables = _adopt_finished(summary)
        summary.compile_seconds = _previous_compile(previous, set(tables))
        _write_metadata(summary, meta, status="running")
        results.write_failures(run_dir, [])
        try:
            _sweep(cells, task, executor, observer or _Silent(), set(tables), force, summary)
        except KeyboardInterrupt:
            _write_metadata(summary, meta, status="interrupted")
            raise
        _finish(summary, tables, meta, start)
    return summary


# ---------------------------------------------------------------- the cells on disk


def _move(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` (replacing a file of the same name there)."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    os.replace(path, target)
    return target


def _adopt_finished(summary: RunSummary) -> dict[str, pa.Table]:
    """Make ``cells/`` hold only the suite's finished cells and read them: files of other
    cells move to ``stale-cells/``, valid stale files of the suite's cells move back,
    invalid files (of either folder) move to ``invalid-cells/`` with a warning.
    Returns the rows of each finished cell by hash (Arrow tables of
    :func:`pgbench.results.read_cell_file`)."""
    run_dir = summary.run_dir
    cells_dir, stale = run_dir / results.CELLS_DIR, run_dir / results.STALE_DIR
    wanted = {c.hash for c in summary.cells}
    for path in sorted(cells_dir.glob("*.parquet")):
        if path.stem not in wanted:
            _move(path, stale)
    tables: dict[str, pa.Table] = {}
    for cell in summary.cells:
        for folder in (cells_dir, stale):
            path = folder / f"{cell.hash}.parquet"
            table = _read_or_set_aside(summary, path, cell) if path.is_file() else None
            if table is not None:
                if folder == stale:
                    _move(path, cells_dir)
                tables[cell.hash] = table
                break
    return tables


def _read_or_set_aside(
    summary: RunSummary, path: Path, cell: Cell, when: str = ""
) -> pa.Table | None:
    """The rows of ``cell``'s file at ``path``; None (file moved to ``invalid-cells/``,
    one warning saying that the cell will be recomputed ``when``) if it is not a valid
    file of that cell."""
    try:
        return results.read_cell_file(path, cell)
    except results.CellFileError as exc:
        invalid = summary.run_dir / results.INVALID_DIR
        _move(path, invalid)
        summary.warn(f"{exc}; moved to {invalid}{os.sep}, it will be recomputed{when}")
        return None


def _previous_compile(previous: dict, kept: set[str]) -> dict[str, float]:
    """Compile seconds that the previous metadata recorded for the cells in ``kept``."""
    entries = previous.get("compile", {})
    cells = entries.get("cells", {}) if isinstance(entries, dict) else {}
    if not isinstance(cells, dict):
        return {}
    return {h: s for h, s in cells.items() if h in kept and isinstance(s, (int, float))}


def _write_metadata(summary: RunSummary, meta: Callable[..., dict], **extra) -> Path:
    block = results.compile_block(summary.compile_seconds)
    warnings = {"warnings": list(summary.warnings)} if summary.warnings else {}
    return results.write_metadata(summary.run_dir, meta(**extra, compile=block, **warnings))


# ---------------------------------------------------------------- the sweep


def _sweep(cells, task, executor, observer, finished, force, summary) -> None:
    """Skip finished cells (none if ``force``), run the others, record outcomes and
    failures as they come."""
    run_dir = summary.run_dir
    finished = set() if force else finished
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
            if outcome.status == "done":
                summary.compile_seconds[outcome.cell.hash] = outcome.compile_seconds
            if outcome.status == "failed":
                failures.append(outcome.failure_record())
                results.write_failures(run_dir, failures)
            observer.finished(outcome)
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()  # stops worker processes at once, also on Ctrl-C


def _finish(summary: RunSummary, tables: dict, meta: Callable[..., dict], start: float) -> None:
    """Read the cells written in this run, build the table, export CSV, write the final
    metadata."""
    run_dir = summary.run_dir
    _read_new_cells(summary, tables)
    ordered = [tables[c.hash] for c in summary.cells if c.hash in tables]
    summary.table = results.concat_cells(ordered)
    summary.files["cells"] = run_dir / results.CELLS_DIR
    summary.files["csv"] = results.export_csv(summary.table, run_dir)
    if summary.failed:
        summary.files["failures"] = run_dir / results.FAILURES
    summary.seconds = time.perf_counter() - start
    counts = {s: summary.count(s) for s in ("done", "skipped", "failed")}
    summary.files["metadata"] = _write_metadata(
        summary, meta, status="finished", counts=counts, seconds=round(summary.seconds, 3)
    )


def _read_new_cells(summary: RunSummary, tables: dict) -> None:
    """Add the rows of the cells done in this run to ``tables``. A file that is missing
    (a worker on a file system this process does not see) or not valid (written over
    since, say) is reported and its cell counted as failed."""
    cells_dir = summary.run_dir / results.CELLS_DIR
    for i, outcome in enumerate(summary.outcomes):
        if outcome.status != "done":
            continue
        cell = outcome.cell
        tables.pop(cell.hash, None)  # a forced cell's previous rows
        path = cells_dir / f"{cell.hash}.parquet"
        table = None
        if path.is_file():
            table = _read_or_set_aside(summary, path, cell, " by the next run")
        else:
            summary.warn(
                f"{path} is missing although its cell finished (do all workers see "
                f"{summary.run_dir}?); it will be recomputed by the next run"
            )
        if table is not None:
            tables[cell.hash] = table
            continue
        summary.compile_seconds.pop(cell.hash, None)
        summary.outcomes[i] = failure_outcome(
            cell, "error", summary.warnings[-1], "InvalidCellFile", outcome.seconds
        )
    if any(o.error_type == "InvalidCellFile" for o in summary.outcomes):
        results.write_failures(summary.run_dir, [o.failure_record() for o in summary.failed])
