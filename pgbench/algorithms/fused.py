"""The fused update path: a whole PPO update's epochs in one compiled call.

:func:`pgbench.algorithms.ppo.objective_gradient` and the loop around it are the
readable reference; :func:`fused_ppo_epochs` hands the same segment, row orders and
optimizer state to :func:`pgbench.kernels.fused_updates.ppo_epochs`, which runs every
minibatch without Python in between. It applies where the policy and the critic are
networks the kernels know (:func:`fused_nets`: an MLP softmax or Gaussian policy, an
MLP state-value critic on the observation vector); elsewhere, or with
``fused: false``, the algorithms take the reference path. The two agree to rounding
(tests/test_fused_updates.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pgbench.errors import InvalidSpecError
from pgbench.kernels import fused_f32, fused_updates

_EMPTY_INT = np.empty(0, np.int64)


class FusedNets(NamedTuple):
    """The policy's :class:`~pgbench.policies.distributions.FusedNet` and the critic's
    (sizes, activation code)."""

    head: int
    psizes: np.ndarray
    pact: int
    state_dep: bool
    csizes: np.ndarray
    cact: int


def fused_nets(policy, critic) -> FusedNets | None:
    """The networks of ``policy`` and the state-value ``critic`` as the fused kernels take
    them, or None where either is not one of theirs."""
    pol = getattr(policy.distributions, "fused_net", None)
    crit = getattr(critic, "fused_net", None)
    if pol is None or crit is None or critic.action_value:
        return None
    return FusedNets(pol.head, pol.sizes, pol.act, pol.state_dep, crit[0], crit[1])


def fused_ppo_epochs(
    nets: FusedNets,
    params: np.ndarray,
    P: int,
    opt,
    progress: float,
    tr,
    old_dist,
    perms: np.ndarray,
    hp,
    clip: float | None,
    beta: float,
) -> float:
    """Every epoch and minibatch of one PPO update on the transitions ``tr``
    (:class:`~pgbench.algorithms.segments.Transitions`), stepping ``params`` (P + Q,) =
    (theta, phi) and the optimizer ``opt`` in place; returns |d L / d theta| of the last
    minibatch. ``old_dist``: pi_old's distributions at ``tr.obs``; ``perms``
    (n_epochs, N): each epoch's row order; ``clip`` None: the KL penalty with ``beta``."""
    N = tr.n
    old_logp = np.ascontiguousarray(old_dist.log_prob(tr.actions))
    if nets.head == fused_updates.SOFTMAX:
        a_int = np.ascontiguousarray(tr.actions, np.int64)
        a_flt = np.empty((0, 1))
    else:
        a_int = _EMPTY_INT
        a_flt = np.ascontiguousarray(tr.actions, np.float64).reshape(N, -1)
    old_a, old_b = (np.ascontiguousarray(x) for x in old_dist.head_arrays())
    kind, lr, beta1, beta2, alpha, eps, max_norm = opt.constants(progress)
    t, grad_norm = fused_updates.ppo_epochs(
        params, P, opt.m, opt.v, opt.t, kind, lr, beta1, beta2, alpha, eps, max_norm,
        nets.head, nets.psizes, nets.pact, nets.state_dep, nets.csizes, nets.cact,
        np.ascontiguousarray(tr.obs), a_int, a_flt,
        np.ascontiguousarray(tr.advantages), np.ascontiguousarray(tr.returns), old_logp,
        old_a, old_b, perms, hp.batch_size, hp.normalize_advantage,
        clip is None, 0.0 if clip is None else float(clip), float(beta), hp.ent_coef, hp.vf_coef,
        np.ascontiguousarray(tr.values), _value_clip(hp),
    )  # fmt: skip
    opt.t = int(t)
    return float(grad_norm)


def _value_clip(hp) -> float:
    """The kernels' value clip: ``hp.value_clip_range``, or -1 for none."""
    return -1.0 if hp.value_clip_range is None else float(hp.value_clip_range)


class Float32Moments:
    """Adam's moments (P + Q,) in float32, kept between the updates of a float32 run."""

    def __init__(self, n: int):
        self.m = np.zeros(n, np.float32)
        self.v = np.zeros(n, np.float32)


def fused_ppo_epochs32(
    nets: FusedNets,
    params: np.ndarray,
    P: int,
    opt,
    moments: Float32Moments,
    progress: float,
    tr,
    perms: np.ndarray,
    hp,
    clip: float | None,
    beta: float,
) -> float:
    """:func:`fused_ppo_epochs` in float32 (:mod:`pgbench.kernels.fused_f32`): ``params``
    (float64) is cast down, stepped, and written back; Adam's step count stays in ``opt``
    and its moments in ``moments``."""
    _, lr, beta1, beta2, _, eps, max_norm = opt.constants(progress)
    p32 = params.astype(np.float32)
    N = tr.n
    if nets.head == fused_updates.SOFTMAX:
        a_int, a_flt = np.ascontiguousarray(tr.actions, np.int64), np.empty((0, 1), np.float32)
    else:
        a_int, a_flt = _EMPTY_INT, np.ascontiguousarray(tr.actions, np.float32).reshape(N, -1)
    t, grad_norm = fused_f32.ppo_epochs32(
        p32, P, moments.m, moments.v, opt.t, lr, beta1, beta2, eps, max_norm,
        nets.head, nets.psizes, nets.pact, nets.csizes, nets.cact,
        np.ascontiguousarray(tr.obs, np.float32), a_int, a_flt,
        np.ascontiguousarray(tr.advantages, np.float32),
        np.ascontiguousarray(tr.returns, np.float32), perms, hp.batch_size,
        hp.normalize_advantage, clip is None, 0.0 if clip is None else float(clip),
        float(beta), hp.ent_coef, hp.vf_coef, np.ascontiguousarray(tr.values, np.float32),
        _value_clip(hp),
    )  # fmt: skip
    params[:] = p32
    opt.t = int(t)
    return float(grad_norm)


def check_float32(name: str, nets: FusedNets | None, optimizer) -> None:
    """A one-line error where ``precision: float32`` cannot apply."""
    if nets is None or nets.state_dep:
        raise InvalidSpecError(
            f"{name}: precision float32 needs an MLP softmax or Gaussian (shared log-std) "
            "policy and an MLP critic on the observation vector, and fused: true"
        )
    if optimizer.kind != "adam":
        raise InvalidSpecError(
            f"{name}: precision float32 supports the adam optimizer, got {optimizer.kind}"
        )


def fused_a2c_step(nets: FusedNets, params, P: int, opt, progress: float, seg, gamma, hp):
    """One A2C update of segment ``seg`` (:class:`pgbench.kernels.Segment`) in one
    compiled call (:func:`pgbench.kernels.fused_updates.a2c_step`), stepping ``params``
    (P + Q,) and ``opt`` in place; returns d/dtheta (P,)."""
    L, T, D = seg.obs.shape
    N = L * T
    if nets.head == fused_updates.SOFTMAX:
        a_int, a_flt = np.ascontiguousarray(seg.actions.reshape(N), np.int64), np.empty((0, 1))
    else:
        a_int, a_flt = _EMPTY_INT, np.ascontiguousarray(seg.actions, np.float64).reshape(N, -1)
    kind, lr, beta1, beta2, alpha, eps, max_norm = opt.constants(progress)
    t, g_theta = fused_updates.a2c_step(
        params, P, opt.m, opt.v, opt.t, kind, lr, beta1, beta2, alpha, eps, max_norm,
        nets.head, nets.psizes, nets.pact, nets.state_dep, nets.csizes, nets.cact,
        np.ascontiguousarray(seg.obs.reshape(N, D)), np.ascontiguousarray(seg.last_obs),
        np.ascontiguousarray(seg.final_obs.reshape(N, D)), a_int, a_flt,
        np.ascontiguousarray(seg.rewards), np.ascontiguousarray(seg.dones),
        np.ascontiguousarray(seg.terminated), np.ascontiguousarray(seg.truncated),
        float(gamma), float(hp.gae_lambda), hp.normalize_advantage, hp.ent_coef, hp.vf_coef,
    )  # fmt: skip
    opt.t = int(t)
    return g_theta


class Float32Values:
    """A state-value critic's forward pass in float32 (values cast back to float64), for
    the advantages of a float32 run (:func:`pgbench.algorithms.segments.gae_transitions`
    calls ``forward(phi, obs).values``); it has no backward pass."""

    def __init__(self, nets: FusedNets):
        self.nets = nets

    def forward(self, phi: np.ndarray, obs: np.ndarray):
        X = np.ascontiguousarray(obs, np.float32)
        values = fused_f32.values32(phi.astype(np.float32), X, self.nets.csizes, self.nets.cact)
        return _Values(values.astype(np.float64))


class _Values(NamedTuple):
    values: np.ndarray
