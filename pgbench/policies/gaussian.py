"""Diagonal Gaussian policy for a continuous action of K components: a ~ N(mu(x), diag(sigma^2)).

The mean mu (K outputs) is a linear map of the observation (``hidden=[]``, the
default) or an MLP (e.g. ``hidden=[64, 64]``, activation tanh or ReLU); the
log standard deviation is a state-independent (K,) vector at the END of theta
(as Stable-Baselines3's ``DiagGaussianDistribution`` and CleanRL), or with
``state_dependent_std`` a second linear head on the last hidden layer (on the
observation for ``hidden=[]``). **Layout** (mean network in the layout of
:mod:`pgbench.policies.mlp`, h_L the last hidden size, d for ``hidden=[]``):

* state-independent: ``[mean network, log_std (K)]``, P = n_net + K; for
  ``hidden=[]``: ``[W (K, d) row-major, b (K), log_std (K)]``;
* state-dependent: ``[mean network, W_std (K, h_L) row-major, b_std (K)]``,
  P = n_net + K h_L + K; log sigma(x) = W_std h_L(x) + b_std.

The action is unbounded; the environment clips it. Initialization: the mean
network as ``mlp`` does (``init``: orthogonal with output gain 0.01, or normal
with ``init_scale``), log_std = ``log_std_init`` (state-dependent: W_std as the
mean's output layer, b_std = ``log_std_init``).

Sampling is by inversion, a = mu + sigma Phi^-1(u), with Wichura's
Algorithm AS 241 (:func:`pgbench.kernels.mathcore.ppnd16`) on u nudged into (0, 1)
(``u`` in [0, 1) becomes ``min(max(u, 2^-53), 1 - 2^-53)``, so u = 1/2 still gives
the mean exactly).

Score (Williams 1992): with z = (a - mu) / sigma per component,
d log pi / d mu = z / sigma (backpropagated through the mean network) and
d log pi / d log sigma = z^2 - 1 (backpropagated through the log-std head when
state-dependent). Lane cores (native kernels) take K = 1 only.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

import pgbench.policies.mlp as mlp
from pgbench.errors import InvalidSpecError
from pgbench.kernels.gaussian_nets import LOG_2PI
from pgbench.kernels.mathcore import U_MAX, U_MIN, ppnd16
from pgbench.params import HyperParams
from pgbench.policies.base import Policy, PolicyCores
from pgbench.policies.distributions import MlpGaussian
from pgbench.registry import POLICIES, Component
from pgbench.seeding import POLICY_INIT, derive_seed, keyed_rng

HALF_LOG_2PI = 0.5 * LOG_2PI


def _make_cores_factory(d, hidden, K, P, activation, state_dep):
    LS = P - 1  # index of log sigma (state-independent)

    def make_cores(lib) -> PolicyCores:
        if K != 1:
            raise InvalidSpecError(
                f"native kernels take a scalar action; this gaussian has K = {K} components "
                "(sample from policy.distributions on an environment stepped from Python)"
            )
        exp = lib.exp
        ndtri = lib.jit(ppnd16)
        forward, backward, R_G = mlp.make_trunk_cores(lib, d, hidden, 1, activation, state_dep)

        if state_dep:  # rows 0: mean, 1: log sigma

            def sample(theta, obs, j, u, probs):
                forward(theta, obs, j, probs)
                p = min(max(u, U_MIN), U_MAX)
                return probs[0, j] + exp(probs[1, j]) * ndtri(p)

            def log_prob(theta, obs, j, a, probs):
                forward(theta, obs, j, probs)
                ls = probs[1, j]
                z = (a - probs[0, j]) * exp(-ls)
                return -0.5 * z * z - ls - HALF_LOG_2PI

            def score(theta, obs, j, a, probs, g):
                inv_std = exp(-probs[1, j])
                z = (a - probs[0, j]) * inv_std
                probs[R_G, j] = z * inv_std
                probs[R_G + 1, j] = z * z - 1.0
                backward(theta, obs, j, probs, g)

            return PolicyCores(sample, log_prob, score)

        def sample(theta, obs, j, u, probs):
            """Mean into probs[0, j]; returns mu + sigma Phi^-1(u)."""
            forward(theta, obs, j, probs)
            p = min(max(u, U_MIN), U_MAX)
            return probs[0, j] + exp(theta[LS]) * ndtri(p)

        def log_prob(theta, obs, j, a, probs):
            forward(theta, obs, j, probs)
            ls = theta[LS]
            z = (a - probs[0, j]) * exp(-ls)
            return -0.5 * z * z - ls - HALF_LOG_2PI

        def score(theta, obs, j, a, probs, g):
            inv_std = exp(-theta[LS])
            z = (a - probs[0, j]) * inv_std
            probs[R_G, j] = z * inv_std
            backward(theta, obs, j, probs, g)
            g[LS, j] = z * z - 1.0

        return PolicyCores(sample, log_prob, score)

    return make_cores


# --------------------------------------------------------------------------- numpy references


def _heads_ref(theta, obs, d, hidden, k, activation, state_dep):
    """(mu (N, k), log sigma (N, k) or (1, k), last hidden activations (N, h_L))."""
    n_net = mlp.n_params(d, hidden, k)
    acts, mu = mlp.activations_ref(theta[:n_net], obs, d, hidden, k, activation)
    top = acts[-1]
    if state_dep:
        W = theta[n_net : n_net + k * top.shape[1]].reshape(k, -1)
        return mu, top @ W.T + theta[n_net + k * top.shape[1] :], top
    return mu, theta[n_net:][None, :], top


def mean_ref(theta, obs, d, hidden, k=1, activation="tanh") -> np.ndarray:
    """numpy reference: (N, d) observations -> (N, k) means (what ``sample`` writes to row 0)."""
    return mlp.forward_ref(theta[: mlp.n_params(d, hidden, k)], obs, d, hidden, k, activation)


def score_ref(theta, obs, actions, d, hidden, k=1, activation="tanh", state_dep=False):
    """numpy reference: (N, P) rows of grad log pi(a_n | x_n); actions (N,) or (N, k)."""
    mu, ls, top = _heads_ref(theta, obs, d, hidden, k, activation, state_dep)
    inv_std = np.exp(-ls)
    z = (np.asarray(actions, dtype=np.float64).reshape(len(mu), k) - mu) * inv_std
    n_net = mlp.n_params(d, hidden, k)
    if not state_dep:
        rows = mlp.vjp_rows_ref(theta[:n_net], obs, z * inv_std, d, hidden, k, activation)
        return np.concatenate([rows, z * z - 1.0], axis=1)
    # both heads as one output layer of 2k rows [W_o; W_std], [b_o; b_std]
    layers = mlp.unpack(theta[:n_net], d, hidden, k)
    W_s = theta[n_net : n_net + k * top.shape[1]]
    both = [x.reshape(-1) for W, b in layers[:-1] for x in (W, b)]
    both += [layers[-1][0].reshape(-1), W_s, layers[-1][1], theta[n_net + W_s.size :]]
    dy = np.concatenate([z * inv_std, z * z - 1.0], axis=1)
    rows = mlp.vjp_rows_ref(np.concatenate(both), obs, dy, d, hidden, 2 * k, activation)
    n_hid = n_net - (k * top.shape[1] + k)
    w_o, w_s, b_o, b_s = np.split(rows[:, n_hid:], np.cumsum([W_s.size, W_s.size, k]), axis=1)
    return np.concatenate([rows[:, :n_hid], w_o, b_o, w_s, b_s], axis=1)


def log_prob_ref(theta, obs, actions, d, hidden, k=1, activation="tanh", state_dep=False):
    """numpy reference: (N,) sum_k log N(a_nk; mu_k(x_n), sigma_k^2)."""
    mu, ls, _ = _heads_ref(theta, obs, d, hidden, k, activation, state_dep)
    z = (np.asarray(actions, dtype=np.float64).reshape(len(mu), k) - mu) * np.exp(-ls)
    return (-0.5 * z * z - ls - HALF_LOG_2PI).sum(axis=1)


# --------------------------------------------------------------------------- the policy

MeanHidden = mlp.hidden_sizes("gaussian", min_layers=0)


class GaussianParams(HyperParams):
    """Parameters of ``gaussian``."""

    hidden: MeanHidden = Field(
        (), description=f"mean network layer sizes: [] (linear mean) to {mlp.MAX_LAYERS} layers"
    )
    log_std_init: float = Field(0.0, description="initial log sigma (a finite number)")
    activation: mlp.Activation = Field("tanh", description="hidden-layer activation: tanh or relu")
    init: mlp.Init = Field(
        "orthogonal", description="mean network: orthogonal (SB3 gains) or normal (init_scale)"
    )
    init_scale: float = Field(
        0.1, ge=0.0, description="std of the initial weights and biases (init: normal)"
    )
    state_dependent_std: bool = Field(
        False, description="log sigma a linear head on the last hidden layer, not a vector"
    )


def make_gaussian(
    env,
    hidden=(),
    log_std_init: float = 0.0,
    activation: str = "tanh",
    init: str = "orthogonal",
    init_scale: float = 0.1,
    state_dependent_std: bool = False,
) -> Policy:
    """Diagonal Gaussian policy for ``env``'s continuous action of K = env.action_dim
    components (module docstring: layout, options).

    Args (validated by :class:`GaussianParams`):
        hidden: mean network hidden sizes: [] (linear mean, default) to 8 layers.
        log_std_init: initial log sigma of every component.
        activation, init, init_scale: as for ``mlp-softmax``.
        state_dependent_std: log sigma a linear head on the last hidden layer.
    """
    hidden = mlp.check_hidden("gaussian", hidden, min_layers=0)
    activation = mlp.check_activation("gaussian", activation)
    orth = mlp.check_init("gaussian", init) == "orthogonal"
    if not env.continuous:
        raise InvalidSpecError(
            f"gaussian needs a continuous action; {env.describe()} has {env.n_actions} discrete "
            "actions (use a softmax policy)"
        )
    if env.discrete_obs:
        raise InvalidSpecError(f"gaussian needs vector observations; {env.describe()} has states")
    log_std_init, state_dep = float(log_std_init), bool(state_dependent_std)
    D, K = env.obs_dim, int(env.action_dim)
    n_net = mlp.n_params(D, hidden, K)
    h_top = hidden[-1] if hidden else D
    P = n_net + (K * h_top + K if state_dep else K)

    def init_fn(seed: int) -> np.ndarray:
        if orth:
            net = mlp.orthogonal_init(seed, D, hidden, K, mlp.POLICY_OUT_GAIN)
            rng = np.random.default_rng(derive_seed(seed, "log-std head"))
            head = mlp.orthogonal(rng, K, h_top, mlp.POLICY_OUT_GAIN).reshape(-1)
        else:
            n_head = K * h_top if state_dep else 0
            draws = init_scale * keyed_rng(seed, POLICY_INIT).standard_normal(n_net + n_head)
            net, head = draws[:n_net], draws[n_net:]
        std = np.full(K, log_std_init)
        return np.concatenate([net, head, std] if state_dep else [net, std])

    return Policy(
        name="gaussian",
        n_actions=0,
        obs_dim=D,
        n_params=P,
        theta_shape=(P,),
        init_scale=0.0,
        make_cores=_make_cores_factory(D, hidden, K, P, activation, state_dep),
        probs_ref=lambda theta, obs: mean_ref(theta, obs, D, hidden, K, activation),
        score_ref=lambda theta, obs, actions: score_ref(
            theta, obs, actions, D, hidden, K, activation, state_dep
        ),
        action_dim=K,
        scratch_rows=mlp.scratch_rows(hidden, 2 * K if state_dep else K),
        distributions=MlpGaussian(D, hidden, K, activation, state_dep),
        init_fn=init_fn,
    )


POLICIES.add(Component(name="gaussian", fn=make_gaussian, params=GaussianParams))
