"""What ``pgbench run`` shows while and after it runs: live progress on stderr (a rich bar
on a terminal, one line per cell in a log), the table of outcomes and the summary line."""

from __future__ import annotations

from collections import Counter

from rich.table import Table


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary_line(summary) -> str:
    """``N cells: a run, b already finished, c failed (t s)`` (+ where to look)."""
    line = (
        f"{len(summary.cells)} cells: {summary.count('done')} run, "
        f"{summary.count('skipped')} already finished, {len(summary.failed)} failed "
        f"({summary.seconds:.1f} s)"
    )
    if summary.failed:
        line += f"; see {summary.run_dir / 'failures.jsonl'}"
    return line


def print_run_table(console, summary) -> None:
    """Cells by outcome (failures by kind), retries and wall time."""
    table = Table(title=f"run of {summary.run_dir}", title_justify="left")
    table.add_column("cells", overflow="fold")
    table.add_column("count", justify="right")
    table.add_row("run now", str(summary.count("done")))
    table.add_row("already finished", str(summary.count("skipped")))
    kinds = Counter(o.failure for o in summary.failed)
    table.add_row("failed", str(len(summary.failed)))
    for kind, n in sorted(kinds.items()):
        table.add_row(f"  {kind}", str(n))
    table.add_row("needed a retry", str(summary.retried))
    table.add_row("total", str(len(summary.cells)))
    console.print(table)


class ProgressObserver:
    """Progress over the cells of a run on stderr: a live rich bar on a terminal (cells
    done / failed / skipped, elapsed time and ETA), else one line per cell (readable in
    CI logs); nothing at all if ``quiet``."""

    def __init__(self, console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self.progress = self._bar(console) if self.live else None
        self.task = None
        self.total = self.seen = 0
        self.counts = {"done": 0, "failed": 0, "skipped": 0}

    @staticmethod
    def _bar(console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[done]} done[/] [red]{task.fields[failed]} failed[/]"),
            TextColumn("{task.fields[skipped]} skipped"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[last]}"),
            console=console,
            transient=True,
        )

    def __enter__(self):
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.progress.stop()

    def started(self, cells, pending) -> None:
        self.total = len(pending)
        skipped = len(cells) - len(pending)
        if not self.quiet:
            self.console.print(
                f"{len(cells)} cells, {len(pending)} to run"
                + (f" ({skipped} finished before)" if skipped else "")
            )
        if self.live:  # the bar counts the cells to run, so its ETA is theirs
            self.task = self.progress.add_task("cells", total=len(pending), last="", **self.counts)

    def finished(self, outcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.status == "skipped":
            if self.live:
                self.progress.update(self.task, **self.counts)
            return
        self.seen += 1
        what = f"{outcome.cell.describe()} ({outcome.seconds:.1f} s)"
        if self.live:
            self.progress.update(self.task, advance=1, last=what, **self.counts)
        if self.quiet or (self.live and outcome.status != "failed"):
            return
        status = "FAILED" if outcome.status == "failed" else "done"
        tries = f", {outcome.attempts} attempts" if outcome.attempts > 1 else ""
        self.console.print(
            f"[{self.seen}/{self.total}] {status} {what}{tries}", soft_wrap=True, markup=False
        )
