"""Batched action distributions (:class:`pgbench.policies.base.Distributions`).

``policy.distributions(theta, obs)`` evaluates the policy on N observations
at once (one forward pass, kept for the backward ones) and returns one of:

* :class:`Categorical` for the softmax policies, built from a *logit model*
  (tabular, linear, or an MLP in :mod:`pgbench.kernels.nets`) that maps
  theta to logits z (N, A) and back: ``vjp(G) = sum_n G[n] . dz_n/dtheta`` and
  ``jvp(v) = (dz_n/dtheta) v``;
* :class:`Gaussian` for the Gaussian policy: K components, mean mu(s) from a
  linear map or MLP, log-std state-independent (K parameters at the end of
  theta) or a second linear head (:mod:`pgbench.kernels.gaussian_nets`).

Gradients are of the objective
``sum_n w_logp[n] log pi(a_n|s_n) + w_ent sum_n H(pi(.|s_n)) + w_kl sum_n KL(old_n || pi_n)``
(PPO's clipped surrogate, entropy bonus and KL penalty in one backward pass;
Schulman et al. 2017, eqs. 7-9). Fisher-vector products are exact:
``F v = (1/N) sum_n J_n^T M_n J_n v`` with J_n the Jacobian of the
distribution's parameters and M_n their Fisher (softmax in its logits:
``diag(p) - p p^T``; Gaussian in (mu, log sigma): ``diag(1/sigma^2, 2)``), by
one forward-mode and one backward pass (Schulman et al. 2015, TRPO, app. C;
Martens 2010 for the Gauss-Newton form). ``scores(actions)`` gives the (N, P)
per-row grad log pi and ``sample(u)`` draws actions by inverse CDF from
uniforms in [0, 1), the rule of the lane cores.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from pgbench.kernels import gaussian_nets, nets
from pgbench.kernels.fused_updates import GAUSSIAN, SOFTMAX
from pgbench.kernels.gaussian_nets import GAUSS_ENTROPY_CONST, LOG_2PI
from pgbench.kernels.mathcore import ACTIVATIONS

_EMPTY_Q = np.empty((0, 1))


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


def _sizes(D: int, hidden: tuple[int, ...], K: int) -> np.ndarray:
    return np.array([D, *hidden, K], dtype=np.int64)


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

    def sample(self, u: np.ndarray) -> np.ndarray:
        """(N,) int64 actions by inverse CDF from uniforms u (N,) in [0, 1): the lane
        cores' rule (:func:`pgbench.kernels.draws.categorical`) on ``probs``."""
        return nets.categorical_sample(self.probs, _as_f64(u, self.n, "u"))

    def grad(self, actions, w_logp, w_ent: float = 0.0, old=None, w_kl: float = 0.0):
        """(P,) gradient of the weighted objective (module docstring) w.r.t. theta."""
        a = _as_actions(actions, self.n)
        w = _as_f64(w_logp, self.n, "w_logp")
        q = old.probs if (old is not None and w_kl != 0.0) else _EMPTY_Q
        return self.model.grad(self, a, w, float(w_ent), q, float(w_kl))

    def scores(self, actions: np.ndarray) -> np.ndarray:
        """(N, P) rows grad_theta log pi(a_n | s_n)."""
        return self.model.scores(self, _as_actions(actions, self.n))

    def fvp(self, v: np.ndarray) -> np.ndarray:
        """(P,) F v with F the mean Fisher of these N distributions."""
        v = np.ascontiguousarray(v, dtype=np.float64)
        return self.model.fvp(self, v)

    def head_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(probs (N, A), an empty (0, 0) array): what the fused updates
        (:mod:`pgbench.kernels.fused_updates`) read of old distributions."""
        return self.probs, np.empty((0, 0))


def _exp(x: np.ndarray) -> np.ndarray:
    """exp of a (1, K) shared log-std by math.exp (as the scalar code always did), of an
    (N, K) per-state one by numpy."""
    if x.shape[0] == 1:
        return np.array([[math.exp(v) for v in x[0]]])
    return np.exp(x)


def _sum_k(x: np.ndarray) -> np.ndarray:
    """(N,) sum over the K components of (N, K) x (the one column itself for K = 1)."""
    return x[:, 0].copy() if x.shape[1] == 1 else x.sum(axis=1)


class Gaussian:
    """N diagonal Gaussians N(mu_n, diag(sigma_n^2)) over K components.

    Actions are (N,) floats for K = 1, (N, K) for K > 1; entropies and KLs are summed
    over the components.

    Attributes:
        n: N.  k: K.  state_dependent: the log-std is a function of the state.
        mu: (N,) means for K = 1, else (N, K).
        log_std: log sigma: a float (K = 1, state-independent), (K,) (state-independent),
            or (N,) / (N, K) (state-dependent, K = 1 / K > 1).  std: exp(log_std).
    """

    def __init__(self, model, theta, mu: np.ndarray, ls: np.ndarray, cache, state_dependent=False):
        self.model = model
        self.theta = theta
        self.cache = cache
        self.state_dependent = bool(state_dependent)
        self._mu = mu  # (N, K)
        self._ls = ls  # (1, K) shared or (N, K) per state
        self.n, self.k = (int(x) for x in mu.shape)
        self._scalar = self.k == 1 and not self.state_dependent  # the scalar formulas apply

    @property
    def mu(self) -> np.ndarray:
        return self._mu[:, 0].copy() if self.k == 1 else self._mu

    @property
    def log_std(self):
        if self.state_dependent:
            return self._ls[:, 0].copy() if self.k == 1 else self._ls
        return float(self._ls[0, 0]) if self.k == 1 else self._ls[0].copy()

    @property
    def std(self):
        ls = self.log_std
        return math.exp(ls) if isinstance(ls, float) else np.exp(ls)

    def _actions(self, actions, what: str = "actions") -> np.ndarray:
        """(N, K) contiguous float64 from (N,) (K = 1) or (N, K) actions."""
        a = np.ascontiguousarray(actions, dtype=np.float64)
        want = (self.n,) if self.k == 1 else (self.n, self.k)
        if a.shape != want:
            raise ValueError(f"{what} must have shape {want}, got {a.shape}")
        return a.reshape(self.n, self.k)

    def log_prob(self, actions: np.ndarray) -> np.ndarray:
        """(N,) sum_k log N(a_nk; mu_nk, sigma_nk^2), each
        -(a - mu)^2 / (2 sigma^2) - log sigma - log(2 pi)/2."""
        if self._scalar:
            ls = float(self._ls[0, 0])
            z = (_as_f64(actions, self.n, "actions") - self._mu[:, 0]) * math.exp(-ls)
            return -0.5 * z * z - ls - 0.5 * LOG_2PI
        z = (self._actions(actions) - self._mu) * _exp(-self._ls)
        return _sum_k(-0.5 * z * z - self._ls - 0.5 * LOG_2PI)

    def entropy(self) -> np.ndarray:
        """(N,) sum_k (1 + log 2 pi)/2 + log sigma_k."""
        if self._scalar:
            return np.full(self.n, GAUSS_ENTROPY_CONST + float(self._ls[0, 0]))
        return _sum_k(np.broadcast_to(GAUSS_ENTROPY_CONST + self._ls, (self.n, self.k)))

    def kl(self, other: Gaussian) -> np.ndarray:
        """(N,) sum_k KL(N(mu, s^2) || N(mu', s'^2)), each
        log(s'/s) + (s^2 + (mu - mu')^2)/(2 s'^2) - 1/2."""
        d = self._mu - other._mu
        if self._scalar and other._scalar:
            ls, other_ls, d = float(self._ls[0, 0]), float(other._ls[0, 0]), d[:, 0]
            ratio = math.exp(2.0 * (ls - other_ls))
            return other_ls - ls + 0.5 * (ratio + d * d * math.exp(-2.0 * other_ls)) - 0.5
        ratio = _exp(2.0 * (self._ls - other._ls))
        per = other._ls - self._ls + 0.5 * (ratio + d * d * _exp(-2.0 * other._ls)) - 0.5
        return _sum_k(per)

    def mode(self) -> np.ndarray:
        """The mean actions: (N,) for K = 1, (N, K)."""
        return self.mu.copy()

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Actions mu + sigma Phi^-1(min(max(u, 2^-53), 1 - 2^-53)) from uniforms u in
        [0, 1) of the actions' shape; for K = 1 exactly the lane cores' draw from the same
        u and observation (:func:`pgbench.kernels.gaussian_nets.gaussian_sample`)."""
        a = self.model.sample(self, self._actions(u, "u"))
        return a[:, 0].copy() if self.k == 1 else a

    def grad(self, actions, w_logp, w_ent: float = 0.0, old=None, w_kl: float = 0.0):
        """(P,) gradient of the weighted objective (module docstring) w.r.t. theta."""
        a = self._actions(actions)
        w = _as_f64(w_logp, self.n, "w_logp")
        if old is not None and w_kl != 0.0:
            mu_old, ls_old = old._mu, old._ls
        else:
            mu_old, ls_old, w_kl = np.empty((0, self.k)), np.empty((0, self.k)), 0.0
        return self.model.grad(self, a, w, float(w_ent), mu_old, ls_old, float(w_kl))

    def scores(self, actions: np.ndarray) -> np.ndarray:
        """(N, P) rows grad_theta log pi(a_n | s_n)."""
        return self.model.scores(self, self._actions(actions))

    def fvp(self, v: np.ndarray) -> np.ndarray:
        """(P,) F v with F the mean Fisher of these N distributions."""
        v = np.ascontiguousarray(v, dtype=np.float64)
        return self.model.fvp(self, v)

    def head_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(means (N, K), log-stds (1, K) or (N, K)): what the fused updates
        (:mod:`pgbench.kernels.fused_updates`) read of old distributions."""
        return self._mu, self._ls


# --------------------------------------------------------------------------- logit models


class FusedNet(NamedTuple):
    """A policy network as the fused updates take it: head code (``SOFTMAX`` or
    ``GAUSSIAN`` of :mod:`pgbench.kernels.fused_updates`), ``sizes`` (int64 [D, ..., K]),
    activation code, state-dependent log-std. Models without one (tabular, linear
    logits) train on the per-minibatch reference path."""

    head: int
    sizes: np.ndarray
    act: int
    state_dep: bool


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

    def scores(self, dist, a):
        rows = np.zeros((dist.n, self.S, self.A))
        rows[np.arange(dist.n), dist.cache] = nets.softmax_scores_logits(dist.probs, a)
        return rows.reshape(dist.n, -1)

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

    def scores(self, dist, a):
        G = nets.softmax_scores_logits(dist.probs, a)
        return (G[:, :, None] * dist.cache[:, None, :]).reshape(dist.n, -1)

    def fvp(self, dist, v):
        dz = dist.cache @ v.reshape(self.A, self.D + 1).T
        u = nets.softmax_fisher(dist.probs, dz, 1.0 / dist.n)
        return (u.T @ dist.cache).reshape(-1)


class MlpLogits:
    """z = MLP (layout of :mod:`pgbench.policies.mlp`), in :mod:`pgbench.kernels.nets`."""

    def __init__(self, D: int, hidden: tuple[int, ...], A: int, activation: str = "tanh"):
        self.D, self.A = D, A
        self.sizes = _sizes(D, hidden, A)
        self.act = ACTIVATIONS[activation]
        self.fused_net = FusedNet(SOFTMAX, self.sizes, self.act, False)

    def __call__(self, theta: np.ndarray, obs: np.ndarray) -> Categorical:
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        X = np.ascontiguousarray(obs, dtype=np.float64)
        logp, p, ent, acts = nets.mlp_softmax_forward(theta, X, self.sizes, self.act)
        return Categorical(self, theta, logp, p, ent, (X, acts))

    def grad(self, dist, a, w, w_ent, q, w_kl):
        X, acts = dist.cache
        return nets.mlp_softmax_grad(
            dist.theta, X, acts, self.sizes, self.act, dist.logp, dist.probs, dist.ent,
            a, w, w_ent, q, w_kl,
        )  # fmt: skip

    def scores(self, dist, a):
        X, acts = dist.cache
        return nets.mlp_softmax_scores(dist.theta, X, acts, self.sizes, self.act, dist.probs, a)

    def fvp(self, dist, v):
        X, acts = dist.cache
        return nets.mlp_softmax_fvp(dist.theta, v, X, acts, self.sizes, self.act, dist.probs)


class MlpGaussian:
    """mu = linear map or MLP of the observation (K outputs); log sigma the K entries
    after the network, or with ``state_dependent_std`` a second linear head on the last
    hidden layer (layout of :mod:`pgbench.policies.gaussian`)."""

    def __init__(
        self,
        D: int,
        hidden: tuple[int, ...],
        K: int = 1,
        activation: str = "tanh",
        state_dependent_std: bool = False,
    ):
        self.D, self.K = D, K
        self.sizes = _sizes(D, hidden, K)
        self.act = ACTIVATIONS[activation]
        self.state_dep = bool(state_dependent_std)
        self.fused_net = FusedNet(GAUSSIAN, self.sizes, self.act, self.state_dep)

    def __call__(self, theta: np.ndarray, obs: np.ndarray) -> Gaussian:
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        X = np.ascontiguousarray(obs, dtype=np.float64)
        fwd = gaussian_nets.gaussian_forward
        mu, ls, acts = fwd(theta, X, self.sizes, self.act, self.state_dep)
        return Gaussian(self, theta, mu, ls, (X, acts), self.state_dep)

    def grad(self, dist, a, w, w_ent, mu_old, ls_old, w_kl):
        X, acts = dist.cache
        return gaussian_nets.gaussian_grad(
            dist.theta, X, acts, self.sizes, self.act, self.state_dep, dist._mu, dist._ls,
            a, w, w_ent, mu_old, ls_old, w_kl,
        )  # fmt: skip

    def scores(self, dist, a):
        X, acts = dist.cache
        return gaussian_nets.gaussian_scores(
            dist.theta, X, acts, self.sizes, self.act, self.state_dep, dist._mu, dist._ls, a
        )

    def sample(self, dist, U):
        X, _ = dist.cache
        return gaussian_nets.gaussian_sample(dist.theta, X, self.sizes, self.act, self.state_dep, U)

    def fvp(self, dist, v):
        X, acts = dist.cache
        return gaussian_nets.gaussian_fvp(
            dist.theta, v, X, acts, self.sizes, self.act, self.state_dep, dist._ls
        )
