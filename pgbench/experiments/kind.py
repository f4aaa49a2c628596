"""What an experiment kind is: the schema of its suites, the computation of one cell, and
the figures and tables of a run.

A kind is one package ``pgbench/experiments/<kind>/`` holding ``suite.py`` (its suite
model: the keys it adds to the common ones), ``run.py`` (``run_cell(cell) ->
CellOutput``: pure computation, no file IO) and ``outputs.py`` (``write_outputs``: its
figures and tables, from the tidy results table only; with the modules they are drawn
from, where it has more than fits one); its ``__init__.py`` declares the :class:`Kind`,
and one line in :data:`pgbench.experiments.KINDS` registers it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pgbench.suite.base import Suite

if TYPE_CHECKING:
    import pandas as pd

WriteOutputs = Callable[["pd.DataFrame", "str | Path", dict], list[Path]]
"""``(table, out, settings) -> paths``: see :attr:`Kind.write_outputs`."""


@dataclass(frozen=True)
class Kind:
    """An experiment kind.

    Attributes:
        name: the suite's ``experiment`` value, e.g. ``"gradient-quality"``.
        suite: the suite model (a :class:`~pgbench.suite.base.Suite` subclass).
        run_cell: ``(cell) -> CellOutput`` (:mod:`pgbench.experiments.output`).
        summary: one line for ``pgbench list``.
        title: the heading of its section of the run report, e.g. ``"Gradient quality"``.
        figures: file names of its figures (PNG), in report order.
        tables: file names of its Markdown tables, in report order (the CSV copies beside
            them are written but not shown).
        write_outputs: ``(table, out, settings) -> paths``: writes into the directory
            ``out`` every figure and table of the kind's rows of the tidy results
            ``table`` (:mod:`pgbench.results`), figures first, then tables, and returns
            their paths (none without such rows). ``settings``: the run's report settings,
            the dict the runner wrote into ``metadata.json`` as ``settings`` (e.g.
            ``settings.get("targets")``: env label -> solved return); {} where none.
        console_summary: ``(console, table) -> None``, what ``pgbench run`` prints of the
            finished run's rows on a rich console (None: nothing but the run table).
    """

    name: str
    suite: type[Suite]
    run_cell: Callable
    summary: str
    title: str
    figures: tuple[str, ...]
    tables: tuple[str, ...]
    write_outputs: WriteOutputs
    console_summary: Callable | None = None
