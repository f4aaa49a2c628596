"""``corridor``: a noisy walk along a 1-D corridor to a goal at its far end.

The problem is an ordinary ``gymnasium.Env`` (:class:`NoisyCorridor`); pgbench steps it
from Python through :func:`pgbench.from_gymnasium`, which resets episode ``e`` of a call
with a seed keyed by (call seed, e), so the env's own ``np_random`` noise is as
reproducible as pgbench's compiled environments.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces
from pydantic import Field

import pgbench
from pgbench.envs.base import Env
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component


class NoisyCorridor(gymnasium.Env):
    """A walker at position x in [0, length]; the goal is x >= length.

    * observation: ``Box(0, length, (1,), float64)``, the position x;
    * actions: ``Discrete(2)``, 0 = step back, 1 = step forward, each moving x by
      ``step_size`` plus Gaussian noise of standard deviation ``noise`` (the wall at 0
      stops a step back);
    * reward: ``-step_cost`` per step, ``+1`` on the step that reaches the goal, which ends
      the episode (terminated); there is no time limit of its own (pgbench's ``horizon``
      ends an episode that is still walking);
    * start: x uniform in [0, 0.2 length].
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        length: float = 1.0,
        step_size: float = 0.1,
        noise: float = 0.05,
        step_cost: float = 0.05,
    ) -> None:
        self.length = float(length)
        self.step_size = float(step_size)
        self.noise = float(noise)
        self.step_cost = float(step_cost)
        self.observation_space = spaces.Box(0.0, self.length, (1,), np.float64)
        self.action_space = spaces.Discrete(2)
        self.x = 0.0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(0.0, 0.2 * self.length))
        return np.array([self.x]), {}

    def step(self, action):
        move = self.step_size if int(action) == 1 else -self.step_size
        self.x = max(0.0, self.x + move + self.noise * float(self.np_random.normal()))
        reached = self.x >= self.length
        self.x = min(self.x, self.length)
        reward = (1.0 if reached else 0.0) - self.step_cost
        return np.array([self.x]), reward, reached, False, {}


class CorridorParams(HyperParams):
    """Parameters of ``corridor``: the corridor, and the objective's discount and horizon."""

    length: float = Field(1.0, gt=0, description="distance from the wall to the goal")
    step_size: float = Field(0.1, gt=0, description="length of one step")
    noise: float = Field(0.05, ge=0, description="standard deviation of a step's noise")
    step_cost: float = Field(0.05, ge=0, description="reward -step_cost on every step")
    gamma: float = Field(0.99, gt=0, le=1, description="discount of the objective J")
    horizon: int = Field(30, ge=1, description="most actions per episode")


def make_corridor(
    length: float = 1.0,
    step_size: float = 0.1,
    noise: float = 0.05,
    step_cost: float = 0.05,
    gamma: float = 0.99,
    horizon: int = 30,
) -> Env:
    """The corridor as a pgbench environment (called with the validated parameters)."""

    def factory() -> NoisyCorridor:  # a fresh env for every copy pgbench steps
        return NoisyCorridor(length, step_size, noise, step_cost)

    return pgbench.from_gymnasium(factory, name="corridor", gamma=gamma, horizon=horizon)


ENVS.add(
    Component(
        name="corridor",
        fn=make_corridor,
        params=CorridorParams,
        summary="a noisy 1-D walk to a goal: 2 actions (back, forward), -0.05 a step, +1 there",
    )
)
