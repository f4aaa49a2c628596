"""Batched action distributions (:class:`pgbench.policies.base.Distributions`).

``policy.distributions(theta, obs)`` evaluates the policy on N observations
at once (one forward pass, kept for the backward ones) and returns one of:

* :class:`Categorical` for the softmax policies, built from a *logit model*
  (tabular, linear, or a tanh MLP in :mod:`pgbench.kernels.nets`) that maps
  theta to logits z (N, A) and back: ``vjp(G) = sum_n G[n] . dz_n/dtheta`` and
  ``jvp(v) = (dz_n/dtheta) v``;
* :class:`Gaussian` for the Gaussian policy: mean mu(s) from a linear map or
  MLP, state-independent log-std ``theta[-1]``.

Gradients are of the objective
``sum_n w_logp[n] log pi(a_n|s_n) + w_ent sum_n H(pi(.|s_n)) + w_kl sum_n KL(old_n || pi_n)``
(PPO's clipped surrogate, entropy bonus and KL penalty in one backward pass;
Schulman et al. 2017, eqs. 7-9). Fisher-vector products are exact:
``F v = (1/N) sum_n J_n^T M_n J_n v`` with J_n the Jacobian of the
distribution's parameters and M_n their Fisher (softmax in its logits:
``diag(p) - p p^T``; Gaussian in (mu, log sigma): ``diag(1/sigma^2, 2)``), by
one forward-mode and one backward pass (Schulman et al. 2015, TRPO, app. C;
Martens 2010 for the Gauss-Newton form).
"""

from __future__ import annotations

import math

import numpy as np

from pgbench.kernels import nets

_EMPTY_Q = np.empty((0, 1))
_EMPTY_MU = np.empty(0)


def _as_f64(x, n: int, what: str) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), got {a.shape}")
    return a


def _as_actions(actions, n: int) -> np.ndarray:
    a = np.ascontiguousarray(actions, dtype=np.int64)
    if a.shape != (n,):
        raise ValueError(f"actions must have shape ({n},), got {a.shape}")
    return a


class Categorical:
    """N categorical distributions ``softmax(z_n)``, z from a logit model.

    Attributes:
        n: N.
        logp: (N, A) log-probabilities (nats).  probs: (N, A).
        ent: (N,) entropies (nats).
    """

    def __init__(self, model, theta: np.ndarray, logp, probs, ent, cache=None):
        self.model = model
        self.theta = theta
        self.cache = cache  # what the model's backward passes need (activations, features)
        self.logp = logp
        self.probs = probs
        self.ent = ent
        self.n = int(probs.shape[0])

    def log_prob(self, actions: np.ndarray) -> np.ndarray:
        """(N,) log pi(a_n | s_n) for int actions (N,)."""
        a = _as_actions(actions, self.n)
        return self.logp[np.arange(self.n), a]

    def entropy(self) -> np.ndarray:
        """(N,) -sum_a p log p."""
        return self.ent.copy()

    def kl(self, other: Categorical) -> np.ndarray:
        """(N,) KL(self_n || other_n) = sum_a p_a (log p_a - log q_a)."""
        return np.einsum("na,na->n", self.probs, self.logp - other.logp)

    def mode(self) -> np.ndarray:
        """(N,) int64 most probable action (the first of ties)."""
        return np.argmax(self.probs, axis=1).astype(np.int64)

    def grad(self, actions, w_logp, w_ent: float = 0.0, old=None, w_kl: float = 0.0):
        """(P,) gradient of the weighted objective (module docstring) w.r.t. theta."""
        a = _as_actions(actions, self.n)
        w = _as_f64(w_logp, self.n, "w_logp")
        q = old.probs if (old is not None and w_kl != 0.0) else _EMPTY_Q
        return self.model.grad(self, a, w, float(w_ent), q, float(w_kl))

    def fvp(self, v: np.ndarray) -> np.ndarray:
        """(P,) F v with F the mean Fisher of these N distributions."""
        v = np.ascontiguousarray(v, dtype=np.float64)
        return self.model.fvp(self, v)


class Gaussian:
    """N scalar Gaussians N(mu_n, sigma^2), sigma = exp(log_std) shared by all n.

    Attributes:
        n: N.  mu: (N,) means.  log_std: float, log sigma.
    """

    def __init__(self, model, theta: np.ndarray, mu: np.ndarray, log_std: float, cache):
        self.model = model
        self.theta = theta
        self.mu = mu
        self.log_std = float(log_std)
        self.cache = cache
        self.n = int(mu.shape[0])

    @property
    def std(self) -> float:
        return math.exp(self.log_std)

    def log_prob(self, actions: np.ndarray) -> np.ndarray:
        """(N,) log N(a_n; mu_n, sigma^2) = -(a - mu)^2 / (2 sigma^2) - log sigma - log(2 pi)/2."""
        a = _as_f64(actions, self.n, "actions")
        z = (a - self.mu) * math.exp(-self.log_std)
        return -0.5 * z * z - self.log_std - 0.5 * nets.LOG_2PI

    def entropy(self) -> np.ndarray:
        """(N,) (1 + log 2 pi)/2 + log sigma."""
        return np.full(self.n, nets.GAUSS_ENTROPY_CONST + self.log_std)

    def kl(self, other: Gaussian) -> np.ndarray:
        """(N,) KL(N(mu, s^2) || N(mu', s'^2)) = log(s'/s) + (s^2 + (mu - mu')^2)/(2 s'^2) - 1/2."""
        d = self.mu - other.mu
        ratio = math.exp(2.0 * (self.log_std - other.log_std))
        return (
            other.log_std
            - self.log_std
            + 0.5 * (ratio + d * d * math.exp(-2.0 * other.log_std))
            - 0.5
        )

    def mode(self) -> np.ndarray:
        """(N,) the mean action."""
        return self.mu.copy()

    def grad(self, actions, w_logp, w_ent: float = 0.0, old=None, w_kl: float = 0.0):
        """(P,) gradient of the weighted objective (module docstring) w.r.t. theta."""
        a = _as_f64(actions, self.n, "actions")
        w = _as_f64(w_logp, self.n, "w_logp")
        if old is not None and w_kl != 0.0:
            mu_old, ls_old = old.mu, old.log_std
        else:
            mu_old, ls_old, w_kl = _EMPTY_MU, 0.0, 0.0
        return self.model.grad(self, a, w, float(w_ent), mu_old, ls_old, float(w_kl))

    def fvp(self, v: np.ndarray) -> np.ndarray:
        """(P,) F v with F the mean Fisher of these N distributions."""
        v = np.ascontiguousarray(v, dtype=np.float64)
        return self.model.fvp(self, v)


# --------------------------------------------------------------------------- logit models


class TabularLogits:
    """z_n = theta.reshape(S, A)[s_n], s_n = int(obs[n, 0])."""

    def __init__(self, S: int, A: int):
        self.S, self.A = S, A

    def states(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)[:, 0].astype(np.int64)

    def __call__(self, theta: np.ndarray, obs: np.ndarray) -> Categorical:
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        s = self.states(obs)
        z = np.ascontiguousarray(theta.reshape(self.S, self.A)[s])
        logp, p, ent = nets.log_softmax(z)
        return Categorical(self, theta, logp, p, ent, s)

    def _vjp(self, s: np.ndarray, G: np.ndarray) -> np.ndarray:
        out = np.zeros((self.S, self.A))
        np.add.at(out, s, G)
        return out.reshape(-1)

    def grad(self, dist, a, w, w_ent, q, w_kl):
        G = nets.softmax_out_grad(dist.logp, dist.probs, dist.ent, a, w, w_ent, q, w_kl)
        return self._vjp(dist.cache, G)

    def fvp(self, dist, v):
        dz = np.ascontiguousarray(v.reshape(self.S, self.A)[dist.cache])
        return self._vjp(dist.cache, nets.softmax_fisher(dist.probs, dz, 1.0 / dist.n))


class LinearLogits:
    """z_n = W (x_n, 1), W = theta.reshape(A, d + 1) (linear-softmax's layout)."""

    def __init__(self, D: int, A: int):
        self.D, self.A = D, A

    def __call__(self, theta: np.ndarray, obs: np.ndarray) -> Categorical:
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        phi = np.empty((len(obs), self.D + 1))
        phi[:, : self.D] = obs
        phi[:, self.D] = 1.0
        z = phi @ theta.reshape(self.A, self.D + 1).T
        logp, p, ent = nets.log_softmax(z)
        return Categorical(self, theta, logp, p, ent, phi)

    def grad(self, dist, a, w, w_ent, q, w_kl):
        G = nets.softmax_out_grad(dist.logp, dist.probs, dist.ent, a, w, w_ent, q, w_kl)
        return (G.T @ dist.cache).reshape(-1)

    def fvp(self, dist, v):
        dz = dist.cache @ v.reshape(self.A, self.D + 1).T
        u = nets.softmax_fisher(dist.probs, dz, 1.0 / dist.n)
        return (u.T @ dist.cache).reshape(-1)


class MlpLogits:
    """z = tanh MLP (layout of :mod:`pgbench.policies.mlp`), in :mod:`pgbench.kernels.nets`."""

    def __init__(self, D: int, hidden: tuple[int, ...], A: int):
        self.D, self.A = D, A
        self.h1, self.h2 = (tuple(hidden) + (0, 0))[:2]

    def __call__(self, theta: np.ndarray, obs: np.ndarray) -> Categorical:
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        X = np.ascontiguousarray(obs, dtype=np.float64)
        logp, p, ent, H1, H2 = nets.mlp_softmax_forward(theta, X, self.h1, self.h2, self.A)
        return Categorical(self, theta, logp, p, ent, (X, H1, H2))

    def grad(self, dist, a, w, w_ent, q, w_kl):
        X, H1, H2 = dist.cache
        return nets.mlp_softmax_grad(
            dist.theta, X, H1, H2, dist.logp, dist.probs, dist.ent, a, w, w_ent, q, w_kl
        )

    def fvp(self, dist, v):
        X, H1, H2 = dist.cache
        return nets.mlp_softmax_fvp(dist.theta, v, X, H1, H2, dist.probs)


class MlpGaussian:
    """mu = linear map or tanh MLP of the observation, log sigma = theta[-1]."""

    def __init__(self, D: int, hidden: tuple[int, ...]):
        self.D = D
        self.h1, self.h2 = (tuple(hidden) + (0, 0))[:2]

    def __call__(self, theta: np.ndarray, obs: np.ndarray) -> Gaussian:
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        X = np.ascontiguousarray(obs, dtype=np.float64)
        mu, H1, H2 = nets.mlp_gaussian_forward(theta, X, self.h1, self.h2)
        return Gaussian(self, theta, mu, theta[-1], (X, H1, H2))

    def grad(self, dist, a, w, w_ent, mu_old, ls_old, w_kl):
        X, H1, H2 = dist.cache
        return nets.mlp_gaussian_grad(
            dist.theta, X, H1, H2, dist.mu, a, w, w_ent, mu_old, ls_old, w_kl
        )

    def fvp(self, dist, v):
        X, H1, H2 = dist.cache
        return nets.mlp_gaussian_fvp(dist.theta, v, X, H1, H2)
