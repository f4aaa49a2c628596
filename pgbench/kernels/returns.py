"""Return scans over stored episodes: one undecorated core per scan, any target.

Arrays are padded to T steps: ``rewards`` (E, T), ``mask`` (E, T) with 1 while
the episode is alive. Each core handles one episode row ``e``; drivers run
rows in parallel (``prange`` on the CPU, one thread per row on CUDA).

``values`` (E, T + 1) holds V(s_t) for t < T and, at ``t = length``, the
bootstrap value of the state the episode stopped in (0 when it terminated,
V(s_T) when it was truncated); entries past that are ignored.
"""

from __future__ import annotations


def make_return_cores():
    """The scan cores (no primitives needed)."""

    def discounted_return(rewards, mask, gamma, out, e):
        """out[e] = sum_t gamma^t r_t over the live steps of episode e."""
        acc = 0.0
        disc = 1.0
        for t in range(rewards.shape[1]):
            acc += disc * rewards[e, t] * mask[e, t]
            disc *= gamma
        out[e] = acc

    def reward_to_go(rewards, mask, gamma, out, e):
        """out[e, t] = sum_{t' >= t} gamma^(t' - t) r_t' (0 past the end)."""
        acc = 0.0
        for t in range(rewards.shape[1] - 1, -1, -1):
            acc = (rewards[e, t] + gamma * acc) * mask[e, t]
            out[e, t] = acc

    def td_errors(rewards, values, mask, gamma, out, e):
        """out[e, t] = r_t + gamma V(s_{t+1}) - V(s_t) on live steps, else 0."""
        for t in range(rewards.shape[1]):
            out[e, t] = (rewards[e, t] + gamma * values[e, t + 1] - values[e, t]) * mask[e, t]

    def gae(rewards, values, mask, gamma, lam, out, e):
        """Generalized advantage estimation (Schulman et al. 2016, eq. 16).

        out[e, t] = sum_{l >= 0} (gamma lam)^l delta_{t+l}, delta from td_errors.
        """
        acc = 0.0
        for t in range(rewards.shape[1] - 1, -1, -1):
            delta = rewards[e, t] + gamma * values[e, t + 1] - values[e, t]
            acc = (delta + gamma * lam * acc) * mask[e, t]
            out[e, t] = acc

    def gae_segment(rewards, values, next_values, dones, gamma, lam, out, e):
        """GAE over a training segment row, episodes ending inside it.

        ``next_values[e, t]`` is the value of the state step t led to: 0 after a
        terminal step, V(final state) after a truncated one, V(s_{t+1}) otherwise
        (V of the lane's last observation at t = T - 1); ``dones[e, t]`` is 1 where
        an episode ended, which stops the sum from crossing into the next one.
        """
        acc = 0.0
        for t in range(rewards.shape[1] - 1, -1, -1):
            delta = rewards[e, t] + gamma * next_values[e, t] - values[e, t]
            acc = delta + gamma * lam * (1.0 - dones[e, t]) * acc
            out[e, t] = acc

    return {
        "discounted_return": discounted_return,
        "reward_to_go": reward_to_go,
        "td_errors": td_errors,
        "gae": gae,
        "gae_segment": gae_segment,
    }
