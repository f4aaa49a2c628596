"""Training segments (persistent lanes): keyed episodes, truncation, targets agree."""

from __future__ import annotations

import numpy as np
import pytest

from pgbench.kernels import build, build_returns
from tests.conftest import WOBBLY_THETA


def _segment(env, pol, theta, target, lanes=4, steps=(37, 50), seed=11):
    k = build(env, pol, target)
    state = k.start_lanes(env.params, seed, lanes)
    return [k.segment(env.params, theta, state, T, env.horizon) for T in steps]


def test_lane_episodes_equal_rollout_episodes(cartpole):
    """Lane j runs episodes j, j + L, ...: each equals the rollout kernel's episode."""
    env, pol = cartpole
    L = 4
    segs = _segment(env, pol, WOBBLY_THETA, "serial", lanes=L, steps=(300,))
    seg = segs[0]
    roll = build(env, pol, "serial").rollout(env.params, WOBBLY_THETA, 11, 3 * L, env.horizon)
    for j in range(L):
        ends = np.flatnonzero(seg.dones[j])
        start = 0
        for k, end in enumerate(ends[:3]):
            e = j + k * L
            n = end - start + 1
            assert roll.lengths[e] == n == seg.episode_lengths[j, end]
            np.testing.assert_array_equal(seg.obs[j, start : end + 1], roll.obs[e, :n])
            np.testing.assert_array_equal(seg.actions[j, start : end + 1], roll.actions[e, :n])
            assert seg.episode_returns[j, end] == roll.rewards[e].sum()
            start = end + 1


def test_segments_continue_where_they_stopped(cartpole):
    """Two segments of 37 and 50 steps equal one of 87 (state carried between calls)."""
    env, pol = cartpole
    a, b = _segment(env, pol, WOBBLY_THETA, "serial", steps=(37, 50))
    (whole,) = _segment(env, pol, WOBBLY_THETA, "serial", steps=(87,))
    for field in ("obs", "actions", "rewards", "terminated", "episode_returns"):
        joined = np.concatenate([getattr(a, field), getattr(b, field)], axis=1)
        np.testing.assert_array_equal(joined, getattr(whole, field))
    np.testing.assert_array_equal(b.last_obs, whole.last_obs)
    np.testing.assert_array_equal(a.last_obs, b.obs[:, 0])


def test_truncation_records_the_final_observation(chain):
    """Tabular episodes always reach the horizon: every end is a truncation."""
    env, pol = chain
    theta = pol.init(1)
    (seg,) = _segment(env, pol, theta, "serial", lanes=3, steps=(3 * env.horizon + 2,))
    assert seg.terminated.sum() == 0
    ends = seg.truncated > 0
    assert ends.sum() == 3 * 3
    assert np.all(seg.episode_lengths[ends] == env.horizon)
    assert np.all(seg.final_obs[~ends] == 0)


@pytest.mark.parametrize("name", ["cartpole", "garnet"])
def test_serial_and_parallel_targets_agree(name, request):
    env, pol = request.getfixturevalue(name)
    theta = WOBBLY_THETA if name == "cartpole" else pol.init(3)
    for x, y in zip(
        _segment(env, pol, theta, "serial"), _segment(env, pol, theta, "parallel"), strict=True
    ):
        for u, v in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, v)


def test_gae_segment_matches_a_hand_computed_oracle():
    """Two lanes, three steps; lane 0 ends its episode at t = 1 (GAE does not cross it)."""
    g, lam = 0.9, 0.5
    rewards = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    values = np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0]])
    next_values = np.array([[1.0, 0.0, 4.0], [1.0, 1.0, 2.0]])
    dones = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    out = build_returns("serial").gae_segment(rewards, values, next_values, dones, g, lam)
    d = rewards + g * next_values - values
    # lane 0: t=2 alone; t=1 ends its episode; t=0 sees t=1 only.
    expected0 = [d[0, 0] + g * lam * d[0, 1], d[0, 1], d[0, 2]]
    a2 = d[1, 2]
    a1 = d[1, 1] + g * lam * a2
    a0 = d[1, 0] + g * lam * a1
    np.testing.assert_allclose(out[0], expected0, rtol=1e-15)
    np.testing.assert_allclose(out[1], [a0, a1, a2], rtol=1e-15)
    assert d[0, 0] == pytest.approx(1.0 + 0.9 * 1.0 - 0.5)
