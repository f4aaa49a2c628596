"""What an estimator is: a function, its hyperparameters, and what it promises.

An estimator is ``fn(sampler, theta, episodes, seed, params) -> (P,) gradient``
spending at most ``episodes`` episodes through ``sampler`` (which counts env
steps). ``params`` is an instance of the estimator's frozen pydantic model,
declared next to the function; suites validate against the same model.
Each estimator module adds its estimators to :data:`pgbench.registry.ESTIMATORS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import BaseModel

from pgbench.params import NoParams
from pgbench.registry import Component

__all__ = ["Estimator", "NoParams"]


@dataclass(frozen=True, kw_only=True)
class Estimator(Component):
    """A registered gradient estimator (a :class:`~pgbench.registry.Component`).

    Attributes:
        fn: ``(sampler, theta, episodes, seed, params) -> gradient (P,)``.
        unbiased: True if E[estimate] = grad J exactly at every batch size, or a
            function of the params saying so.
        bias_note: what the bias depends on, for biased estimators.
        estimand: what the estimate estimates: ``"gradient"`` (grad J),
            ``"natural-gradient"`` (F^+ grad J) or ``"restricted-step"`` (the
            Euclidean trust-region step, see ``restricted``); experiments compare
            each estimator with the exact (or reference) value of its estimand.
        from_gradient: for an estimand that is a function of grad J (``restricted-step``):
            ``(g (P,), params) -> (P,)``, the estimand's value given the gradient g.
    """

    kind: ClassVar[str] = "estimator"

    unbiased: bool | Callable[[BaseModel], bool]
    bias_note: str = ""
    estimand: str = "gradient"
    from_gradient: Callable[[np.ndarray, BaseModel], np.ndarray] | None = None

    def is_unbiased(self, params: BaseModel) -> bool:
        """Whether the estimate with these hyperparameters is unbiased at every batch size."""
        return bool(self.unbiased(params) if callable(self.unbiased) else self.unbiased)
