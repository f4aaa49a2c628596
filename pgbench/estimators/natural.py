"""Natural policy gradient: F^-1 g with the Fisher information estimated from scores.

Kakade (2001), "A natural policy gradient", NeurIPS; Peters & Schaal (2008),
"Natural actor-critic", Neurocomputing 71. The restricted gradient of seed 001
maximizes the linearized objective g^T (theta' - theta) subject to
1/2 (theta' - theta)^T I (theta' - theta) <= eps; measuring the step by the
expected KL divergence between the policies instead, whose Hessian at theta' = theta
is the Fisher matrix F, gives the step direction F^-1 g: the natural gradient.

Weighting of F. The estimate

    F_hat = 1/E sum_e sum_t gamma^t mask_et score_et score_et^T          (P, P)

has expectation sum_t gamma^t sum_s d_t(s) sum_a pi(a|s) score score^T, exactly the
unnormalized discounted visitation weighting of :func:`pgbench.exact.exact_fisher`,
so ``natural`` estimates :func:`pgbench.exact.exact_natural_gradient` (up to the damping).

Damping. F is singular for softmax policies (adding a constant to all logits of a
state changes nothing), and F_hat also has no curvature in directions the batch
never visited. The solve uses F_hat + lam I with lam = ``damping`` * tr(F_hat) / P:
``damping`` is relative to the mean eigenvalue of F_hat, so one value fits problems
whose Fisher scale differs (horizon, discount, number of parameters).
``damping = 0`` gives the minimum-norm solution F_hat^+ g.

Bias. F_hat^-1 g_hat is a ratio of estimates: E[F_hat^-1] != F^-1 (Jensen) and F_hat,
g_hat come from the same episodes, so the estimate is biased at every finite batch
size, the bias falling as O(1/N); with damping > 0 the large-N limit is
(F + lam I)^-1 g rather than F^+ g, a bias of relative size about lam / (small
eigenvalues of F) that does not fall with N.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator

from pgbench.estimators.base import Estimator
from pgbench.params import HyperParams
from pgbench.registry import ESTIMATORS, error_line, suggest

CG_RELATIVE_TOL = 1e-10  # CG stops once ||residual|| <= this * ||g||


WRAPPERS = ("natural", "restricted")  # estimators that wrap a base estimator


class WrappedBaseParams(HyperParams):
    """The base estimator a wrapping estimator (``natural``, ``restricted``) calls."""

    base: str = Field(
        "reward-to-go", description="registered estimator giving the vanilla gradient g"
    )
    base_params: dict[str, Any] = Field(
        default_factory=dict, description="hyperparameters of the base estimator"
    )

    @field_validator("base")
    @classmethod
    def _known_base(cls, base: str) -> str:
        if base in WRAPPERS:
            raise ValueError(f"the base estimator cannot be the wrapper {base!r}")
        if base not in ESTIMATORS:
            raise ValueError(f"unknown estimator {base!r}" + suggest(base, ESTIMATORS.names()))
        return base

    @field_validator("base_params")
    @classmethod
    def _valid_base_params(cls, base_params: dict, info) -> dict:
        base = info.data.get("base")
        if base is not None:  # None: the base itself was rejected
            try:
                ESTIMATORS.get(base).validate(base_params)
            except ValidationError as exc:
                raise ValueError(f"{base!r}: {error_line(exc)}") from None
        return base_params

    def base_gradient(self, sampler, theta, episodes: int, seed: int) -> np.ndarray:
        """g (P,) from the base estimator with its own hyperparameters."""
        base = ESTIMATORS.get(self.base)
        return base.fn(sampler, theta, episodes, seed, base.validate(self.base_params))


class NaturalParams(WrappedBaseParams):
    """Hyperparameters of ``natural``."""

    damping: float = Field(
        1e-3,
        ge=0.0,
        description="Tikhonov damping relative to the mean eigenvalue of the Fisher "
        "estimate: F + damping * tr(F) / P * I (0: minimum-norm solve)",
    )
    solver: Literal["direct", "cg"] = Field(
        "direct",
        description="direct: form F (P x P) and solve; cg: conjugate gradient on "
        "Fisher-vector products, never forming F",
    )
    cg_iters: int = Field(10, ge=1, description="maximum conjugate-gradient iterations (cg)")


class RestrictedParams(WrappedBaseParams):
    """Hyperparameters of ``restricted``."""

    epsilon: float = Field(
        0.01, gt=0.0, description="trust region 1/2 ||theta' - theta||^2 <= epsilon"
    )


def natural_gradient(sampler, theta, episodes: int, seed: int, params: NaturalParams) -> np.ndarray:
    """Natural policy gradient (F_hat + lam I)^-1 g_hat, (P,).

    g_hat (P,): the ``base`` estimator with ``episodes`` and ``seed``. F_hat (P, P): the
    discounted score outer products of ``episodes`` stored episodes with the same
    seed, which for the likelihood-ratio bases (reinforce, reward-to-go) are the very
    episodes of g_hat, as in Kakade (2001) and Peters & Schaal (2008), where one batch
    gives both; they are counted once in the sampler's cost. lam: see the module
    docstring. Units: those of g over those of F (for tabular softmax, reward: the
    exact natural gradient is a centred average advantage).
    """
    batch = sampler.batch(theta, episodes, seed)
    g = params.base_gradient(_PaidFor(sampler, theta, episodes, seed), theta, episodes, seed)
    scores, w = discounted_scores(batch, sampler.env.gamma)
    P = scores.shape[1]

    def fisher_vector(v: np.ndarray) -> np.ndarray:
        """F_hat v = sum_n w_n score_n (score_n . v), in O(E T P), F_hat never formed."""
        return scores.T @ (w * (scores @ v))

    lam = params.damping * float(np.einsum("n,np,np->", w, scores, scores)) / P  # tr(F_hat)/P
    if params.solver == "cg":
        return conjugate_gradient(lambda v: fisher_vector(v) + lam * v, g, params.cg_iters)
    F = fisher_estimate(batch, sampler.env.gamma)
    if lam == 0.0:
        return np.linalg.pinv(F, hermitian=True) @ g
    return np.linalg.solve(F + lam * np.eye(P), g)


def discounted_scores(batch, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """(scores (E*T, P), w (E*T,)) with w = gamma^t mask / E, so that
    F_hat = sum_n w_n score_n score_n^T = 1/E sum_e sum_t gamma^t mask score score^T."""
    E, T, P = batch.score.shape
    w = (gamma ** np.arange(T))[None, :] * batch.mask / E
    return batch.score.reshape(E * T, P), w.reshape(E * T)


def fisher_estimate(batch, gamma: float) -> np.ndarray:
    """F_hat (P, P), the sample Fisher of the module docstring; E[F_hat] = exact_fisher."""
    scores, w = discounted_scores(batch, gamma)
    return (scores * w[:, None]).T @ scores


def conjugate_gradient(matvec, b: np.ndarray, iters: int) -> np.ndarray:
    """x ~ M^-1 b for symmetric positive (semi-)definite M given as ``matvec``, from x = 0.

    Hestenes & Stiefel (1952); at most ``iters`` steps, stopping once the residual is
    below ``CG_RELATIVE_TOL * ||b||``. From x = 0 on a consistent singular system the
    iterates stay in the range of M, so CG tends to the minimum-norm solution.
    """
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = float(r @ r)
    stop = (CG_RELATIVE_TOL * np.linalg.norm(b)) ** 2
    for _ in range(iters):
        if rr <= stop:
            break
        Mp = matvec(p)
        alpha = rr / float(p @ Mp)
        x += alpha * p
        r -= alpha * Mp
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def restricted_direction(g: np.ndarray, epsilon: float) -> np.ndarray:
    """argmax_d g^T d subject to 1/2 d^T d <= epsilon: d = sqrt(2 epsilon / g^T g) g (P,).

    0 when g = 0 (every feasible step is then equally good to first order).
    """
    gg = float(g @ g)
    return np.sqrt(2.0 * epsilon / gg) * g if gg > 0.0 else np.zeros_like(g)


def restricted_step_of(g: np.ndarray, params: RestrictedParams) -> np.ndarray:
    """The restricted step (P,) that gradient ``g`` gives with these params: what
    ``restricted`` estimates when its base estimates g."""
    return restricted_direction(g, params.epsilon)


def restricted_step(sampler, theta, episodes: int, seed: int, params: RestrictedParams):
    """Restricted gradient step of seed 001 (Kochenderfer, Wheeler & Wray 2022, Sec. 12.2).

    Maximize the linearization U(theta) + g^T (theta' - theta) subject to
    1/2 (theta' - theta)^T I (theta' - theta) <= epsilon, with g from the ``base``
    estimator: the step theta' - theta = sqrt(2 epsilon / g^T g) g, (P,). Its
    direction is the base gradient's; its length is fixed by epsilon. Measuring the
    step by the KL divergence instead of I gives ``natural``.
    """
    return restricted_direction(
        params.base_gradient(sampler, theta, episodes, seed), params.epsilon
    )


class _PaidFor:
    """The sampler as the base estimator sees it: the episodes already drawn for the
    Fisher (same theta and seed, at most as many) are replayed without being counted
    again, since they are the same episodes; anything else is counted as usual."""

    def __init__(self, sampler, theta, episodes: int, seed: int):
        self._sampler = sampler
        self._paid = (np.array(theta, copy=True), episodes, seed)

    def __getattr__(self, name):
        return getattr(self._sampler, name)

    def _is_paid(self, theta, episodes, seed, horizon=None) -> bool:
        paid_theta, paid_episodes, paid_seed = self._paid
        return (
            seed == paid_seed
            and episodes <= paid_episodes
            and horizon in (None, self._sampler.env.horizon)
            and np.array_equal(theta, paid_theta)
        )

    def _replay(self, paid: bool, draw):
        s = self._sampler
        steps, episodes = s.env_steps, s.episodes
        out = draw()
        if paid:
            s.env_steps, s.episodes = steps, episodes
        return out

    def batch(self, theta, episodes: int, seed: int, horizon: int | None = None):
        paid = self._is_paid(theta, episodes, seed, horizon)
        return self._replay(paid, lambda: self._sampler.batch(theta, episodes, seed, horizon))

    def episode_sums(self, theta, episodes: int, seed: int):
        paid = self._is_paid(theta, episodes, seed)
        return self._replay(paid, lambda: self._sampler.episode_sums(theta, episodes, seed))


ESTIMATORS.add(
    Estimator(
        name="natural",
        fn=natural_gradient,
        params=NaturalParams,
        unbiased=False,
        citation="Kakade (2001), NeurIPS 14; Peters & Schaal (2008), Neurocomputing 71",
        estimand="natural-gradient",
        bias_note=(
            "biased at every finite batch size: a ratio of estimates (E[F_hat^-1] != F^-1) "
            "with F_hat and g_hat from the same episodes; this bias falls as O(1/N). With "
            "damping > 0 the large-N limit is (F + lam I)^-1 g, lam = damping * tr(F) / P, "
            "not F^+ g: a bias of order lam over the small eigenvalues of F that does not "
            "fall with N. A biased base estimator adds its own bias."
        ),
    )
)
ESTIMATORS.add(
    Estimator(
        name="restricted",
        fn=restricted_step,
        params=RestrictedParams,
        unbiased=False,
        citation="Kochenderfer, Wheeler & Wray (2022), Algorithms for Decision Making, Sec. 12.2",
        bias_note=(
            "a nonlinear function (g / ||g||) of an unbiased g: biased towards longer "
            "noise directions at small batch sizes; the bias falls as the base estimate "
            "concentrates. Compared with the step built from the exact gradient."
        ),
        estimand="restricted-step",
        from_gradient=restricted_step_of,
    )
)
