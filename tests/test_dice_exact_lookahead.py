"""The noise-free LOLA-DiCE script (``benchmarks/dice_exact_lookahead.py``): its step is the
gradient of the k-step lookahead objective (oracle: central finite differences of that
objective, built from exact values and gradients, no Hessians), and with k = 0 it is the
naive exact gradient."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import dice_exact_lookahead as dx
from pgbench.games.exact import derivatives, make_game

GAME = make_game("ipd")
X = np.array([0.3, -0.5, 0.8, 0.1, -0.2, -0.4, 0.6, 0.2, -0.7, 0.5])


def lookahead_value(x: np.ndarray, agent: int, k: int, alpha: float) -> float:
    """V^agent (150 rounds) after k naive exact-gradient steps of the opponent (no Hessian)."""
    other = slice(5, 10) if agent == 0 else slice(0, 5)
    y = x.copy()
    for _ in range(k):
        y[other] = y[other] + alpha * derivatives(GAME, y, dx.HORIZON).grad[1 - agent, other]
    return float(derivatives(GAME, y, dx.HORIZON).value[agent])


@pytest.mark.parametrize(("agent", "k"), [(0, 2), (1, 3)])
def test_step_is_the_gradient_of_the_lookahead_objective(agent, k):
    alpha, lr = 0.3, 1.0
    step = dx.lookahead_step(GAME, X, agent, k, alpha, lr)
    me = slice(0, 5) if agent == 0 else slice(5, 10)
    h = 1e-4
    fd = np.zeros(5)
    for i, e in enumerate(np.eye(5)):
        up, down = X.copy(), X.copy()
        up[me] += h * e
        down[me] -= h * e
        fd[i] = (lookahead_value(up, agent, k, alpha) - lookahead_value(down, agent, k, alpha)) / (
            2 * h
        )
    np.testing.assert_allclose(step, fd, rtol=1e-4, atol=1e-4)
    naive = derivatives(GAME, X, dx.HORIZON).grad[agent, me]
    assert np.abs(step - naive).max() > 0.05  # the lookahead changes the step at this point


def test_zero_lookahead_is_the_naive_gradient():
    step = dx.lookahead_step(GAME, X, 1, 0, 0.3, 0.2)
    np.testing.assert_allclose(step, 0.2 * derivatives(GAME, X, dx.HORIZON).grad[1, 5:])


def test_run_starts_where_play_starts():
    curve = dx.run(1, 0.3, seed=3, iterations=2)
    rng = [np.random.default_rng(np.random.SeedSequence([3, a])) for a in (0, 1)]
    x0 = np.concatenate([0.4 * r.standard_normal(5) for r in rng])
    assert curve.shape == (3,)
    assert curve[0] == pytest.approx(derivatives(GAME, x0).per_step(GAME.gamma).mean())
