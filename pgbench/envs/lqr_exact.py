"""Closed forms of the linear-quadratic regulator under a linear Gaussian policy.

The problem (:class:`LqrProblem`, n states, m controls):

* x_{t+1} = A x_t + B u_t + w_t, w_t ~ N(0, W) independent; x_0 ~ N(x0_mean, Sigma0);
* cost c_t = x_t^T Q x_t + u_t^T R u_t, reward r_t = -c_t, for t = 0 .. H-1 (H actions, no
  terminal cost); J = E[sum_{t<H} gamma^t r_t];
* policy u_t ~ N(K x_t + b, diag(sigma^2)), theta = [K (m, n) row-major, b (m,),
  log sigma (m,)]: pgbench's ``gaussian`` policy with ``hidden: []`` (P = m n + 2 m).

Everything is written in the augmented state z = [x; 1] (n + 1), so that the affine part b
is a column of the gain: u = G z + sigma * eps with G = [K, b] (m, n + 1), and
z_{t+1} = F z_t + [B sigma eps + w; 0] with F = Abar + Bbar G, Abar = blockdiag(A, 1),
Bbar = [B; 0]. With D = diag(sigma^2), Qbar = blockdiag(Q, 0) and
N = blockdiag(B D B^T + W, 0) (the injected noise):

* second moments (forward): Z_0 = E[z_0 z_0^T], Z_{t+1} = F Z_t F^T + N;
* cost-to-go (backward; Bertsekas 2017, Dynamic Programming and Optimal Control I,
  Sec. 3.2, for a fixed linear policy): V_t(x) = z^T P_t z + q_t with P_H = 0, q_H = 0,
  P_t = Qbar + G^T R G + gamma F^T P_{t+1} F,
  q_t = tr(R D) + gamma (tr(P_{t+1}[:n, :n] (B D B^T + W)) + q_{t+1});
  J = -(tr(P_0 Z_0) + q_0);
* gradient: the policy gradient theorem (Sutton, McAllester, Singh & Mansour 2000,
  Thm. 1) with the action-value Q_t(x, u), which is quadratic in u with Hessian
  2 M_t, M_t = R + gamma B^T P_{t+1}[:n, :n] B (m, m). Averaging its u-derivative over
  the Gaussian gives Fazel, Ge, Kakade & Mesbahi (2018, ICML, "Global convergence of
  policy gradient methods for the linear quadratic regulator", Lemma 1:
  grad C(K) = 2 E_K Sigma_K), in its finite-horizon, discounted, affine form:

      d(-J)/dG = 2 sum_{t<H} gamma^t E_t Z_t,  E_t = R G + gamma Bbar^T P_{t+1} F  (m, n + 1),
      d(-J)/d log sigma_i = 2 sigma_i^2 sum_{t<H} gamma^t M_t[i, i].

  The first is Fazel's E_K (their u = -K x; here u = +K x + b); the second is the
  derivative of E_eps[Q_t(x, G z + sigma eps)] = Q_t(x, G z) + tr(M_t D), which does not
  depend on x (so the state distribution integrates out).

The infinite-horizon discounted value (gamma < 1) replaces the recursions by their fixed
points, discrete Lyapunov equations (scipy.linalg.solve_discrete_lyapunov): P = Qbar +
G^T R G + gamma F^T P F and S = sum_t gamma^t Z_t = Z_0 + gamma N / (1 - gamma) +
gamma F S F^T, finite iff sqrt(gamma) rho(A + B K) < 1.

Units: costs in the problem's cost units (J is minus a discounted sum of costs);
gradients are J units per unit of parameter. Pure numpy / scipy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import solve_discrete_lyapunov

from pgbench.errors import InvalidSpecError


class LqrProblem(NamedTuple):
    """The matrices of an LQR problem, float64, n states and m controls (validated by
    :func:`pgbench.envs.lqr.lqr_problem`)."""

    A: np.ndarray  # (n, n) dynamics
    B: np.ndarray  # (n, m) control input
    Q: np.ndarray  # (n, n) state cost, symmetric PSD
    R: np.ndarray  # (m, m) control cost, symmetric PSD
    W: np.ndarray  # (n, n) process-noise covariance, symmetric PSD
    Sigma0: np.ndarray  # (n, n) start covariance, symmetric PSD
    x0_mean: np.ndarray  # (n,) start mean

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def m(self) -> int:
        return self.B.shape[1]


def n_params(n: int, m: int) -> int:
    """Length of theta = [K (m, n), b (m), log sigma (m)]: m n + 2 m."""
    return m * n + 2 * m


def split_theta(theta: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``theta`` (m n + 2 m,) as (K (m, n), b (m,), log sigma (m,)) (views)."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (n_params(n, m),):
        raise InvalidSpecError(
            f"theta must be flat of length m*n + 2*m = {n_params(n, m)} for n={n}, m={m}, "
            f"got shape {theta.shape}"
        )
    return theta[: m * n].reshape(m, n), theta[m * n : m * n + m], theta[m * n + m :]


class _ClosedLoop(NamedTuple):
    """The augmented quantities of one theta (see the module docstring)."""

    F: np.ndarray  # (n+1, n+1) closed-loop map of z
    G: np.ndarray  # (m, n+1) gain [K, b]
    Bbar: np.ndarray  # (n+1, m) [B; 0]
    sigma2: np.ndarray  # (m,) action variances
    cost: np.ndarray  # (n+1, n+1) Qbar + G^T R G: E[c_t | z_t] = z^T cost z + tr(R D)
    noise: np.ndarray  # (n+1, n+1) N = blockdiag(B D B^T + W, 0)


def _closed_loop(p: LqrProblem, theta: np.ndarray) -> _ClosedLoop:
    n, m = p.n, p.m
    K, b, log_std = split_theta(theta, n, m)
    G = np.concatenate([K, b[:, None]], axis=1)
    Bbar = np.concatenate([p.B, np.zeros((1, m))], axis=0)
    Abar = np.zeros((n + 1, n + 1))
    Abar[:n, :n] = p.A
    Abar[n, n] = 1.0
    sigma2 = np.exp(2.0 * log_std)
    cost = G.T @ p.R @ G
    cost[:n, :n] += p.Q
    noise = np.zeros((n + 1, n + 1))
    noise[:n, :n] = (p.B * sigma2) @ p.B.T + p.W
    return _ClosedLoop(Abar + Bbar @ G, G, Bbar, sigma2, cost, noise)


def start_moment(p: LqrProblem) -> np.ndarray:
    """Z_0 = E[z_0 z_0^T], (n+1, n+1), z = [x; 1]: [[Sigma0 + mu mu^T, mu], [mu^T, 1]]."""
    mu = p.x0_mean
    Z0 = np.empty((p.n + 1, p.n + 1))
    Z0[:-1, :-1] = p.Sigma0 + np.outer(mu, mu)
    Z0[:-1, -1] = Z0[-1, :-1] = mu
    Z0[-1, -1] = 1.0
    return Z0


def state_moments(p: LqrProblem, theta: np.ndarray, horizon: int) -> np.ndarray:
    """Z (H, n+1, n+1): Z[t] = E[z_t z_t^T], z_t = [x_t; 1], t < H (forward recursion)."""
    cl = _closed_loop(p, theta)
    Z = np.empty((horizon, p.n + 1, p.n + 1))
    Z[0] = start_moment(p)
    for t in range(horizon - 1):
        Z[t + 1] = cl.F @ Z[t] @ cl.F.T + cl.noise
    return Z


def _backward(p: LqrProblem, cl: _ClosedLoop, gamma: float, horizon: int):
    P = np.zeros((horizon + 1, p.n + 1, p.n + 1))
    q = np.zeros(horizon + 1)
    const = float(np.sum(np.diag(p.R) * cl.sigma2))  # tr(R D)
    for t in range(horizon - 1, -1, -1):
        P[t] = cl.cost + gamma * (cl.F.T @ P[t + 1] @ cl.F)
        P[t] = 0.5 * (P[t] + P[t].T)  # symmetric in exact arithmetic; keep it so
        q[t] = const + gamma * (np.sum(P[t + 1] * cl.noise) + q[t + 1])
    return P, q


def value_matrices(
    p: LqrProblem, theta: np.ndarray, gamma: float, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cost-to-go of the policy: P (H+1, n+1, n+1) and q (H+1,), with
    E[sum_{k=t}^{H-1} gamma^(k-t) c_k | x_t = x] = z^T P[t] z + q[t], z = [x; 1];
    P[H] = 0, q[H] = 0 (backward recursion of the module docstring)."""
    return _backward(p, _closed_loop(p, theta), gamma, horizon)


def objective(p: LqrProblem, theta: np.ndarray, gamma: float, horizon: int) -> float:
    """J(theta) = E[sum_{t<H} gamma^t r_t] = -(tr(P_0 Z_0) + q_0), in reward units."""
    P, q = value_matrices(p, theta, gamma, horizon)
    return -float(np.sum(P[0] * start_moment(p)) + q[0])


def _assemble(p: LqrProblem, dG: np.ndarray, dlog_std: np.ndarray) -> np.ndarray:
    """Flat gradient in theta's layout from d/dG (m, n+1) and d/d log sigma (m,)."""
    return np.concatenate([dG[:, :-1].ravel(), dG[:, -1], dlog_std])


def gradient(p: LqrProblem, theta: np.ndarray, gamma: float, horizon: int) -> np.ndarray:
    """grad_theta J, shape (m n + 2 m,) in theta's layout [dK (m, n) row-major, db (m),
    d log sigma (m)]: the policy-gradient-theorem form of the module docstring,
    d(-J)/dG = 2 sum_t gamma^t (R G + gamma Bbar^T P_{t+1} F) Z_t and
    d(-J)/d log sigma = 2 sigma^2 * sum_t gamma^t diag(R + gamma B^T P_{t+1}[:n, :n] B)."""
    cl = _closed_loop(p, theta)
    n = p.n
    P, _ = _backward(p, cl, gamma, horizon)
    Z = state_moments(p, theta, horizon)
    dG = np.zeros_like(cl.G)
    dM = np.zeros(p.m)
    RG = p.R @ cl.G
    for t in range(horizon):
        w = gamma**t
        dG += w * ((RG + gamma * (cl.Bbar.T @ P[t + 1] @ cl.F)) @ Z[t])
        dM += w * (np.diag(p.R) + gamma * np.einsum("ik,kl,li->i", p.B.T, P[t + 1][:n, :n], p.B))
    return -_assemble(p, 2.0 * dG, 2.0 * cl.sigma2 * dM)


def _check_stable(cl: _ClosedLoop, n: int, gamma: float) -> None:
    if not gamma < 1.0:
        raise InvalidSpecError(f"the infinite-horizon value needs gamma < 1, got {gamma!r}")
    rho = float(np.max(np.abs(np.linalg.eigvals(cl.F[:n, :n]))))
    if np.sqrt(gamma) * rho >= 1.0:
        raise InvalidSpecError(
            f"the infinite-horizon value diverges: sqrt(gamma) * rho(A + B K) = "
            f"{np.sqrt(gamma) * rho:.6g} >= 1"
        )


def _infinite(p: LqrProblem, theta: np.ndarray, gamma: float):
    cl = _closed_loop(p, theta)
    _check_stable(cl, p.n, gamma)
    root = np.sqrt(gamma)
    P = solve_discrete_lyapunov(root * cl.F.T, cl.cost)  # P = cost + gamma F^T P F
    P = 0.5 * (P + P.T)
    const = float(np.sum(np.diag(p.R) * cl.sigma2))
    q = (const + gamma * np.sum(P * cl.noise)) / (1.0 - gamma)
    return cl, P, q


def infinite_horizon_objective(p: LqrProblem, theta: np.ndarray, gamma: float) -> float:
    """J_inf(theta) = E[sum_{t>=0} gamma^t r_t] = -(tr(P Z_0) + q), P the solution of the
    discrete Lyapunov equation P = Qbar + G^T R G + gamma F^T P F and
    q = (tr(R D) + gamma tr(P[:n, :n] (B D B^T + W))) / (1 - gamma).

    Raises InvalidSpecError for gamma = 1 or where the value diverges
    (sqrt(gamma) rho(A + B K) >= 1)."""
    _, P, q = _infinite(p, theta, gamma)
    return -float(np.sum(P * start_moment(p)) + q)


def infinite_horizon_gradient(p: LqrProblem, theta: np.ndarray, gamma: float) -> np.ndarray:
    """grad_theta J_inf, (m n + 2 m,) in theta's layout: Fazel et al. (2018) Lemma 1,
    d(-J)/dG = 2 (R G + gamma Bbar^T P F) S with S = sum_t gamma^t Z_t the solution of
    S = Z_0 + gamma N / (1 - gamma) + gamma F S F^T, and
    d(-J)/d log sigma = 2 sigma^2 diag(R + gamma B^T P[:n, :n] B) / (1 - gamma).
    Errors as :func:`infinite_horizon_objective`."""
    cl, P, _ = _infinite(p, theta, gamma)
    n = p.n
    S = solve_discrete_lyapunov(
        np.sqrt(gamma) * cl.F, start_moment(p) + gamma * cl.noise / (1 - gamma)
    )
    dG = 2.0 * (p.R @ cl.G + gamma * (cl.Bbar.T @ P @ cl.F)) @ S
    M = p.R + gamma * (p.B.T @ P[:n, :n] @ p.B)
    return -_assemble(p, dG, 2.0 * cl.sigma2 * np.diag(M) / (1.0 - gamma))
