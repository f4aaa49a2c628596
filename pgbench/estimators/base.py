"""What an estimator is: a function, its hyperparameters, and what it promises.

An estimator is ``fn(sampler, theta, episodes, seed, params) -> (P,) gradient``
spending at most ``episodes`` episodes through ``sampler`` (which counts env
steps). ``params`` is an instance of the estimator's frozen pydantic model,
declared next to the function; suites validate against the same model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from pgbench.params import HyperParams
from pgbench.registry import ESTIMATORS


class NoParams(HyperParams):
    """An estimator without hyperparameters."""


@dataclass(frozen=True)
class Estimator:
    """A registered gradient estimator.

    Attributes:
        name: registry name.
        fn: ``(sampler, theta, episodes, seed, params) -> gradient (P,)``.
        params: pydantic model of the hyperparameters (extra keys forbidden).
        unbiased: True if E[estimate] = grad J exactly at every batch size, or a
            function of the params saying so.
        bias_note: what the bias depends on, for biased estimators.
        citation: source of the estimator.
        estimand: what the estimate estimates: ``"gradient"`` (grad J),
            ``"natural-gradient"`` (F^+ grad J) or ``"restricted-step"`` (the
            Euclidean trust-region step, see ``restricted``); experiments compare
            each estimator with the exact (or reference) value of its estimand.
    """

    name: str
    fn: Callable
    params: type[BaseModel]
    unbiased: bool | Callable[[BaseModel], bool]
    citation: str
    bias_note: str = ""
    estimand: str = "gradient"

    def is_unbiased(self, params: BaseModel) -> bool:
        """Whether the estimate with these hyperparameters is unbiased at every batch size."""
        return bool(self.unbiased(params) if callable(self.unbiased) else self.unbiased)


def register(estimator: Estimator) -> Estimator:
    """Add ``estimator`` to the ESTIMATORS registry under its own name."""
    return ESTIMATORS.register(estimator.name)(estimator)
