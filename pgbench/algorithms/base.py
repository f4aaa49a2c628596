"""What a learning algorithm is: a function, its hyperparameters and its source.

An algorithm is ``fn(run, params) -> theta``: it improves ``run.theta0`` until
``run.done()`` (the env-step budget is spent), drawing experience only through
``run`` (which counts env steps and logs the learning curve) and randomness
only from ``run.rng``. ``params`` is an instance of the algorithm's frozen
pydantic model, declared next to the function; suites validate with the same
model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from pgbench.errors import InvalidSpecError
from pgbench.params import HyperParams
from pgbench.registry import ALGORITHMS


class AlgoParams(HyperParams):
    """Base of every algorithm's hyperparameter model (closed, strict, finite: see
    :mod:`pgbench.params`)."""


@dataclass(frozen=True)
class Algorithm:
    """A registered learning algorithm.

    Attributes:
        name: registry name.
        fn: ``(run: TrainRun, params) -> final theta (P,)``.
        params: pydantic model of the hyperparameters.
        citation: the paper (and equations) it follows.
        summary: one line for ``pgbench list``.
        deterministic: False where the result depends on thread scheduling (A3C).
    """

    name: str
    fn: Callable
    params: type[AlgoParams]
    citation: str
    summary: str
    deterministic: bool = True


def register(algorithm: Algorithm) -> Algorithm:
    """Add ``algorithm`` to the ALGORITHMS registry under its own name."""
    return ALGORITHMS.register(algorithm.name)(algorithm)


def algorithm_params(name: str, **params):
    """The validated hyperparameter model of algorithm ``name`` (one-line errors)."""
    algo = ALGORITHMS.get(name)
    try:
        return algo.params(**params)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        raise InvalidSpecError(f"algorithm {name!r}: {where}: {err['msg']}") from None
