"""Exact objective, gradient and Fisher information for tabular MDPs under tabular softmax.

(An environment with closed forms of its own, ``Env.exact`` (``lqr``), answers
:func:`exact_objective` and :func:`exact_gradient` itself; the rest is tabular.)

These are the oracles the estimators are judged against, so they compute
exactly what a rollout estimates, with no kernels involved (pure numpy):

* an episode takes exactly H actions, t = 0 .. H-1 (no terminal states);
* the reward R[s, a] is received on taking a in s, and is discounted by gamma^t;
* J(theta) = E[sum_{t<H} gamma^t r_t], s_0 ~ mu0, a_t ~ pi_theta(. | s_t),
  s_{t+1} ~ P[s_t, a_t, .].

Because the horizon is finite, values depend on time. With
``pi[s, a] = softmax(theta[s])`` (theta flat, row-major (S, A)):

* state distributions (forward): d_0 = mu0, d_{t+1}(s') = sum_{s,a} d_t(s) pi(a|s) P(s'|s,a);
* values (backward): V_H = 0, Q_t(s, a) = R(s, a) + gamma sum_{s'} P(s'|s,a) V_{t+1}(s'),
  V_t(s) = sum_a pi(a|s) Q_t(s, a);
* policy gradient theorem, finite-horizon form (Sutton, McAllester, Singh & Mansour 2000,
  "Policy gradient methods for reinforcement learning with function approximation", Thm. 1):
  grad J = sum_t gamma^t sum_s d_t(s) sum_a pi(a|s) grad log pi(a|s) Q_t(s, a), which for
  tabular softmax (grad_{theta[s,b]} log pi(a|s) = 1[b = a] - pi(b|s)) is
  grad_{theta[s,b]} J = sum_t gamma^t d_t(s) pi(b|s) (Q_t(s, b) - V_t(s)).

Units: rewards in the environment's reward units; J, Q and V are discounted sums of
rewards (Q_t and V_t are discounted from time t, i.e. the reward at t has weight 1);
d_t are probabilities; gradients are reward units per unit of logit.
"""

from __future__ import annotations

import numpy as np

from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.policies.tabular_softmax import probs_table


def _setup(env, policy, theta) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check the inputs; return (P (S, A, S), R (S, A), mu0 (S,), pi (S, A))."""
    if env.tabular is None:
        raise NoExactFormError(f"no exact form for environment {env.describe()}: it is not tabular")
    if not getattr(policy, "exact_form", False):  # a policy of the user's own may lack it
        raise NoExactFormError(
            f"no exact form for policy {policy.name!r} on environment {env.describe()}: "
            "only 'tabular-softmax' is supported"
        )
    P, R, mu0 = env.tabular
    S, A = R.shape
    if policy.n_params != S * A:
        raise InvalidSpecError(
            f"policy has {policy.n_params} parameters but environment {env.describe()} "
            f"needs S*A = {S * A}"
        )
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (S * A,):
        raise InvalidSpecError(
            f"theta must be flat of length S*A = {S * A} for {env.describe()}, "
            f"got shape {theta.shape}"
        )
    if not np.all(np.isfinite(theta)):
        raise InvalidSpecError(f"theta has non-finite entries (environment {env.describe()})")
    return P, R, mu0, probs_table(theta, S, A)


def _q_values(P, R, pi, gamma: float, H: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward recursion: Q (H, S, A), V (H+1, S) with V[H] = 0."""
    S, A = R.shape
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    for t in range(H - 1, -1, -1):
        Q[t] = R + gamma * (P @ V[t + 1])
        V[t] = np.sum(pi * Q[t], axis=1)
    return Q, V


def _visitation(P, mu0, pi, H: int) -> np.ndarray:
    """Forward recursion: d (H, S), d[t, s] = Pr(s_t = s)."""
    P_pi = np.einsum("sa,sat->st", pi, P)
    d = np.empty((H, mu0.shape[0]))
    d[0] = mu0
    for t in range(H - 1):
        d[t + 1] = d[t] @ P_pi
    return d


def _discounts(gamma: float, H: int) -> np.ndarray:
    """gamma^t for t = 0 .. H-1, shape (H,)."""
    return gamma ** np.arange(H, dtype=np.float64)


def exact_q_values(env, policy, theta) -> tuple[np.ndarray, np.ndarray]:
    """Time-dependent action and state values of pi_theta.

    Args:
        env: a tabular :class:`~pgbench.envs.base.Env` (``env.tabular`` set).
        policy: a ``tabular-softmax`` policy for ``env``.
        theta: flat parameters, shape (S*A,), row-major (S, A) logits.

    Returns:
        ``(Q, V)``: Q has shape (H, S, A), Q[t, s, a] = E[sum_{k=t}^{H-1} gamma^(k-t) r_k |
        s_t = s, a_t = a]; V has shape (H+1, S), V[t, s] = sum_a pi(a|s) Q[t, s, a] and
        V[H] = 0.

    Raises:
        NoExactFormError: ``env`` is not tabular or ``policy`` is not tabular softmax.
        InvalidSpecError: theta has the wrong shape or non-finite entries.
    """
    P, R, _, pi = _setup(env, policy, theta)
    return _q_values(P, R, pi, env.gamma, env.horizon)


def state_visitation(env, policy, theta) -> np.ndarray:
    """State distributions d of shape (H, S): d[t, s] = Pr(s_t = s) under pi_theta.

    d[0] = mu0 and d[t+1] = d[t] P_pi; each row sums to 1 (undiscounted).
    Arguments and errors as :func:`exact_q_values`.
    """
    P, _, mu0, pi = _setup(env, policy, theta)
    return _visitation(P, mu0, pi, env.horizon)


def exact_objective(env, policy, theta) -> float:
    """J(theta) = E[sum_{t<H} gamma^t r_t] = sum_s mu0(s) V_0(s), in reward units.

    An env with closed forms of its own (``env.exact``, e.g. ``lqr``) answers with
    ``env.exact.objective(policy, theta)`` instead (which raises NoExactFormError for a
    policy it has no form for). Otherwise arguments and errors as :func:`exact_q_values`.
    """
    if getattr(env, "exact", None) is not None:
        return float(env.exact.objective(policy, theta))
    P, R, mu0, pi = _setup(env, policy, theta)
    _, V = _q_values(P, R, pi, env.gamma, env.horizon)
    return float(mu0 @ V[0])


def exact_gradient(env, policy, theta) -> np.ndarray:
    """grad_theta J, shape (S*A,) flat row-major, by the policy gradient theorem.

    Finite-horizon policy gradient theorem (Sutton et al. 2000, Thm. 1) with
    tabular-softmax scores:
    ``grad[s, b] = sum_t gamma^t d_t(s) pi(b|s) (Q_t(s, b) - V_t(s))``, where d_t are
    the state distributions (:func:`state_visitation`) and Q_t, V_t the
    time-dependent values (:func:`exact_q_values`). An env with closed forms of its own
    (``env.exact``) answers with ``env.exact.gradient(policy, theta)`` (P,) instead.
    Otherwise arguments and errors as :func:`exact_q_values`.
    """
    if getattr(env, "exact", None) is not None:
        return np.asarray(env.exact.gradient(policy, theta), dtype=np.float64)
    P, R, mu0, pi = _setup(env, policy, theta)
    H = env.horizon
    Q, V = _q_values(P, R, pi, env.gamma, H)
    d = _visitation(P, mu0, pi, H)
    adv = Q - V[:H, :, None]  # (H, S, A)
    weight = _discounts(env.gamma, H)[:, None] * d  # (H, S)
    grad = pi * np.einsum("ts,tsa->sa", weight, adv)
    return grad.ravel()


def exact_fisher(env, policy, theta) -> np.ndarray:
    """Fisher information of pi_theta under the discounted finite-horizon visitation.

    ``F = sum_t gamma^t sum_s d_t(s) sum_a pi(a|s) g(s,a) g(s,a)^T``, shape (S*A, S*A),
    where g(s, a) = grad_theta log pi(a|s) (the score). Weighting: the *unnormalized*
    discounted visitation rho(s) = sum_{t<H} gamma^t d_t(s) (total mass
    sum_t gamma^t, not 1), the same weighting the gradient carries, so that
    grad J = sum_s rho(s) sum_a pi(a|s) g(s,a) Abar(s,a) with Abar the
    rho-weighted average of the advantages Q_t - V_t. Hence the natural gradient
    F^+ grad J (Kakade 2001) equals Abar(s, .) on each visited state's block, up
    to a constant per state (for an infinite horizon Abar -> A^pi; compare
    the A^pi / (1 - gamma) of Agarwal et al. 2021, who normalize rho to mass 1).

    For tabular softmax F is block diagonal: the block of state s is
    rho(s) (diag(pi_s) - pi_s pi_s^T). F is symmetric positive semi-definite with
    a null direction per state (adding a constant to theta[s] changes nothing).
    Units: probability mass times time-discount (dimensionless) per logit squared.
    Arguments and errors as :func:`exact_q_values`.
    """
    P, _, mu0, pi = _setup(env, policy, theta)
    S, A = pi.shape
    d = _visitation(P, mu0, pi, env.horizon)
    rho = _discounts(env.gamma, env.horizon) @ d  # (S,)
    F = np.zeros((S, A, S, A))
    for s in range(S):
        F[s, :, s, :] = rho[s] * (np.diag(pi[s]) - np.outer(pi[s], pi[s]))
    return F.reshape(S * A, S * A)


def exact_natural_gradient(env, policy, theta) -> np.ndarray:
    """The natural gradient F^+ grad J, shape (S*A,) flat row-major (Kakade 2001).

    F is :func:`exact_fisher` (unnormalized discounted visitation weighting) and F^+
    its Moore-Penrose pseudo-inverse, so this is the minimum-norm solution of
    F w = grad J. Softmax has a null direction per state: adding a constant c to the
    logits theta[s, :] leaves pi unchanged, so F (w + c 1_s) = F w and every w + c 1_s
    solves the system equally well. grad J[s, :] = rho(s) pi_s * Abar[s, :] sums to zero
    over actions (sum_a pi(a|s) Abar[s, a] = 0), so it is orthogonal to the null
    directions and lies in the range of F: a solution exists, and the minimum-norm one
    is orthogonal to every null direction, sum_a w[s, a] = 0 for each state.

    Closed form. F is block diagonal, block s = rho(s) (diag(pi_s) - pi_s pi_s^T), and
    that block maps Abar[s, :] to grad J[s, :] (Kakade 2001, Thm. 1: the natural
    gradient is the weight of the compatible advantage approximator), so

        w[s, :] = Abar[s, :] - mean_a Abar[s, a],
        Abar[s, a] = sum_t gamma^t d_t(s) (Q_t(s, a) - V_t(s)) / rho(s),

    the rho-weighted average advantage centred over actions, and w[s] = 0 for states
    never visited (rho(s) = 0). This equals pinv(F) @ grad J whenever pi > 0 (finite
    logits), and stays accurate where pinv would not: nearly deterministic states make
    the block's entries cancel to rounding error. Units: advantage units (reward).
    Arguments and errors as :func:`exact_q_values`.
    """
    P, R, mu0, pi = _setup(env, policy, theta)
    H = env.horizon
    Q, V = _q_values(P, R, pi, env.gamma, H)
    weight = _discounts(env.gamma, H)[:, None] * _visitation(P, mu0, pi, H)  # (H, S)
    rho = weight.sum(axis=0)  # (S,)
    total = np.einsum("ts,tsa->sa", weight, Q - V[:H, :, None])  # rho(s) Abar[s, a]
    abar = np.divide(total, rho[:, None], out=np.zeros_like(total), where=rho[:, None] > 0)
    return (abar - abar.mean(axis=1, keepdims=True)).ravel()


def uniform_value(env) -> float:
    """J of the uniform random policy, pi(a|s) = 1 / A everywhere: the same backward
    recursion as :func:`exact_objective` (the low end of a tabular env's normalized
    score, :mod:`pgbench.suite.score_ranges`)."""
    if env.tabular is None:
        raise NoExactFormError(f"no exact form for environment {env.describe()}: it is not tabular")
    P, R, mu0 = env.tabular
    pi = np.full(R.shape, 1.0 / R.shape[1])
    _, V = _q_values(P, R, pi, env.gamma, env.horizon)
    return float(mu0 @ V[0])


def optimal_value(env) -> float:
    """max over policies of J: finite-horizon value iteration (Bellman 1957),
    V_H = 0, V_t(s) = max_a R(s, a) + gamma sum_s' P(s'|s, a) V_{t+1}(s'),
    J* = mu0 . V_0. The maximizing policy may depend on t; a stationary policy
    (tabular softmax) can come arbitrarily close only when the horizon is long
    relative to 1 / (1 - gamma) or the optimal actions do not change with t."""
    if env.tabular is None:
        raise NoExactFormError(f"no exact form for environment {env.describe()}: it is not tabular")
    P, R, mu0 = env.tabular
    V = np.zeros(R.shape[0])
    for _ in range(env.horizon):
        V = np.max(R + env.gamma * (P @ V), axis=1)
    return float(mu0 @ V)
