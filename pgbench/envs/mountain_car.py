"""MountainCar-v0 and MountainCarContinuous-v0, step for step as Gymnasium's
``classic_control/mountain_car.py`` and ``continuous_mountain_car.py``.

Moore's (1990) under-powered car in a valley of height ``sin(3 x)``: positions
in [-1.2, 0.6], speeds in [-0.07, 0.07], gravity 0.0025. The state (and the
observation) is ``(position, velocity)``; the start state is position
``U(-0.6, -0.4)``, velocity 0. Both cars end (terminate) when
``position >= goal_position and velocity >= goal_velocity`` (``goal_velocity``
0 by default, a Gymnasium constructor argument and a parameter here).

``mountaincar-v0``, one step in Gymnasium's order (all float64):

* ``velocity += (a - 1) * 0.001 + cos(3 position) * (-0.0025)`` for the
  actions 0, 1, 2 (push left, none, right);
* ``velocity = clip(velocity, -0.07, 0.07)``; ``position += velocity``;
  ``position = clip(position, -1.2, 0.6)``; at the left wall
  (``position == -1.2``) a negative velocity becomes 0;
* the goal is 0.5; the reward is -1 on every step, the terminating one too.

Truncation after ``horizon`` steps (200 in Gymnasium's ``TimeLimit``).

``mountaincarcontinuous-v0``: one scalar action a, the force, which the
environment clips (``force = min(max(a, -1), 1)``); ``velocity += force *
0.0015 - 0.0025 cos(3 position)``, the same clips and wall, goal 0.45, and the
reward ``-0.1 a^2`` of the *unclipped* action, plus 100 on the terminating step.
Truncation after 999 steps. Gymnasium stores this car's state as a float32 array
after every step (termination is decided before, on the values the step computed),
and numpy 2 then does some of the next step in float32: an operation on a numpy
float32 and a Python float (a constant, or a force, speed or position that a clip
replaced by one) rounds the Python float to float32 and returns a float32, and a
comparison of the two is float32's (so ``position >= 0.45`` holds for the float32
just below 0.45). With a float64 action (pgbench's), that gives, from the second
step of an episode on (``t > 0``; the first starts from reset's float64 state
and is all float64):

* ``3 position`` is float32 (the float64 product, exact, rounded to float32);
* where the force was clipped, ``velocity + change`` is float32 (``change``
  rounded to float32 first), and so are the speed clip's comparisons;
* where the velocity is then float32, or was clipped (a Python float),
  ``position + velocity`` is float32, and so are the position clip's, the
  wall's and the goal's comparisons; else both are float64.

:func:`make_continuous_cores` follows those types step by step.

Differences from Gymnasium are confined to the last bits: of cos (pgbench's
own ``lib.sincos``, within 2 ulp of libm, identical on every target), and of
the continuous car's ``a^2``, which Gymnasium computes as ``math.pow(a, 2)``
(libm, not always correctly rounded) and we as ``a * a`` (measured: rewards within
2.3e-16). The discrete car's state drifts from Gymnasium's by a few ulp over an
episode (measured over whole 200-step episodes: at most 4e-15 in position and
2e-16 in velocity), which leaves its clips and termination unchanged. The
continuous car's float32 rounding absorbs such differences unless one falls on a
float32 rounding boundary (measured: 200,000 single steps from random states and
the 3,527 steps of 32 episodes, every state and termination bit for bit
Gymnasium's). The tests compare step for step and whole episodes.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from pgbench.envs.base import Env, EnvCores
from pgbench.envs.checks import Gamma, Horizon, check_float, check_gamma, check_horizon
from pgbench.envs.score_ranges import MOUNTAIN_CAR, MOUNTAIN_CAR_CONTINUOUS
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component

MIN_POSITION = -1.2
MAX_POSITION = 0.6
MAX_SPEED = 0.07
GRAVITY = 0.0025
RESET_LOW = -0.6
RESET_HIGH = -0.4
PARAM_GOAL_VELOCITY = 0  # index of goal_velocity in Env.params

# MountainCar-v0
FORCE = 0.001
GOAL_POSITION = 0.5
MAX_STEPS = 200

# MountainCarContinuous-v0
MIN_ACTION = -1.0
MAX_ACTION = 1.0
POWER = 0.0015
CONTINUOUS_GOAL_POSITION = 0.45
CONTINUOUS_MAX_STEPS = 999
GOAL_REWARD = 100.0
ACTION_COST = 0.1


def _reset(lib):
    uniform = lib.uniform

    def reset(ep, key, state, j):
        state[0, j] = RESET_LOW + (RESET_HIGH - RESET_LOW) * uniform(key, np.uint64(0))
        state[1, j] = 0.0

    return reset


def _observe(ep, state, j, obs):
    obs[0, j] = state[0, j]
    obs[1, j] = state[1, j]


def make_cores(lib) -> EnvCores:
    """The cores of ``mountaincar-v0`` (3 discrete actions)."""
    sincos = lib.sincos

    def step(ep, key, t, state, j, a):
        position = state[0, j]
        velocity = state[1, j]
        _, cos_3x = sincos(3 * position)
        velocity = velocity + ((a - 1) * FORCE + cos_3x * (-GRAVITY))
        # np.clip: NaN passes through
        velocity = -MAX_SPEED if velocity < -MAX_SPEED else velocity
        velocity = MAX_SPEED if velocity > MAX_SPEED else velocity
        position = position + velocity
        position = MIN_POSITION if position < MIN_POSITION else position
        position = MAX_POSITION if position > MAX_POSITION else position
        if position == MIN_POSITION and velocity < 0:
            velocity = 0.0
        state[0, j] = position
        state[1, j] = velocity
        terminated = position >= GOAL_POSITION and velocity >= ep[PARAM_GOAL_VELOCITY]
        return -1.0, terminated

    return EnvCores(_reset(lib), step, _observe)


def to_float32(x):
    """``x`` rounded to the nearest float32, as a float64."""
    return np.float64(np.float32(x))


def make_continuous_cores(lib) -> EnvCores:
    """The cores of ``mountaincarcontinuous-v0`` (one float64 action, the force), with
    Gymnasium's numpy types (see the module docstring): ``single_v`` / ``single_x`` say
    that Gymnasium's velocity / position is a numpy float32 at that point of the step."""
    sincos = lib.sincos
    f32 = lib.jit(to_float32)

    def step(ep, key, t, state, j, a):
        position = state[0, j]
        velocity = state[1, j]
        goal_velocity = ep[PARAM_GOAL_VELOCITY]
        stored = t > 0  # the state is the float32 pair the last step stored
        clipped = MIN_ACTION > a or MAX_ACTION < a  # then force is a Python float
        force = MIN_ACTION if MIN_ACTION > a else a  # Python's max(a, -1): NaN passes
        force = MAX_ACTION if MAX_ACTION < force else force
        three_x = f32(3 * position) if stored else 3 * position
        _, cos_3x = sincos(three_x)
        change = force * POWER - GRAVITY * cos_3x
        single_v = stored and clipped
        velocity = f32(velocity + f32(change)) if single_v else velocity + change
        limit = f32(MAX_SPEED) if single_v else MAX_SPEED
        speed_clipped = velocity > limit or velocity < -limit
        if velocity > limit:
            velocity = MAX_SPEED
        if velocity < -limit:
            velocity = -MAX_SPEED
        single_v = single_v and not speed_clipped
        single_x = stored and (single_v or speed_clipped)
        position = f32(position + f32(velocity)) if single_x else position + velocity
        if position > (f32(MAX_POSITION) if single_x else MAX_POSITION):
            position = MAX_POSITION
            single_x = False
        if position < (f32(MIN_POSITION) if single_x else MIN_POSITION):
            position = MIN_POSITION
            single_x = False
        if position == (f32(MIN_POSITION) if single_x else MIN_POSITION) and velocity < 0:
            velocity = 0.0
            single_v = False
        terminated = position >= (
            f32(CONTINUOUS_GOAL_POSITION) if single_x else CONTINUOUS_GOAL_POSITION
        ) and velocity >= (f32(goal_velocity) if single_v else goal_velocity)
        reward = GOAL_REWARD if terminated else 0.0
        reward = reward - (a * a) * ACTION_COST
        state[0, j] = f32(position)
        state[1, j] = f32(velocity)
        return reward, terminated

    return EnvCores(_reset(lib), step, _observe)


class MountainCarParams(HyperParams):
    """Parameters of ``mountaincar-v0``."""

    goal_velocity: float = Field(0.0, description="least velocity at the goal (0 in Gymnasium)")
    gamma: Gamma = Field(0.99, description="discount in (0, 1]")
    horizon: Horizon = Field(MAX_STEPS, description="truncation (200 in Gymnasium)")


class MountainCarContinuousParams(HyperParams):
    """Parameters of ``mountaincarcontinuous-v0``."""

    goal_velocity: float = Field(0.0, description="least velocity at the goal (0 in Gymnasium)")
    gamma: Gamma = Field(0.99, description="discount in (0, 1]")
    horizon: Horizon = Field(CONTINUOUS_MAX_STEPS, description="truncation (999 in Gymnasium)")


def _car(name, cores, goal_velocity, gamma, horizon, **action) -> Env:
    goal = check_float("goal_velocity", goal_velocity)
    return Env(
        name=name,
        state_dim=2,
        obs_dim=2,
        n_states=None,
        horizon=check_horizon(horizon),
        gamma=check_gamma(gamma),
        params=np.array([goal]),
        make_cores=cores,
        spec={"goal_velocity": goal, "gamma": float(gamma), "horizon": int(horizon)},
        **action,
    )


def make_mountain_car(goal_velocity: float = 0.0, gamma: float = 0.99, horizon: int = MAX_STEPS):
    """MountainCar-v0: 3 actions (push left, none, right), reward -1 per step until the car
    reaches position 0.5 at ``goal_velocity`` or faster; ``horizon`` is the truncation
    (200 in Gymnasium)."""
    return _car("mountaincar-v0", make_cores, goal_velocity, gamma, horizon, n_actions=3)


def make_mountain_car_continuous(
    goal_velocity: float = 0.0, gamma: float = 0.99, horizon: int = CONTINUOUS_MAX_STEPS
):
    """MountainCarContinuous-v0: one scalar force, clipped by the environment to [-1, 1];
    reward -0.1 a^2 per step, plus 100 when the car reaches position 0.45 at
    ``goal_velocity`` or faster; ``horizon`` is the truncation (999 in Gymnasium)."""
    return _car(
        "mountaincarcontinuous-v0",
        make_continuous_cores,
        goal_velocity,
        gamma,
        horizon,
        n_actions=0,
        action_dim=1,
        action_low=MIN_ACTION,
        action_high=MAX_ACTION,
    )


MOORE_1990 = "Moore (1990), PhD thesis, University of Cambridge (UCAM-CL-TR-209)"
ENVS.add(
    Component(
        name="mountaincar-v0",
        score_range=MOUNTAIN_CAR,
        fn=make_mountain_car,
        params=MountainCarParams,
        summary="drive an under-powered car up a hill: 3 actions, reward -1 per step",
        citation=f"{MOORE_1990}; Gymnasium MountainCar-v0",
    )
)
ENVS.add(
    Component(
        name="mountaincarcontinuous-v0",
        score_range=MOUNTAIN_CAR_CONTINUOUS,
        fn=make_mountain_car_continuous,
        params=MountainCarContinuousParams,
        summary="the mountain car with one continuous force in [-1, 1]: 100 at the goal",
        citation=f"{MOORE_1990}; Gymnasium MountainCarContinuous-v0",
    )
)
