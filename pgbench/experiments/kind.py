"""What an experiment kind is: the schema of its suites and the computation of one cell.

A kind is one package ``pgbench/experiments/<kind>/`` holding ``suite.py`` (its suite
model: the keys it adds to the common ones), ``run.py`` (``run_cell(cell) ->
CellOutput``: pure computation, no file IO) and, where it draws figures or tables of its
own, ``outputs.py``; its ``__init__.py`` declares the :class:`Kind`, and one line in
:data:`pgbench.experiments.KINDS` registers it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pgbench.suite.base import Suite


@dataclass(frozen=True)
class Kind:
    """An experiment kind.

    Attributes:
        name: the suite's ``experiment`` value, e.g. ``"gradient-quality"``.
        suite: the suite model (a :class:`~pgbench.suite.base.Suite` subclass).
        run_cell: ``(cell) -> CellOutput`` (:mod:`pgbench.experiments.output`).
        summary: one line for ``pgbench list``.
    """

    name: str
    suite: type[Suite]
    run_cell: Callable
    summary: str
