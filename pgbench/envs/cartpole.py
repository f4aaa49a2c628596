"""CartPole-v1, step for step as Gymnasium's ``classic_control/cartpole.py``.

Barto, Sutton & Anderson (1983) cart-pole with Gymnasium's constants, Euler
integration, termination at |x| > 2.4 or |theta| > 12 degrees, reward 1 on
every step including the terminating one, truncation at 500 steps, and a
start state uniform in [-0.05, 0.05)^4. The state (and the observation) is
``(x, x_dot, theta, theta_dot)`` in float64 (Gymnasium keeps float64
internally and returns a float32 copy). Differences from Gymnasium are
confined to the last bits of sin / cos (pgbench's own, identical on every
target); the tests compare step for step.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from pgbench.envs.base import Env, EnvCores
from pgbench.envs.checks import Gamma, Horizon, check_gamma, check_horizon
from pgbench.envs.score_ranges import CARTPOLE
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component

GRAVITY = 9.8
MASSCART = 1.0
MASSPOLE = 0.1
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02  # seconds between state updates
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
RESET_LOW = -0.05
RESET_HIGH = 0.05
MAX_STEPS = 500
FOUR_THIRDS = 4.0 / 3.0


def make_cores(lib) -> EnvCores:
    uniform = lib.uniform
    sincos = lib.sincos

    def reset(ep, key, state, j):
        for k in range(4):
            state[k, j] = RESET_LOW + (RESET_HIGH - RESET_LOW) * uniform(key, np.uint64(k))

    def step(ep, key, t, state, j, a):
        x = state[0, j]
        x_dot = state[1, j]
        theta = state[2, j]
        theta_dot = state[3, j]
        force = FORCE_MAG if a == 1 else -FORCE_MAG
        sintheta, costheta = sincos(theta)
        temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS
        thetaacc = (GRAVITY * sintheta - costheta * temp) / (
            LENGTH * (FOUR_THIRDS - MASSPOLE * (costheta * costheta) / TOTAL_MASS)
        )
        xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
        x = x + TAU * x_dot
        x_dot = x_dot + TAU * xacc
        theta = theta + TAU * theta_dot
        theta_dot = theta_dot + TAU * thetaacc
        state[0, j] = x
        state[1, j] = x_dot
        state[2, j] = theta
        state[3, j] = theta_dot
        terminated = (
            (x < -X_THRESHOLD)
            | (x > X_THRESHOLD)
            | (theta < -THETA_THRESHOLD)
            | (theta > THETA_THRESHOLD)
        )
        return 1.0, terminated

    def observe(ep, state, j, obs):
        for k in range(4):
            obs[k, j] = state[k, j]

    return EnvCores(reset, step, observe)


class CartPoleParams(HyperParams):
    """Parameters of ``cartpole-v1``."""

    gamma: Gamma = Field(0.99, description="discount in (0, 1]")
    horizon: Horizon = Field(MAX_STEPS, description="truncation (500 in Gymnasium)")


def make_cartpole(gamma: float = 0.99, horizon: int = MAX_STEPS) -> Env:
    """CartPole-v1; ``horizon`` is the truncation (500 in Gymnasium)."""
    return Env(
        name="cartpole-v1",
        n_actions=2,
        state_dim=4,
        obs_dim=4,
        n_states=None,
        horizon=check_horizon(horizon),
        gamma=check_gamma(gamma),
        params=np.zeros(1),
        make_cores=make_cores,
        spec={"gamma": float(gamma), "horizon": int(horizon)},
    )


ENVS.add(
    Component(
        name="cartpole-v1",
        score_range=CARTPOLE,
        fn=make_cartpole,
        params=CartPoleParams,
        summary="balance a pole on a cart: 2 actions, reward 1 per step until it falls",
        citation="Barto, Sutton & Anderson (1983), IEEE SMC 13; Gymnasium CartPole-v1",
    )
)
