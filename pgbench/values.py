"""Value-function approximators for critics: V(s) and Q(s, .) on batches of observations.

``make_value(kind, env, action_value=False, hidden=(64, 64), activation="tanh",
init="orthogonal", init_scale=0.1)`` returns a :class:`ValueModel`; its parameters phi
are one flat float64 vector (Q,):

=======  ==================================  ============================================
kind     state value V(s), values (N,)       action values Q(s, .), values (N, A)
=======  ==================================  ============================================
tabular  phi (S,): V(s) = phi[s]             phi (S, A) row-major: Q(s, a) = phi[s, a]
linear   phi (d + 1,): V = phi . (x, 1)      phi (A, d + 1) row-major: Q = phi[a] . (x, 1)
mlp      MLP with 1 output                   MLP with A outputs
=======  ==================================  ============================================

``tabular`` needs a discrete-state env (``obs[n, 0]`` is the state index as a
float); ``linear`` and ``mlp`` read the observation vector x, or on a
discrete-state env its one-hot encoding (so ``linear`` is then tabular plus a
bias). The MLP (1 to 8 hidden layers, ``activation`` tanh or relu) uses the layout
of :mod:`pgbench.policies.mlp` (per layer W (out, in) row-major then b) and by
default Stable-Baselines3's critic initialization: orthogonal weights with gain
sqrt(2) on hidden layers and 1.0 on the output layer, zero biases (``init="normal"``:
every parameter N(0, init_scale^2) from ``numpy.random.default_rng(seed)``).
``tabular`` and ``linear`` start at zero.

``model.forward(phi, obs (N, obs_dim))`` returns a :class:`ValueBatch` with
``values`` ((N,), or (N, A) for action values) and ``grad(d)`` =
sum_n d_n . grad_phi values_n (d of the values' shape): one backward pass, so
a squared-error regression step is ``out.grad(2 (targets - out.values) / N)``
and a semi-gradient TD(0) step ``out.grad(delta / N)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pgbench.errors import InvalidSpecError
from pgbench.kernels import nets
from pgbench.kernels.mathcore import ACTIVATIONS
from pgbench.policies import mlp

KINDS = ("tabular", "linear", "mlp")
VALUE_OUT_GAIN = 1.0


class ValueBatch:
    """Values of one batch of observations, with the backward pass ready.

    Attributes:
        values: (N,) state values, or (N, A) action values.
    """

    def __init__(self, values: np.ndarray, vjp: Callable[[np.ndarray], np.ndarray]):
        self.values = values
        self._vjp = vjp

    def grad(self, d: np.ndarray) -> np.ndarray:
        """(Q,) sum_n d[n] . grad_phi values[n]; ``d`` has the shape of ``values``."""
        d = np.asarray(d, dtype=np.float64)
        if d.shape != self.values.shape:
            raise ValueError(f"d must have the values' shape {self.values.shape}, got {d.shape}")
        return self._vjp(d)


@dataclass(frozen=True, eq=False)
class ValueModel:
    """A value-function class for one environment.

    Attributes:
        kind: ``tabular`` | ``linear`` | ``mlp``.
        action_value: Q(s, .) (N, A) outputs instead of V(s) (N,).
        n_outputs: 1 or A.
        n_params: Q, the length of phi.
        hidden: hidden sizes (``mlp``), else ().
        activation: the hidden layers' activation (``mlp``: tanh or relu).
        fused_net: (sizes int64 [d, ..., K], activation code) of an ``mlp`` on the
            observation vector itself, for the fused updates
            (:mod:`pgbench.kernels.fused_updates`); None otherwise.
    """

    kind: str
    action_value: bool
    n_outputs: int
    n_params: int
    hidden: tuple[int, ...]
    _init: Callable[[int], np.ndarray]
    _forward: Callable[[np.ndarray, np.ndarray], ValueBatch]
    activation: str = "tanh"
    fused_net: tuple | None = None

    def init(self, seed: int) -> np.ndarray:
        """Initial phi (Q,) float64 from ``seed``."""
        return self._init(int(seed))

    def forward(self, phi: np.ndarray, obs: np.ndarray) -> ValueBatch:
        """Values at the rows of obs (N, obs_dim), with their backward pass."""
        phi = np.ascontiguousarray(phi, dtype=np.float64)
        if phi.shape != (self.n_params,):
            raise ValueError(f"phi must have shape ({self.n_params},), got {phi.shape}")
        return self._forward(phi, np.asarray(obs, dtype=np.float64))


def _states(obs: np.ndarray) -> np.ndarray:
    return obs.reshape(obs.shape[0], -1)[:, 0].astype(np.int64)


def _tabular(S: int, K: int, action_value: bool):
    def forward(phi, obs):
        s = _states(obs)
        table = phi.reshape(S, K)
        values = table[s] if action_value else table[s, 0]

        def vjp(d):
            out = np.zeros((S, K))
            np.add.at(out, s, d if action_value else d[:, None])
            return out.reshape(-1)

        return ValueBatch(values, vjp)

    return forward


def _features(env) -> Callable[[np.ndarray], np.ndarray]:
    """obs (N, obs_dim) -> x (N, d) contiguous: the observation, or one-hot states."""
    if env.discrete_obs:
        S = env.n_states

        def one_hot(obs):
            x = np.zeros((obs.shape[0], S))
            x[np.arange(obs.shape[0]), _states(obs)] = 1.0
            return x

        return one_hot
    return lambda obs: np.ascontiguousarray(obs)


def _linear(features, d: int, K: int, action_value: bool):
    def forward(phi, obs):
        x = features(obs)
        feats = np.empty((x.shape[0], d + 1))
        feats[:, :d] = x
        feats[:, d] = 1.0
        out = feats @ phi.reshape(K, d + 1).T  # (N, K)
        values = out if action_value else out[:, 0]

        def vjp(g):
            G = g if action_value else g[:, None]
            return (G.T @ feats).reshape(-1)

        return ValueBatch(values, vjp)

    return forward


def _mlp(features, d: int, hidden: tuple[int, ...], K: int, action_value: bool, activation: str):
    sizes = np.array([d, *hidden, K], dtype=np.int64)
    act = ACTIVATIONS[activation]

    def forward(phi, obs):
        X = features(obs)
        Y, acts = nets.mlp_forward(phi, X, sizes, act)
        values = Y if action_value else Y[:, 0]

        def vjp(g):
            G = g if action_value else g.reshape(-1, 1)
            return nets.mlp_backward(phi, X, acts, sizes, act, np.ascontiguousarray(G))

        return ValueBatch(values, vjp)

    return forward


def _mlp_init(d, hidden, K, init: str, init_scale: float) -> Callable[[int], np.ndarray]:
    if init == "orthogonal":
        return lambda seed: mlp.orthogonal_init(seed, d, hidden, K, VALUE_OUT_GAIN)
    Q = mlp.n_params(d, hidden, K)
    return lambda seed: init_scale * np.random.default_rng(seed).standard_normal(Q)


def make_value(
    kind: str,
    env,
    action_value: bool = False,
    hidden=(64, 64),
    activation: str = "tanh",
    init: str = "orthogonal",
    init_scale: float = 0.1,
) -> ValueModel:
    """A value model of class ``kind`` for ``env`` (``hidden``, ``activation``, ``init`` and
    ``init_scale`` are used by ``mlp`` only)."""
    if kind not in KINDS:
        raise InvalidSpecError(f"unknown value model {kind!r}; use one of {', '.join(KINDS)}")
    if action_value and env.continuous:
        raise InvalidSpecError(
            f"action-value models need discrete actions; {env.describe()} has a continuous action"
        )
    K = env.n_actions if action_value else 1
    if kind == "tabular":
        if not env.discrete_obs:
            raise InvalidSpecError(
                f"tabular value needs discrete states; {env.describe()} has vector observations "
                "(use linear or mlp)"
            )
        Q = env.n_states * K
        return ValueModel(
            kind,
            action_value,
            K,
            Q,
            (),
            lambda seed: np.zeros(Q),
            _tabular(env.n_states, K, action_value),
        )
    d = env.n_states if env.discrete_obs else env.obs_dim
    features = _features(env)
    if kind == "linear":
        Q = K * (d + 1)
        return ValueModel(
            kind,
            action_value,
            K,
            Q,
            (),
            lambda seed: np.zeros(Q),
            _linear(features, d, K, action_value),
        )
    hidden = mlp.check_hidden("mlp value", hidden)
    activation = mlp.check_activation("mlp value", activation)
    init = mlp.check_init("mlp value", init)
    return ValueModel(
        kind,
        action_value,
        K,
        mlp.n_params(d, hidden, K),
        hidden,
        _mlp_init(d, hidden, K, init, float(init_scale)),
        _mlp(features, d, hidden, K, action_value, activation),
        activation,
        None
        if env.discrete_obs
        else (np.array([d, *hidden, K], np.int64), ACTIVATIONS[activation]),
    )
