"""Experiment kinds: each turns one cell of a suite into tidy metric rows.

:data:`KINDS` is the one list of experiment kinds (see :mod:`pgbench.experiments.kind` for
what a kind is and the files it is made of). An experiment is ``run_cell(cell) ->
CellOutput`` (:mod:`pgbench.experiments.output`): pure computation (no file IO, no
printing); the runner attaches the cell's identity columns and writes the rows
(:mod:`pgbench.results`). :func:`parse_suite` and :func:`load_suite` read a suite of any
of these kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pgbench.experiments import gradient_quality, learning_curve, two_agent
from pgbench.experiments.kind import Kind
from pgbench.suite import load
from pgbench.suite.base import Suite
from pgbench.suite.errors import SuiteError

KINDS: tuple[Kind, ...] = (gradient_quality.KIND, learning_curve.KIND, *two_agent.KINDS)
SUITE_KINDS: dict[str, type[Suite]] = {k.name: k.suite for k in KINDS}
"""Experiment kind -> its suite model (what :func:`parse_suite` dispatches on)."""


def get_kind(name: str) -> Kind:
    """The kind named ``name`` (a suite's ``experiment`` value)."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(f"no experiment kind {name!r}")


def get_experiment(name: str) -> Callable:
    """``run_cell`` of experiment kind ``name``."""
    return get_kind(name).run_cell


def parse_suite(text: str, filename: str = "<suite>") -> Suite:
    """The validated suite in the YAML ``text``, of any kind in :data:`KINDS`; errors
    (:class:`~pgbench.suite.errors.SuiteError`, one line) name ``filename``."""
    return load.parse_suite(text, SUITE_KINDS, filename)


def load_suite(path: str | Path) -> Suite:
    """The validated suite in the YAML file ``path``, of any kind in :data:`KINDS`."""
    return load.load_suite(path, SUITE_KINDS)


__all__ = ["KINDS", "SUITE_KINDS", "Kind", "SuiteError", "get_experiment", "get_kind",
           "load_suite", "parse_suite"]
