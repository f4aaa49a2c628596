"""Reference ranges of return, the 0 and 1 of normalized scores across tasks.

Where no range is published, ``low`` is a uniform random policy's mean return, measured
on Gymnasium's own implementation (``action_space.sample()``, episodes to the default
truncation); ``tests/test_score_ranges.py`` measures it again and checks the number
here. ``high`` is the most an episode can earn where that is known (CartPole 500;
Pendulum 0, every reward being <= 0), else the return Gymnasium's registration counts as
solved (``reward_threshold``). MuJoCo locomotion takes D4RL's reference scores (Fu et
al. 2020, arXiv:2004.07219, ``d4rl/infos.py``: random and expert policies, 1000-step
episodes), measured on the -v2 tasks and used for the later versions as the nearest
published reference.

A range holds for the env as registered: a parameter that changes the return
(horizon, dynamics, Gymnasium ``kwargs``) voids it, and a suite then gives its own
(``score_range`` of the env). Only the parameters of :data:`RETURN_NEUTRAL` may differ.
Tabular envs need none here: their range is exact (:mod:`pgbench.suite.score_ranges`).
"""

from __future__ import annotations

from pgbench.registry import ScoreRange

RETURN_NEUTRAL = frozenset({"gamma", "vectorization", "max_lanes"})
"""Env parameters the undiscounted return does not depend on."""

_RANDOM = "uniform random actions, mean of {n:,} episodes of Gymnasium's {id} (s.e. {se})"

CARTPOLE = ScoreRange(
    22.35,
    500.0,
    f"low: {_RANDOM.format(n=10_000, id='CartPole-v1', se=0.12)}; "
    "high: the most return an episode can have (500 steps, reward 1)",
)
ACROBOT = ScoreRange(
    -498.8,
    -100.0,
    f"low: {_RANDOM.format(n=2_000, id='Acrobot-v1', se=0.27)}; "
    "high: Gymnasium's reward_threshold (solved)",
)
MOUNTAIN_CAR = ScoreRange(
    -200.0,
    -110.0,
    f"low: {_RANDOM.format(n=1_000, id='MountainCar-v0', se=0.0)}: never at the goal; "
    "high: Gymnasium's reward_threshold (solved)",
)
MOUNTAIN_CAR_CONTINUOUS = ScoreRange(
    -33.12,
    90.0,
    f"low: {_RANDOM.format(n=1_000, id='MountainCarContinuous-v0', se=0.15)}; "
    "high: Gymnasium's reward_threshold (solved)",
)
PENDULUM = ScoreRange(
    -1224.4,
    0.0,
    f"low: {_RANDOM.format(n=4_000, id='Pendulum-v1', se=4.5)}; "
    "high: 0, the bound of a return whose rewards are all <= 0",
)

_D4RL = "D4RL reference scores (Fu et al. 2020): low random, high expert policy"
MUJOCO = {
    "HalfCheetah": ScoreRange(-280.178953, 12135.0, _D4RL),
    "Hopper": ScoreRange(-20.272305, 3234.3, _D4RL),
    "Walker2d": ScoreRange(1.629008, 4592.3, _D4RL),
    "Ant": ScoreRange(-325.6, 3879.7, _D4RL),
}
"""By task name; every version from -v2 on (:func:`gymnasium_range`)."""

CLASSIC_CONTROL = {
    "CartPole-v1": CARTPOLE,
    "Acrobot-v1": ACROBOT,
    "MountainCar-v0": MOUNTAIN_CAR,
    "MountainCarContinuous-v0": MOUNTAIN_CAR_CONTINUOUS,
    "Pendulum-v1": PENDULUM,
}
"""Gymnasium ids of the classic-control envs pgbench also has natively (same ranges)."""


def gymnasium_range(gym_id: str) -> ScoreRange | None:
    """The range of a registered Gymnasium id as registered (e.g. ``Hopper-v5``), or None."""
    if gym_id in CLASSIC_CONTROL:
        return CLASSIC_CONTROL[gym_id]
    name, _, version = gym_id.rpartition("-v")
    if name in MUJOCO and version.isdigit() and int(version) >= 2:
        return MUJOCO[name]
    return None
