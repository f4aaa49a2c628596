"""Sampled derivatives (DiCE, LOLA-PG cross term) against exact ones, within standard errors;
the joint-policy kernels against their numpy reference; the LOLA-DiCE chain rule."""

from __future__ import annotations

import numpy as np
import pytest

from pgbench.games import learners
from pgbench.games.estimators import (
    dense_cumulative,
    dice_derivatives,
    lola_cross_term,
    sparse_scores,
)
from pgbench.games.exact import derivatives, make_game
from pgbench.games.joint import GameSampler, joint_probs, joint_scores

H = 8
X = np.random.default_rng(5).normal(0, 0.8, 10)
VALUES = np.array([-6.0, -5.0, -7.5, -4.0, -8.0])


@pytest.fixture(scope="module")
def game():
    return make_game("ipd", horizon=H)


@pytest.fixture(scope="module")
def big_batch(game):
    return GameSampler(game, "cpu").batch(X, 60_000, seed=11, scores=True)


def z_scores(per_episode: np.ndarray, exact: np.ndarray) -> np.ndarray:
    se = per_episode.std(axis=0, ddof=1) / np.sqrt(len(per_episode))
    keep = se > 0
    return ((per_episode.mean(axis=0) - exact) / np.where(keep, se, 1.0))[keep]


def test_kernel_scores_equal_numpy_reference(big_batch):
    b = big_batch
    z = 2 * b.actions[..., 0] + b.actions[..., 1]
    ref = joint_scores(X, b.states.ravel(), z.ravel()).reshape(b.score.shape)
    np.testing.assert_allclose(b.score, ref, atol=1e-15)
    index, sigma, _ = sparse_scores(b)
    np.testing.assert_allclose(dense_cumulative(index, sigma), np.cumsum(b.score, 1), atol=1e-12)
    # the joint action frequencies in the start state follow the product distribution
    freq = np.bincount(z[:, 0], minlength=4) / len(z)
    p = joint_probs(X, [0])[0]
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / len(z)))


def test_serial_and_parallel_batches_are_identical(game):
    a = GameSampler(game, "serial").batch(X, 37, seed=4, scores=True)
    b = GameSampler(game, "parallel").batch(X, 37, seed=4, scores=True)
    for f in ("states", "actions", "rewards", "score"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


@pytest.mark.parametrize("baseline", ["none", "time", "value"])
@pytest.mark.parametrize("agent", [0, 1])
def test_dice_gradient_and_hessian_are_unbiased(big_batch, game, baseline, agent):
    d = derivatives(game, X, H)
    g, Hs = dice_derivatives(big_batch, agent, baseline, VALUES, per_episode=True)
    gm, Hm = dice_derivatives(big_batch, agent, baseline, VALUES)
    np.testing.assert_allclose(gm, g.mean(0), atol=1e-10)
    np.testing.assert_allclose(Hm, Hs.mean(0), atol=1e-10)
    zg, zh = z_scores(g, d.grad[agent]), z_scores(Hs.reshape(len(Hs), -1), d.hess[agent].ravel())
    # 10 and <= 100 entries: all within 4.5 standard errors, and no systematic offset
    assert np.abs(zg).max() < 4.5 and np.abs(zh).max() < 4.5
    assert abs(zh.mean()) < 4.5 / np.sqrt(len(zh)) + 0.3


def test_lola_pg_cross_term_is_the_dice_block_and_unbiased(big_batch, game):
    d = derivatives(game, X, H)
    for baseline in ("none", "time"):
        _, Hs = dice_derivatives(big_batch, 1, baseline, per_episode=True)
        cross = lola_cross_term(big_batch, 1, baseline)
        np.testing.assert_allclose(cross, Hs.mean(0)[:5, 5:], atol=1e-10)
        z = z_scores(Hs[:, :5, 5:].reshape(len(Hs), -1), d.hess[1][:5, 5:].ravel())
        assert np.abs(z).max() < 4.5


def test_baselines_cut_the_hessian_variance(big_batch):
    spread = {
        b: dice_derivatives(big_batch, 0, b, VALUES, per_episode=True)[1].std(0).mean()
        for b in ("none", "time")
    }
    assert spread["time"] < 0.7 * spread["none"]


@pytest.mark.parametrize("lookahead", [1, 2])
def test_lola_dice_step_is_the_chain_rule_of_the_lookahead(monkeypatch, game, lookahead):
    """With the sampled derivatives replaced by exact ones, the LOLA-DiCE step equals the
    finite-difference gradient of V^me(th_me, th_o after k opponent steps(th_me))."""

    def exact_dice(batch, agent, baseline="none", values=None, order=2, per_episode=False):
        d = derivatives(game, batch.x, H)
        return d.grad[agent], (d.hess[agent] if order == 2 else None)

    monkeypatch.setattr(learners, "dice_derivatives", exact_dice)
    hp = learners.LolaDiceParams(lookahead=lookahead, lr=1.0, inner_lr=0.4, episodes=2)
    ctx = learners.Context(game, 0, X.copy(), GameSampler(game, "cpu"), None, seed=0)
    step, _ = learners.lola_dice(ctx, 1, None, hp)  # agent 2 anticipates agent 1

    def objective(own):
        y = X.copy()
        y[5:] = own
        for _ in range(lookahead):
            y[:5] = y[:5] + hp.inner_lr * derivatives(game, y, H).grad[0, :5]
        return derivatives(game, y, H).value[1]

    h = 1e-5
    fd = np.array(
        [(objective(X[5:] + h * e) - objective(X[5:] - h * e)) / (2 * h) for e in np.eye(5)]
    )
    np.testing.assert_allclose(step, fd, atol=1e-6)


@pytest.mark.cudasim
def test_cuda_simulator_batch_equals_cpu(game):
    a = GameSampler(game, "serial").batch(X, 9, seed=2, scores=True)
    b = GameSampler(game, "cuda").batch(X, 9, seed=2, scores=True)
    for f in ("states", "actions", "rewards", "score"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
