"""The game estimators of the ``game-estimators`` experiment, registered in
:data:`pgbench.registry.GAME_ESTIMATORS`.

A game estimator computes one derivative of a value of the iterated game from a batch of
episodes at x = concat(theta^1, theta^2) (10,), flattened, and names the exact
derivative (:func:`pgbench.games.exact.derivatives`) it is compared with:

* ``pg-gradient``: grad_x V^1 (10,), the causal score-function / DiCE first derivative;
* ``lola-pg-cross-term``: grad_{th1} grad_{th2} V^2 (5, 5), LOLA-PG's second-order term;
* ``dice-hessian``: the DiCE Hessian of V^1 (10, 10).

Each takes the param ``baseline`` (:mod:`pgbench.games.estimators`): ``none``, ``time``,
or ``value`` (Loaded DiCE, with the exact state values of the infinite game as b(s));
the cross term takes ``none`` or ``time``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import field_validator, model_validator

from pgbench.errors import InvalidSpecError
from pgbench.games.estimators import BASELINES, dice_derivatives, lola_cross_term
from pgbench.games.exact import Derivatives
from pgbench.games.joint import GameBatch
from pgbench.params import HyperParams
from pgbench.registry import GAME_ESTIMATORS, Component


class GameEstimatorParams(HyperParams):
    """The one param of a game estimator, ``baseline`` (default ``none``)."""

    baseline: Literal["none", "time", "value"] = "none"

    @model_validator(mode="before")
    @classmethod
    def _only_a_known_baseline(cls, data: Any) -> Any:
        if isinstance(data, dict):
            extra = sorted(set(data) - set(cls.model_fields))
            if extra:
                raise InvalidSpecError(f"game estimators take only 'baseline', got {extra[0]!r}")
            baseline = data.get("baseline", "none")
            if baseline not in BASELINES:
                raise InvalidSpecError(f"baseline must be one of {BASELINES}, got {baseline!r}")
        return data


class CrossTermParams(GameEstimatorParams):
    """``baseline`` of ``lola-pg-cross-term``: ``none`` or ``time``."""

    @field_validator("baseline")
    @classmethod
    def _no_value_baseline(cls, baseline: str) -> str:
        if baseline == "value":
            raise InvalidSpecError("lola-pg-cross-term takes baseline 'none' or 'time'")
        return baseline


@dataclass(frozen=True, kw_only=True)
class GameEstimator(Component):
    """A registered game estimator (a :class:`~pgbench.registry.Component`).

    Attributes:
        fn: ``(batch, params, values) -> estimate`` flat float64, ``values`` (2, 5) the
            exact state values of both agents (the ``value`` baseline's b(s)).
        exact_target: ``(derivatives of the H-round values at x) -> exact value``, flat,
            of the same length as the estimate.
    """

    kind: ClassVar[str] = "game estimator"

    exact_target: Callable[[Derivatives], np.ndarray]


def pg_gradient(batch: GameBatch, params: GameEstimatorParams, values: np.ndarray) -> np.ndarray:
    """grad_x V^1 (10,): the DiCE first derivative of the first agent's return."""
    return dice_derivatives(batch, 0, params.baseline, values[0], order=1)[0]


def exact_gradient(d: Derivatives) -> np.ndarray:
    """grad_x V^1 (10,)."""
    return d.grad[0]


def cross_term(batch: GameBatch, params: CrossTermParams, values: np.ndarray) -> np.ndarray:
    """grad_{th1} grad_{th2} V^2 (25,): LOLA-PG's second-order term, flattened."""
    return lola_cross_term(batch, 1, params.baseline).ravel()


def exact_cross_term(d: Derivatives) -> np.ndarray:
    """grad_{th1} grad_{th2} V^2 (25,), flattened."""
    return d.hess[1][:5, 5:].ravel()


def dice_hessian(batch: GameBatch, params: GameEstimatorParams, values: np.ndarray) -> np.ndarray:
    """Hess V^1 (100,): the DiCE second derivative of the first agent's return, flattened."""
    return dice_derivatives(batch, 0, params.baseline, values[0], order=2)[1].ravel()


def exact_hessian(d: Derivatives) -> np.ndarray:
    """Hess V^1 (100,), flattened."""
    return d.hess[0].ravel()


LOLA = "Foerster et al. (2018), LOLA: Learning with Opponent-Learning Awareness, AAMAS, Sec. 4.3"
DICE = "Foerster et al. (2018), DiCE, ICML, Sec. 4; Loaded DiCE: Farquhar et al. (2019)"
GAME_ESTIMATORS.add(
    GameEstimator(
        name="pg-gradient",
        fn=pg_gradient,
        params=GameEstimatorParams,
        exact_target=exact_gradient,
        citation=DICE,
    )
)
GAME_ESTIMATORS.add(
    GameEstimator(
        name="lola-pg-cross-term",
        fn=cross_term,
        params=CrossTermParams,
        exact_target=exact_cross_term,
        citation=LOLA,
    )
)
GAME_ESTIMATORS.add(
    GameEstimator(
        name="dice-hessian",
        fn=dice_hessian,
        params=GameEstimatorParams,
        exact_target=exact_hessian,
        citation=DICE,
    )
)
