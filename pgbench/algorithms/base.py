"""What a learning algorithm is: a function, its hyperparameters and its source.

An algorithm is ``fn(run, params) -> theta``: it improves ``run.theta0`` until
``run.done()`` (the env-step budget is spent), drawing experience only through
``run`` (which counts env steps and logs the learning curve) and randomness
only from ``run.rng``. ``params`` is an instance of the algorithm's frozen
pydantic model, declared next to the function; suites validate with the same
model. Each algorithm module adds its algorithms to :data:`pgbench.registry.ALGORITHMS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pgbench.params import HyperParams
from pgbench.registry import Component


class AlgoParams(HyperParams):
    """Base of every algorithm's hyperparameter model (closed, strict, finite: see
    :mod:`pgbench.params`)."""


@dataclass(frozen=True, kw_only=True)
class Algorithm(Component):
    """A registered learning algorithm (a :class:`~pgbench.registry.Component`).

    Attributes:
        fn: ``(run: TrainRun, params) -> final theta (P,)``.
        params: an :class:`AlgoParams` subclass (it answers ``steps_per_update``).
        deterministic: False where the result depends on thread scheduling (A3C).
    """

    kind: ClassVar[str] = "algorithm"

    deterministic: bool = True
