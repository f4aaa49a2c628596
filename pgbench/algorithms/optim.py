"""First-order optimizers on flat parameter vectors, written as *ascent* steps.

Algorithms hand an optimizer the gradient of the objective they maximize;
``step(params, grad, lr)`` returns the new parameters. The update rules are
the standard ones, applied in one pass by :func:`pgbench.kernels.optim.ascent_step`:

* SGD: ``params + lr g``;
* RMSprop (Tieleman & Hinton 2012, as ``torch.optim.RMSprop``):
  ``v = alpha v + (1 - alpha) g^2``, ``params + lr g / (sqrt(v) + eps)``;
* Adam (Kingma & Ba 2015, Algorithm 1): ``m = beta1 m + (1 - beta1) g``,
  ``v = beta2 v + (1 - beta2) g^2``,
  ``params + lr m_hat / (sqrt(v_hat) + eps)`` with bias-corrected moments.

``g`` is the gradient after clipping to ``max_grad_norm``. A learning-rate
schedule is a function of the fraction of the budget spent.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from pgbench.kernels.optim import ADAM, RMSPROP, SGD, ascent_step, ascent_step_inplace
from pgbench.params import HyperParams

_KINDS = {"sgd": SGD, "rmsprop": RMSPROP, "adam": ADAM}


class OptimizerParams(HyperParams):
    """Optimizer settings shared by the algorithms (a field ``optimizer`` of theirs)."""

    kind: Literal["sgd", "adam", "rmsprop"] = Field("adam", description="update rule")
    lr: float = Field(3e-4, gt=0, description="learning rate (step size)")
    schedule: Literal["constant", "linear"] = Field(
        "constant", description="linear: lr decays to 0 over the env-step budget"
    )
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam first-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam second-moment decay")
    alpha: float = Field(0.99, ge=0, lt=1, description="RMSprop mean-square decay")
    eps: float = Field(1e-8, gt=0, description="denominator guard (Adam, RMSprop)")
    max_grad_norm: float | None = Field(
        None, gt=0, description="clip the gradient to this global L2 norm (None: no clip)"
    )


class Optimizer:
    """Stateful optimizer over a flat vector of ``n`` parameters."""

    def __init__(self, params: OptimizerParams, n: int):
        self.p = params
        self.m = np.zeros(n)
        self.v = np.zeros(n)
        self.t = 0

    def lr(self, progress: float) -> float:
        """Learning rate after ``progress`` (fraction of the budget spent, in [0, 1])."""
        if self.p.schedule == "linear":
            return self.p.lr * max(0.0, 1.0 - progress)
        return self.p.lr

    def step(self, params: np.ndarray, grad: np.ndarray, progress: float = 0.0) -> np.ndarray:
        """New parameters after one ascent step along ``grad`` (clipped first); ``params``
        and ``grad`` are left unchanged."""
        self.t += 1
        params = np.ascontiguousarray(params, dtype=np.float64)
        return ascent_step(_KINDS[self.p.kind], params, *self._state(grad, self.t, progress))

    def step_inplace(
        self, params: np.ndarray, grad: np.ndarray, t: int, progress: float = 0.0
    ) -> np.ndarray:
        """Add one ascent step along ``grad`` (n,) to ``params`` (n,) in place, element by
        element (Hogwild, Recht et al. 2011: threads sharing ``params`` and this optimizer's
        statistics lose at most the add of an element two of them write at the same
        instant); ``t`` is the step number for Adam's bias corrections, counted by the
        caller. Returns the (n,) step taken."""
        step = np.empty_like(params)
        ascent_step_inplace(_KINDS[self.p.kind], params, *self._state(grad, t, progress), step)
        return step

    def constants(self, progress: float) -> tuple:
        """(rule code, learning rate, beta1, beta2, alpha, eps, max_norm): the update rule's
        constants after ``progress``, as the kernels take them (max_norm -1: no clip)."""
        p = self.p
        max_norm = -1.0 if p.max_grad_norm is None else p.max_grad_norm
        return _KINDS[p.kind], self.lr(progress), p.beta1, p.beta2, p.alpha, p.eps, max_norm

    def _state(self, grad: np.ndarray, t: int, progress: float) -> tuple:
        """The kernels' arguments after the parameters: gradient, moments, step number,
        learning rate and the rule's constants."""
        _, lr, beta1, beta2, alpha, eps, max_norm = self.constants(progress)
        grad = np.ascontiguousarray(grad, dtype=np.float64)
        return (grad, self.m, self.v, t, lr, beta1, beta2, alpha, eps, max_norm)


def clip_by_norm(grad: np.ndarray, max_norm: float | None) -> np.ndarray:
    """``grad`` scaled down to L2 norm ``max_norm`` if it is longer (None: unchanged)."""
    if max_norm is None:
        return grad
    norm = float(np.sqrt(grad @ grad))
    if norm > max_norm:
        return grad * (max_norm / (norm + 1e-6))
    return grad
