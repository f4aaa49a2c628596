"""The kernels' interface for environments stepped from Python (:mod:`.external`).

:class:`ExternalDrivers` walks :class:`~pgbench.envs.external.VectorLanes` with
the time loop in Python and everything per step batched over the lanes: one
pass of the policy's batched distributions (:mod:`pgbench.policies.distributions`,
compiled network passes) for the actions and, where asked, their scores; one
``step`` of all lanes. It has the methods of :class:`pgbench.kernels.build.Kernels`
(``stream``, ``rollout``, ``start_lanes``, ``segment``) with the same outputs, so a
:class:`~pgbench.sampling.Sampler` and a training run use it unchanged.

Episodes are keyed as in the lane cores: episode ``e`` of a call under ``seed`` has
the stream key ``episode_key(seed, e)``; its reset seed and action uniforms are
functions of that key (:mod:`pgbench.kernels.keyed`). ``stream`` and ``rollout``
run episodes ``0 .. E-1`` on at most ``max_lanes`` lanes, a lane taking the next
unstarted episode when its own ends; ``segment`` runs lane ``j``'s episodes
``j, j + L, j + 2L, ...``, as :class:`pgbench.kernels.build.Lanes` does.

Shapes are those of :mod:`pgbench.kernels.build`, with a K-component continuous
action (K > 1) stored as a last axis of K (``actions (E, T, K)``).
"""

from __future__ import annotations

import numpy as np

from pgbench.errors import InvalidSpecError
from pgbench.kernels import EpisodeSums, Segment, Trajectories
from pgbench.kernels.keyed import action_uniforms, episode_keys, reset_seeds


class ExternalLanes:
    """Persistent lanes of a training run (:meth:`ExternalDrivers.start_lanes`).

    obs (L, OD): the observation each lane continues from (as the env gave it); keys (L,)
    uint64, episode (L,) int64, steps (L,) int64, ret (L,): the current episode of each
    lane, its stream key, steps taken and undiscounted return so far. ``normalizer``:
    None, or what the policy's observations and the stored rewards pass through
    (``obs(raw, update) -> obs``, ``rewards(r, dones) -> r``:
    :class:`pgbench.algorithms.normalize.Normalizer`).
    """

    def __init__(self, lanes, seed: int, obs: np.ndarray, keys: np.ndarray, normalizer=None):
        self.lanes = lanes
        self.normalizer = normalizer
        self.seed = int(seed)
        L = lanes.n_lanes
        self.obs = obs
        self.keys = keys
        self.episode = np.arange(L, dtype=np.int64)
        self.steps = np.zeros(L, np.int64)
        self.ret = np.zeros(L)

    @property
    def n_lanes(self) -> int:
        return int(self.episode.shape[0])

    def close(self) -> None:
        self.lanes.close()


class ExternalDrivers:
    """Rollouts of ``policy`` on an environment stepped from Python (see the module)."""

    def __init__(self, ext, policy, target: str = "serial"):
        if policy.distributions is None:
            raise InvalidSpecError(
                f"policy {policy.name} has no batched passes (distributions); an environment "
                "stepped from Python needs them"
            )
        self.ext = ext
        self.policy = policy
        self.target = "python"
        K = ext.action_dim
        self.action_shape = (K,) if K > 1 else ()
        self.action_dtype = np.float64 if K else np.int64
        self.n_components = max(K, 1)
        self.deterministic = bool(getattr(policy, "deterministic", False))
        OD, P = ext.obs_dim, policy.n_params
        self.dims = (OD, OD, max(ext.n_actions, 1), P)

    # ------------------------------------------------------------ one step of every lane

    def act(self, theta, obs, keys, steps, scores: bool):
        """Actions of all lanes at their observations ``obs`` (L, OD), and, with
        ``scores``, grad log pi of each (L, P)."""
        dist = self.policy.distributions(theta, obs)
        if self.deterministic:
            a = dist.mode()
        else:
            u = action_uniforms(keys, steps, self.n_components)
            a = dist.sample(u if self.action_shape else u[:, 0])
        return a, (dist.scores(a) if scores else None)

    def step(self, lanes, actions, steps, horizon: int):
        """Step every lane; a step that reaches ``horizon`` is truncated unless terminal."""
        obs, rewards, terminated, truncated = lanes.step(self.ext.env_actions(actions))
        obs = self._obs(obs, lanes.n_lanes)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = (np.asarray(truncated, dtype=bool) | (steps + 1 >= horizon)) & ~terminated
        return obs, np.asarray(rewards, dtype=np.float64), terminated, truncated

    def reset(self, lanes, which: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Observations (M, OD) of the lanes ``which`` reset for the episodes of ``keys``."""
        return self._obs(lanes.reset(which, reset_seeds(keys)), len(which))

    def _obs(self, obs, n: int) -> np.ndarray:
        out = np.asarray(obs, dtype=np.float64).reshape(n, -1)
        if out.shape[1] != self.ext.obs_dim:
            raise InvalidSpecError(
                f"the environment returned observations of {out.shape[1]} floats; "
                f"it declared {self.ext.obs_dim}"
            )
        return out

    # ------------------------------------------------------------ episodes 0 .. E-1

    def _episodes(self, theta, seed: int, E: int, horizon: int, scores: bool, record):
        """Run episodes 0 .. E-1; ``record(episode, t, live, obs, a, r, g, ended)`` is
        called after every step with the lanes' episode indices and step counts."""
        L = min(E, self.ext.max_lanes)
        lanes = self.ext.pool.borrow(L)
        try:
            episode = np.arange(L, dtype=np.int64)
            live = np.ones(L, dtype=bool)
            keys = episode_keys(seed, episode)
            obs = self.reset(lanes, np.arange(L), keys)
            steps = np.zeros(L, np.int64)
            next_e = L
            while live.any():
                a, g = self.act(theta, obs, keys, steps, scores)
                new_obs, r, term, trunc = self.step(lanes, a, steps, horizon)
                done = term | trunc
                record(episode, steps, live, obs, a, r, g, done & live)
                steps += 1
                if done.any():
                    which = np.flatnonzero(done)
                    fresh = which[live[which]]
                    n_new = min(len(fresh), max(0, E - next_e))
                    live[fresh[n_new:]] = False
                    episode[fresh[:n_new]] = np.arange(next_e, next_e + n_new)
                    next_e += n_new
                    # a lane without an episode left keeps stepping (the lanes step
                    # together) on its last key; nothing it does is recorded
                    keys[which] = episode_keys(seed, episode[which])
                    steps[which] = 0
                    new_obs[which] = self.reset(lanes, which, keys[which])
                obs = new_obs
        finally:
            self.ext.pool.give_back(lanes)

    def stream(self, ep, theta, seed: int, n_episodes: int, horizon: int, gamma: float):
        """Per-episode sums (:class:`pgbench.kernels.EpisodeSums`) of ``n_episodes``."""
        E, P = int(n_episodes), self.policy.n_params
        out = EpisodeSums(
            np.zeros(E), np.zeros(E), np.zeros(E, np.int64), np.zeros((E, P)), np.zeros((E, P))
        )
        if E == 0:
            return out
        L = min(E, self.ext.max_lanes)
        ret, total, disc = np.zeros(L), np.zeros(L), np.ones(L)
        csum, rtg = np.zeros((L, P)), np.zeros((L, P))

        def record(episode, steps, live, obs, a, r, g, ended):
            w = np.where(live, disc * r, 0.0)
            ret[:] += w
            total[:] += np.where(live, r, 0.0)
            csum[live] += g[live]
            rtg[:] += w[:, None] * csum
            disc[:] *= gamma
            for j in np.flatnonzero(ended):
                e = episode[j]
                out.returns[e], out.total_rewards[e] = ret[j], total[j]
                out.lengths[e] = steps[j] + 1
                out.score_sums[e], out.rtg_sums[e] = csum[j], rtg[j]
                ret[j] = total[j] = 0.0
                disc[j] = 1.0
                csum[j] = rtg[j] = 0.0

        self._episodes(theta, seed, E, int(horizon), True, record)
        return out

    def rollout(self, ep, theta, seed: int, n_episodes: int, horizon: int, scores: bool = True):
        """``n_episodes`` stored episodes padded to ``horizon`` steps
        (:class:`pgbench.kernels.Trajectories`; ``init_states`` holds the first observation)."""
        E, T, OD, P = int(n_episodes), int(horizon), self.ext.obs_dim, self.policy.n_params
        out = Trajectories(
            np.zeros((E, OD)),
            np.zeros((E, T, OD)),
            np.zeros((E, T, *self.action_shape), self.action_dtype),
            np.zeros((E, T)),
            np.zeros((E, T)),
            np.zeros((E, T, P if scores else 0)),
            np.zeros(E, np.int64),
        )
        if E == 0:
            return out

        def record(episode, steps, live, obs, a, r, g, ended):
            e, t = episode[live], steps[live]
            first = t == 0
            out.init_states[e[first]] = obs[live][first]
            out.obs[e, t] = obs[live]
            out.actions[e, t] = a[live]
            out.rewards[e, t] = r[live]
            out.mask[e, t] = 1.0
            if scores:
                out.score[e, t] = g[live]
            out.lengths[episode[ended]] = steps[ended] + 1

        self._episodes(theta, seed, E, T, scores, record)
        return out

    # ------------------------------------------------------------ persistent lanes

    def start_lanes(self, ep, seed: int, n_lanes: int, normalizer=None) -> ExternalLanes:
        """``n_lanes`` lanes (their own copies, not pooled) at the start of episodes
        0 .. n_lanes - 1, their observations and rewards passed through ``normalizer``
        (see :class:`ExternalLanes`) in :meth:`segment`."""
        L = int(n_lanes)
        lanes = self.ext.pool.make_lanes_checked(L)
        keys = episode_keys(seed, np.arange(L, dtype=np.int64))
        obs = self.reset(lanes, np.arange(L), keys)
        return ExternalLanes(lanes, seed, obs, keys, normalizer)

    def segment(self, ep, theta, lanes: ExternalLanes, n_steps: int, horizon: int) -> Segment:
        """``n_steps`` steps of every lane (:class:`pgbench.kernels.Segment`), lane j moving
        on to its episode ``+ L`` when one ends."""
        L, T, OD = lanes.n_lanes, int(n_steps), self.ext.obs_dim
        out = Segment(
            np.zeros((L, T, OD)),
            np.zeros((L, T, *self.action_shape), self.action_dtype),
            np.zeros((L, T)),
            np.zeros((L, T)),
            np.zeros((L, T)),
            np.zeros((L, T, OD)),
            np.zeros((L, T)),
            np.zeros((L, T), np.int64),
            np.zeros((L, OD)),
        )
        norm = lanes.normalizer
        for t in range(T):
            obs = lanes.obs if norm is None else norm.obs(lanes.obs)
            a, _ = self.act(theta, obs, lanes.keys, lanes.steps, False)
            new_obs, r, term, trunc = self.step(lanes.lanes, a, lanes.steps, horizon)
            out.obs[:, t] = obs
            out.actions[:, t] = a
            out.rewards[:, t] = r if norm is None else norm.rewards(r, term | trunc)
            out.terminated[:, t] = term
            out.truncated[:, t] = trunc
            if trunc.any():
                final = new_obs[trunc]
                out.final_obs[trunc, t] = final if norm is None else norm.obs(final, False)
            lanes.ret += r
            lanes.steps += 1
            done = np.flatnonzero(term | trunc)
            if done.size:
                out.episode_returns[done, t] = lanes.ret[done]
                out.episode_lengths[done, t] = lanes.steps[done]
                lanes.episode[done] += L
                lanes.keys[done] = episode_keys(lanes.seed, lanes.episode[done])
                lanes.steps[done] = 0
                lanes.ret[done] = 0.0
                new_obs[done] = self.reset(lanes.lanes, done, lanes.keys[done])
            lanes.obs = new_obs
        out.last_obs[:] = lanes.obs if norm is None else norm.obs(lanes.obs, False)
        return out
