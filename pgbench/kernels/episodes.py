"""Lane cores: one episode's reset, step and bookkeeping, shared by every driver.

A *lane* is a column ``j`` of the structure-of-arrays scratch a driver owns
(``state[:, j]``, ``obs[:, j]``, ...). On the CPU a block has many lanes and
the driver loops over them innermost, so LLVM vectorizes across episodes; on
CUDA each thread owns one lane (``j = 0``). A lane runs episodes back to back;
each episode's randomness comes from its own keyed stream.

Shapes: state (SD, L), obs (OD, L), probs (A, L), g (P, L), keys (L,) uint64,
steps (L,) int64, disc (L,) float64; SD, OD, A, P are closure constants.
"""

from __future__ import annotations


def make_episode_cores(lib, env, policy, dims):
    """Compose compiled env / policy cores into lane cores.

    Args:
        lib: compiled primitives of the target (``episode_key``, ``uniform``,
            ``step_counter``).
        env, policy: compiled :class:`EnvCores` / :class:`PolicyCores`.
        dims: ``(SD, OD, A, P)``.
    """
    SD, OD, A, P = dims
    episode_key = lib.episode_key
    uniform = lib.uniform
    step_counter = lib.step_counter
    env_reset, env_step, env_observe = env.reset, env.step, env.observe
    pol_sample, pol_score = policy.sample, policy.score

    def begin(ep, seed, e, state, keys, steps, disc, j):
        """Start episode ``e`` in lane ``j``."""
        key = episode_key(seed, e)
        keys[j] = key
        env_reset(ep, key, state, j)
        steps[j] = 0
        disc[j] = 1.0

    def act(ep, theta, state, obs, probs, g, keys, steps, j):
        """Observe, sample an action, compute its score into ``g[:, j]``, step.

        Returns ``(action, reward, terminated)``; ``obs[:, j]`` still holds the
        observation the action was taken in.
        """
        env_observe(ep, state, j, obs)
        u = uniform(keys[j], step_counter(steps[j], 0))
        a = pol_sample(theta, obs, j, u, probs)
        pol_score(theta, obs, j, a, probs, g)
        r, terminated = env_step(ep, keys[j], steps[j], state, j, a)
        return a, r, terminated

    def sample_step(ep, theta, state, obs, probs, keys, steps, j):
        """Like :func:`act` without the score: observe, sample an action, step.

        For drivers that only need the transitions (training segments), where a
        network policy's score would cost a backward pass per step.
        """
        env_observe(ep, state, j, obs)
        u = uniform(keys[j], step_counter(steps[j], 0))
        a = pol_sample(theta, obs, j, u, probs)
        r, terminated = env_step(ep, keys[j], steps[j], state, j, a)
        return a, r, terminated

    def observe_lane(ep, state, j, obs):
        env_observe(ep, state, j, obs)

    def record_transition(j, t, obs, a, r, terminated, obs_o, act_o, rew_o, term_o):
        """Row ``t`` of lane ``j`` of a training segment."""
        for k in range(OD):
            obs_o[j, t, k] = obs[k, j]
        act_o[j, t] = a
        rew_o[j, t] = r
        term_o[j, t] = 1.0 if terminated else 0.0

    def clear_sums(ret, total, csum, rtg, j):
        ret[j] = 0.0
        total[j] = 0.0
        for p in range(P):
            csum[p, j] = 0.0
            rtg[p, j] = 0.0

    def accumulate(ret, total, csum, rtg, g, disc, j, r, gamma):
        """Running sums of one step (t = steps[j]) of reward ``r``.

        ret += gamma^t r; total += r; csum = sum_{t' <= t} score_t';
        rtg += gamma^t r * csum, so at the end
        rtg = sum_t score_t * sum_{t' >= t} gamma^t' r_t'  (reward-to-go form).
        """
        w = disc[j] * r
        ret[j] += w
        total[j] += r
        for p in range(P):
            c = csum[p, j] + g[p, j]
            csum[p, j] = c
            rtg[p, j] += w * c
        disc[j] *= gamma

    def write_sums(e, j, steps, ret, total, csum, rtg, ret_o, total_o, len_o, csum_o, rtg_o):
        ret_o[e] = ret[j]
        total_o[e] = total[j]
        len_o[e] = steps[j]
        for p in range(P):
            csum_o[e, p] = csum[p, j]
            rtg_o[e, p] = rtg[p, j]

    def store_init(e, state, j, init_o):
        for k in range(SD):
            init_o[e, k] = state[k, j]

    def store_step(e, t, obs, g, j, a, r, obs_o, act_o, rew_o, mask_o, score_o):
        for k in range(OD):
            obs_o[e, t, k] = obs[k, j]
        act_o[e, t] = a
        rew_o[e, t] = r
        mask_o[e, t] = 1.0
        for p in range(score_o.shape[2]):  # 0 columns: scores not stored
            score_o[e, t, p] = g[p, j]

    return {
        "begin": begin,
        "act": act,
        "sample_step": sample_step,
        "record_transition": record_transition,
        "observe_lane": observe_lane,
        "clear_sums": clear_sums,
        "accumulate": accumulate,
        "write_sums": write_sums,
        "store_init": store_init,
        "store_step": store_step,
    }
