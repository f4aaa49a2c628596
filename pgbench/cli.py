"""``pgbench`` command line: parse, call, exit code.

    pgbench run SUITE [--out DIR]   run a suite (default DIR: results/<suite name>/)
        [--executor serial|threads|local|dask] [--workers N] [--address tcp://HOST:PORT]
        [--timeout SECONDS] [--retries N] [--force] [--quiet]
    pgbench report RESULTS_DIR      report.md and one self-contained report.html of a run
        [--out DIR]                 (every figure and table, metadata, failures; default
                                    DIR: RESULTS_DIR)
    pgbench compare BASE NEW        regression check of NEW against BASE (exit 1: worse)
        [--threshold [METRIC=]FACTOR] [--alpha A] [--metrics m1,m2] [--json PATH]
        [--allow-missing] [--all] [--pair-by config|label] [--strict] [--paired]
    pgbench side-by-side SUITE      the suite with base and new code alternately, seed by
        (--base REV | --base-path DIR) [--new-path DIR] --out OUT   seed, then compare
        [--metrics ...] [--no-warmup]                                their seconds (paired)
    pgbench list [NAME]             registered environments, policies, estimators,
                                    algorithms, learners and game estimators; with NAME,
                                    that component whole: kind, summary, citation and
                                    every parameter (type, default, description)

Plug-in modules (installed packages' ``pgbench.plugins`` entry points, and the modules
named in ``PGBENCH_PLUGINS``, comma-separated; :mod:`pgbench.plugins`) are imported first,
so they can register components that suites then name.

Exit codes: 0 success; 1 some cells failed (see failures.jsonl), a file could
not be written, or ``compare`` found a regression; 2 a user error (invalid
suite, unknown name, bad arguments, a run directory that cannot be created or is locked
by another run, a missing optional dependency),
reported as ONE line on stderr: ``file:line:col: message`` for suites,
``pgbench: error: message`` otherwise; 130 interrupted (Ctrl-C); 143 terminated
(SIGTERM, handled like Ctrl-C: the cell in flight is stopped, its workers too, finished
cells are kept, the run directory's lock is released and its metadata says
``interrupted``; a second SIGTERM ends the process at once).

A valid suite can still warn (e.g. an env-step budget that buys fewer than a handful of
updates): ``pgbench run`` prints each warning as one line on stderr,
``pgbench: warning: file:line:col: message``, and runs.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from pgbench import compare, side_by_side
from pgbench.console import (
    ProgressObserver,
    count,
    print_component,
    print_run_table,
    summary_line,
)
from pgbench.errors import PgbenchError, UnknownNameError
from pgbench.experiments import get_kind, parse_suite
from pgbench.plugins import load_plugins, plugin_modules
from pgbench.registry import ALGORITHMS, ENVS, ESTIMATORS, GAME_ESTIMATORS, LEARNERS, POLICIES
from pgbench.report import write_report
from pgbench.run.executors import EXECUTORS, make_executor
from pgbench.run.runner import default_run_dir, run_suite
from pgbench.suite.errors import SuiteError
from pgbench.suite.load import warning_lines
from pgbench.suite.yaml_reading import read_suite
from pgbench.version import __version__

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, the shell's code for a process ended by SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it takes Ctrl-C's path (every ``except
    KeyboardInterrupt`` and ``finally`` on the way cleans up)."""


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread only: a
    handler cannot be installed elsewhere), then restore the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgbench", description="Benchmarks for policy-gradient estimators and algorithms."
    )
    parser.add_argument("--version", action="version", version=f"pgbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run a suite of experiments",
        description="Run every unfinished cell of a suite; finished cells are "
        "skipped, so an interrupted run resumes.",
    )
    run.add_argument("suite", type=Path, help="suite YAML file")
    run.add_argument(
        "--out", type=Path, default=None, help="run directory (default: results/<suite name>/)"
    )
    run.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="serial: cells in this process; threads: several at once in threads of this "
        "process (the seeds of a configuration side by side); local (default): worker "
        "processes on this machine; dask: a dask.distributed cluster",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        help="threads: threads; local / dask LocalCluster: worker processes (default: one "
        "per core)",
    )
    run.add_argument("--address", default=None, help="dask: scheduler address of a running cluster")
    run.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per-cell time limit; a cell past it is killed and recorded (default: none)",
    )
    run.add_argument(
        "--retries",
        type=int,
        default=1,
        help="re-runs of a cell whose worker died or timed out (default: 1)",
    )
    run.add_argument("--force", action="store_true", help="recompute finished cells")
    run.add_argument("--quiet", action="store_true", help="no progress output; one summary line")
    report = sub.add_parser(
        "report",
        help="write the report of a run directory (report.md, report.html)",
        description="Regenerate every figure and table of a run directory and write "
        "report.md and one self-contained report.html (figures embedded, no network needed).",
    )
    report.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="run directory")
    report.add_argument(
        "--out", type=Path, default=None, help="directory of the report (default: RESULTS_DIR)"
    )
    compare.add_parser(sub)
    side_by_side.add_parser(sub)
    listing = sub.add_parser(
        "list",
        help="list registered environments, policies, estimators, algorithms and learners",
        description="Without NAME: every registered component, by kind, with its summary "
        "and citation. With NAME: that component whole (every kind that has one of "
        "that name): summary, citation and every parameter with type, default and "
        "description.",
    )
    listing.add_argument(
        "name", nargs="?", default=None, metavar="NAME", help="a registered component's name"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pgbench`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        with _sigterm_as_interrupt():
            return _command(args)
    except PgbenchError as exc:
        line = str(exc) if isinstance(exc, SuiteError) else f"pgbench: error: {exc}"
        print(line.splitlines()[0] if line else "pgbench: error", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"pgbench: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED_CELLS
    except KeyboardInterrupt as exc:
        what = "terminated by SIGTERM" if isinstance(exc, Terminated) else "interrupted"
        print(f"pgbench: {what} (finished cells are kept; run again to resume)", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def _command(args: argparse.Namespace) -> int:
    if args.command == "side-by-side":  # each side loads its own plugins, in its processes
        return side_by_side.run(args)
    load_plugins(plugin_modules())
    if args.command == "run":
        return _run(args)
    if args.command == "report":
        return _report(args)
    if args.command == "compare":
        return compare.run(args)
    if args.name is not None:
        return _show(args.name)
    return _list()


SECTIONS = (
    ("environments", ENVS),
    ("policies", POLICIES),
    ("estimators", ESTIMATORS),
    ("algorithms", ALGORITHMS),
    ("learners", LEARNERS),
    ("game estimators", GAME_ESTIMATORS),
)


def _list() -> int:
    for title, registry in SECTIONS:
        print(f"{title}:")
        components = [registry.get(name) for name in registry.names()]
        width = max((len(c.name) for c in components), default=0)
        for c in components:
            print(f"  {c.name:<{width}}  {c.summary}".rstrip())
            if c.citation:
                print(f"  {'':<{width}}    {c.citation}")
    return EXIT_OK


def _show(name: str) -> int:
    """``pgbench list NAME``: every component of that name (one per kind that has one), or
    an :class:`~pgbench.errors.UnknownNameError` naming the closest registered names."""
    from rich.console import Console  # here, not at the top: start-up time of other commands

    found = [(registry.kind, registry.get(name)) for _, registry in SECTIONS if name in registry]
    if not found:
        known = sorted({n for _, registry in SECTIONS for n in registry.names()})
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = (
            "; did you mean " + " or ".join(repr(c) for c in close) + "?"
            if close
            else "; `pgbench list` names every registered one"
        )
        raise UnknownNameError(f"unknown component {name!r}{hint}")
    console = Console(highlight=False)
    if not console.is_terminal:  # logs and pipes: do not squeeze the table into 80 columns
        console = Console(highlight=False, width=160)
    for i, (kind, component) in enumerate(found):
        if i:
            console.print()
        print_component(console, kind, component)
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    executor = make_executor(
        args.executor,
        args.workers,
        timeout=args.timeout,
        retries=args.retries,
        address=args.address,
    )
    text = read_suite(args.suite)
    suite = parse_suite(text, str(args.suite))
    for line in warning_lines(suite, text, str(args.suite)):
        print(f"pgbench: warning: {line}", file=sys.stderr)

    run_dir = args.out if args.out is not None else default_run_dir(suite)
    _create_run_dir(run_dir)
    err = Console(stderr=True, highlight=False)
    out_console = Console(highlight=False)
    if not out_console.is_terminal:  # logs and pipes: do not squeeze tables into 80 columns
        out_console = Console(highlight=False, width=200)
    with ProgressObserver(err, quiet=args.quiet) as observer:
        summary = run_suite(
            suite,
            run_dir,
            suite_text=text,
            suite_file=str(args.suite),
            executor=executor,
            observer=observer,
            force=args.force,
        )
    files = _write_reports(summary)
    if not args.quiet:
        show = get_kind(suite.experiment).console_summary
        if show is not None and summary.table is not None and not summary.table.empty:
            show(out_console, summary.table)
        for f in summary.failed:
            err.print(
                f"[red]failed[/] ({f.failure}) {f.cell.hash} {f.cell.describe()}: {f.error}",
                markup=True,
                soft_wrap=True,
            )
        print_run_table(out_console, summary)
        out_console.print(
            f"results: {summary.run_dir}/ (cells/, {summary.files['csv'].name}, "
            f"{summary.files['metadata'].name}"
            + "".join(f", {p.name}" for p in files)
            + (", failures.jsonl" if summary.failed else "")
            + ")",
            soft_wrap=True,
        )
    out_console.print(summary_line(summary), soft_wrap=True)
    return EXIT_OK if summary.ok else EXIT_FAILED_CELLS


class RunDirError(PgbenchError):
    """The run directory cannot be created (a file in the way, a name too long, ...)."""


def _create_run_dir(run_dir: Path) -> None:
    """Create ``run_dir`` and its missing parents, or raise :class:`RunDirError` (one line)
    after removing the parents it created."""
    missing = []
    for path in (run_dir, *run_dir.parents):
        if os.path.lexists(path):
            break
        missing.append(path)  # deepest first
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        for path in missing:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise RunDirError(
            f"cannot create the run directory {run_dir}: {exc.strerror or exc}"
        ) from None


def _write_reports(summary) -> list[Path]:
    """Figures, tables and the report of the run's table; their paths (none without rows)."""
    if summary.table is None or summary.table.empty:
        return []
    return write_report(summary.run_dir, table=summary.table)


def _report(args: argparse.Namespace) -> int:
    *parts, md, page = write_report(args.results_dir, args.out)
    figures = sum(p.suffix == ".png" for p in parts)
    tables = sum(p.suffix == ".md" for p in parts)
    print(f"report: {md}, {page} ({count(figures, 'figure')}, {count(tables, 'table')})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
