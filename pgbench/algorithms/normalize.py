"""Observation normalisation and reward scaling, as Stable-Baselines3's ``VecNormalize``.

Options of the segment-based algorithms (``normalize: {obs: true, reward: true}``),
applied by the environment's drivers while a training segment is collected:

* observations: ``clip((o - mean) / sqrt(var + eps), -clip_obs, clip_obs)`` with the
  running mean and variance of every observation the training lanes have seen,
  updated before the policy acts on them; the policy, the critic and the stored
  segment see the normalised observation. Evaluation episodes use the statistics
  frozen at the time of the evaluation.
* rewards: ``clip(r / sqrt(var_R + eps), -clip_reward, clip_reward)`` with var_R the
  running variance of each lane's discounted return ``R = gamma R + r`` (reset where an
  episode ends); the learning curve's returns stay in the env's own units.

Running statistics merge batches exactly (Chan, Golub & LeVeque 1979, the parallel
variance update), starting from a count of 1e-4 as SB3's ``RunningMeanStd``.
Drivers of environments stepped from Python apply them
(:mod:`pgbench.envs.python_drivers`); native kernels act inside compiled code and
refuse the option in one line.
"""

from __future__ import annotations

import copy

import numpy as np
from pydantic import Field

from pgbench.params import HyperParams

INITIAL_COUNT = 1e-4


class NormalizeParams(HyperParams):
    """What the training lanes normalise (all off by default)."""

    obs: bool = Field(False, description="normalise observations by running mean / std")
    reward: bool = Field(False, description="scale rewards by the running std of the return")
    clip_obs: float = Field(10.0, gt=0, description="clip of normalised observations")
    clip_reward: float = Field(10.0, gt=0, description="clip of scaled rewards")
    epsilon: float = Field(1e-8, gt=0, description="added to the variances")

    @property
    def any(self) -> bool:
        return self.obs or self.reward


class RunningMeanStd:
    """Running mean and (population) variance of arrays of shape ``shape``."""

    def __init__(self, shape: tuple[int, ...]):
        self.mean = np.zeros(shape)
        self.var = np.ones(shape)
        self.count = INITIAL_COUNT

    def update(self, batch: np.ndarray) -> None:
        """Merge a batch (N, *shape)."""
        n = batch.shape[0]
        if n == 0:
            return
        if n == 1:  # one lane: numpy's reductions of one row, without their overhead
            b_mean, b_var = batch[0], 0.0
        else:
            b_mean, b_var = batch.mean(axis=0), batch.var(axis=0)
        total = self.count + n
        delta = b_mean - self.mean
        m2 = self.var * self.count + b_var * n + delta * delta * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.var = m2 / total
        self.count = total


class Normalizer:
    """The running statistics of one training run's lanes (see the module docstring)."""

    def __init__(self, params: NormalizeParams, obs_dim: int, gamma: float):
        self.params = params
        self.gamma = float(gamma)
        self.obs_rms = RunningMeanStd((obs_dim,))
        self.ret_rms = RunningMeanStd(())
        self.returns: np.ndarray | None = None  # (L,) discounted return of each lane
        self.training = True

    def obs(self, raw: np.ndarray, update: bool = True) -> np.ndarray:
        """(L, OD) observations as the policy sees them."""
        if not self.params.obs:
            return raw
        if update and self.training:
            self.obs_rms.update(raw)
        p = self.params
        z = (raw - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + p.epsilon)
        return np.clip(z, -p.clip_obs, p.clip_obs)

    def rewards(self, r: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """(L,) rewards as the algorithm sees them; ``dones`` (L,) bool ends the returns."""
        if not self.params.reward:
            return r
        if self.returns is None or self.returns.shape != r.shape:
            self.returns = np.zeros_like(r)
        self.returns = self.returns * self.gamma + r
        if self.training:
            self.ret_rms.update(self.returns)
        self.returns[dones] = 0.0
        p = self.params
        return np.clip(r / np.sqrt(self.ret_rms.var + p.epsilon), -p.clip_reward, p.clip_reward)

    def frozen(self) -> Normalizer:
        """A copy that normalises observations with today's statistics and updates
        nothing (for evaluation episodes)."""
        out = copy.deepcopy(self)
        out.training = False
        out.params = self.params.model_copy(update={"reward": False})
        return out
