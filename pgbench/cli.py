"""``pgbench`` command line: parse, call, exit code.

    pgbench run SUITE [--out DIR]   run a suite (default DIR: results/<suite name>/)
    pgbench list                    registered environments, policies and estimators

Exit codes: 0 success; 1 some cells failed (see failures.jsonl) or a file could
not be written; 2 a user error (invalid suite, unknown name, bad arguments),
reported as ONE line on stderr: ``file:line:col: message`` for suites,
``pgbench: error: message`` otherwise; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pgbench.errors import PgbenchError

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    from pgbench import __version__

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
        choices=("serial", "local"),
        default="serial",
        help="serial: cells in this process; local: a pool of worker processes",
    )
    run.add_argument(
        "--workers", type=int, default=None, help="local executor: processes (default: cores)"
    )
    sub.add_parser("list", help="list registered environments, policies and estimators")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pgbench`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args.suite, args.out, args.executor, args.workers)
        return _list()
    except PgbenchError as exc:
        from pgbench.config import SuiteError

        line = str(exc) if isinstance(exc, SuiteError) else f"pgbench: error: {exc}"
        print(line.splitlines()[0] if line else "pgbench: error", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"pgbench: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED_CELLS
    except KeyboardInterrupt:
        print(
            "pgbench: interrupted (finished cells are kept; run again to resume)", file=sys.stderr
        )
        return EXIT_INTERRUPTED


def _list() -> int:
    import pgbench.algorithms  # noqa: F401  (registration)
    import pgbench.api  # noqa: F401
    from pgbench.registry import ALGORITHMS, ENVS, ESTIMATORS, LEARNERS, POLICIES

    def first_line(obj) -> str:
        doc = (getattr(obj, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""

    sections = [
        ("environments", [(n, first_line(ENVS.get(n))) for n in ENVS.names()]),
        ("policies", [(n, first_line(POLICIES.get(n))) for n in POLICIES.names()]),
        ("estimators", [(n, ESTIMATORS.get(n).citation) for n in ESTIMATORS.names()]),
        ("algorithms", [(n, ALGORITHMS.get(n).summary) for n in ALGORITHMS.names()]),
        ("learners", [(n, first_line(LEARNERS.get(n))) for n in LEARNERS.names()]),
    ]
    for title, rows in sections:
        print(f"{title}:")
        width = max((len(n) for n, _ in rows), default=0)
        for name, doc in rows:
            print(f"  {name:<{width}}  {doc}".rstrip())
    return EXIT_OK


def _run(suite_path: Path, out: Path | None, executor: str, workers: int | None) -> int:
    from rich.console import Console

    from pgbench import learning_curves, plots, report
    from pgbench.config import parse_suite
    from pgbench.runner import make_executor, run_suite

    try:
        text = suite_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not readable UTF-8 text"
        raise PgbenchError(f"cannot read suite {suite_path}: {reason}") from None
    suite = parse_suite(text, str(suite_path))

    err = Console(stderr=True, highlight=False)
    out_console = Console(highlight=False)
    if not out_console.is_terminal:  # logs and pipes: do not squeeze tables into 80 columns
        out_console = Console(highlight=False, width=200)
    with _ProgressObserver(err) as observer:
        summary = run_suite(
            suite,
            out,
            suite_text=text,
            suite_file=str(suite_path),
            executor=make_executor(executor, workers),
            observer=observer,
        )
    figures = plots.make_plots(summary.table, summary.run_dir)
    tables = report.write_ranking(summary.table, summary.run_dir)
    curve = learning_curves.learning_curves(summary.table, summary.run_dir)
    figures += [curve] if curve else []
    targets = {
        env.display: env.target for env in suite.envs if getattr(env, "target", None) is not None
    }
    tables += learning_curves.write_final_performance(summary.table, summary.run_dir, targets)

    _print_summary(out_console, summary)
    for f in summary.failed:
        err.print(
            f"[red]failed[/] {f.cell.hash} {f.cell.describe()}: {f.error}",
            markup=True,
            soft_wrap=True,
        )
    out_console.print(
        f"results: {summary.run_dir}/ (cells/, {summary.files['csv'].name}, "
        f"{summary.files['metadata'].name}"
        + "".join(f", {p.name}" for p in [*figures, *tables])
        + (", failures.jsonl" if summary.failed else "")
        + ")",
        soft_wrap=True,
    )
    n = len(summary.cells)
    out_console.print(
        f"{n} cells: {summary.count('done')} run, {summary.count('skipped')} "
        f"already finished, {len(summary.failed)} failed "
        f"({summary.seconds:.1f} s)"
    )
    return EXIT_OK if summary.ok else EXIT_FAILED_CELLS


class _ProgressObserver:
    """Progress over the cells of a run on stderr: a rich bar on a terminal, else one
    line per cell (readable in CI logs)."""

    def __init__(self, console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console
        self.live = console.is_terminal
        self.progress = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[last]}"),
                console=console,
                transient=True,
            )
            if self.live
            else None
        )
        self.task = None
        self.total = self.done = 0

    def __enter__(self):
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.progress.stop()

    def started(self, cells, pending) -> None:
        self.total = len(cells)
        skipped = len(cells) - len(pending)
        self.console.print(
            f"{len(cells)} cells, {len(pending)} to run"
            + (f" ({skipped} finished before)" if skipped else "")
        )
        if self.live:
            self.task = self.progress.add_task("cells", total=len(cells), last="")

    def finished(self, outcome) -> None:
        self.done += 1
        if outcome.status == "skipped":
            if self.live:
                self.progress.update(self.task, advance=1)
            return
        what = f"{outcome.cell.describe()} ({outcome.seconds:.1f} s)"
        if self.live:
            self.progress.update(self.task, advance=1, last=what)
        if outcome.status == "failed" or not self.live:
            status = "FAILED" if outcome.status == "failed" else "done"
            self.console.print(
                f"[{self.done}/{self.total}] {status} {what}", soft_wrap=True, markup=False
            )


def _print_summary(console, summary) -> None:
    """The compact ranking: one table per (env, policy, theta), one row per estimator, its
    MSE rank at every batch size, and its median MSE (bootstrap interval over seeds),
    cosine, env steps and seconds per estimate at the largest batch size."""
    import pandas as pd
    from rich.table import Table

    from pgbench import report

    if summary.table is None or summary.table.empty:
        return
    rank = report.ranking(summary.table)
    for (env, pol, theta, ref), frame in report.rank_matrix(rank):
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


if __name__ == "__main__":
    sys.exit(main())
