"""What the CLI prints: while and after ``pgbench run`` runs, live progress on stderr (a
rich bar on a terminal, one line per cell in a log), the table of outcomes and the summary
line; for ``pgbench list NAME``, one registered component whole (its parameters read from
its pydantic model)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from rich import box
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from pgbench.registry import Component


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


# ------------------------------------------------------------------ pgbench list NAME


def value_text(value: Any) -> str:
    """``value`` as a suite would write it (YAML flow style): ``null``, ``true``,
    ``[64, 64]``, ``{kind: adam, lr: 0.01}``; a parameter model as the mapping of its fields."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        value = dict(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, str):
        return value if value else '""'
    return str(value)


_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _bounds(metadata: list) -> list[str]:
    """``["> 0", "<= 1"]`` from a field's annotated-types constraints (Gt, Ge, Lt, Le)."""
    return [
        f"{symbol} {getattr(m, attr)}"
        for m in metadata
        for attr, symbol in _BOUNDS
        if getattr(m, attr, None) is not None
    ]


def type_text(annotation: Any) -> str:
    """A field's type in a suite's words: ``float``, ``int | null``, ``none | constant``
    (a Literal: the values it allows), ``[int, ...]`` (a tuple, written as a YAML list),
    ``OptimizerParams``; ``any`` where the model checks the value itself."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return "any"
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return " | ".join(value_text(a) for a in args)
    if origin is Annotated:
        return " ".join([type_text(args[0]), *_bounds(list(args[1:]))])
    if origin in (Union, UnionType):
        return " | ".join(type_text(a) for a in args)
    if origin in (tuple, list):
        return "[" + ", ".join("..." if a is Ellipsis else type_text(a) for a in args) + "]"
    if origin is dict:
        return "{" + ": ".join(type_text(a) for a in args) + "}"
    return getattr(annotation, "__name__", str(annotation))


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def parameter_rows(
    model: type[BaseModel], defaults: BaseModel | None = None, prefix: str = ""
) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of every field of ``model``; the fields of a
    nested parameter model follow as ``parent.field`` rows, with the parent's default
    values (``defaults``: the instance whose values are the defaults, if any)."""
    rows = []
    for name, field in model.model_fields.items():
        typ = ", ".join([type_text(field.annotation), *_bounds(field.metadata)])
        if defaults is not None:
            default, shown = getattr(defaults, name), None
        elif field.is_required():
            default, shown = None, "(required)"
        else:
            default, shown = field.get_default(call_default_factory=True), None
        nested = _nested_model(field.annotation)
        sub = default if nested is not None and isinstance(default, BaseModel) else None
        if shown is None:  # a nested model's values are in its own rows
            shown = "" if sub is not None else value_text(default)
        rows.append((prefix + name, typ, shown, field.description or ""))
        if nested is not None:
            rows.extend(parameter_rows(nested, sub, prefix=f"{prefix}{name}."))
    return rows


def component_properties(component: Component) -> list[tuple[str, str]]:
    """(label, text) of what a kind adds to a component (an estimator's ``unbiased`` and
    ``estimand``, an algorithm's ``deterministic``, ...): its plain values, bools as yes or
    no; a function of the parameters reads ``depends on the parameters``; other functions
    are left out."""
    base = {f.name for f in dataclasses.fields(Component)}
    props = []
    for f in dataclasses.fields(component):
        value = getattr(component, f.name)
        if f.name in base or value is None or value == "":
            continue
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif callable(value):
            if f.name != "unbiased":
                continue
            text = "depends on the parameters"
        else:
            text = str(value)
        props.append((f.name.replace("_", " "), text))
    return props


def _score_range_text(found) -> str:
    """An env's reference range of return, e.g. ``22.35 to 500 (eval_return): low: ...``."""
    if found is None:
        return ""
    return f"{found.low:g} to {found.high:g} ({found.metric}): {found.source}"


def print_component(console, kind: str, component: Component) -> None:
    """One registered component whole (``pgbench list NAME``): its kind and name, summary,
    citation, the function behind it, the kind's own properties, and a table of every
    parameter with type, default and description."""
    console.print(Text.assemble((kind, "bold"), " ", (component.name, "bold cyan")))
    fn = component.fn
    where = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    facts = [
        ("summary", component.summary),
        ("citation", component.citation),
        ("score range", _score_range_text(component.score_range)),
        *component_properties(component),
        ("function", where),
    ]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, text in facts:
        if text:
            grid.add_row(label, Text(text))
    console.print(Padding(grid, (0, 0, 0, 2), expand=False))
    rows = parameter_rows(component.params)
    if not rows:
        console.print(Text("  parameters: none"))
        return
    table = Table(
        title=f"parameters ({component.params.__name__})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    table.add_column("parameter", no_wrap=True)
    table.add_column("type", overflow="fold")
    table.add_column("default", overflow="fold")
    table.add_column("description", overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(Padding(table, (0, 0, 0, 2), expand=False))
