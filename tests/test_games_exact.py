"""Exact two-agent values and derivatives (pgbench.games.exact) against independent oracles:
the LOLA reference numbers, finite differences, the one-agent tabular solver, and the
infinite-horizon closed form against the finite-horizon recursion."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.envs import games as envgames
from pgbench.errors import InvalidSpecError
from pgbench.games.exact import derivatives, lola_exact_update, make_game

REF_GRAD_AT_ZERO = np.array([-0.25, -1.5, -1.5, -1.5, -1.5])  # REFERENCES.md, IPD


def fd_grad(f, x, h=1e-5):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(3).normal(0, 1.2, 10)


def test_ipd_at_zero_matches_reference():
    d = derivatives(make_game("ipd"), np.zeros(10))
    np.testing.assert_allclose(d.value, [-37.5, -37.5], atol=1e-12)
    np.testing.assert_allclose(d.per_step(0.96), [-1.5, -1.5], atol=1e-12)
    np.testing.assert_allclose(d.grad[0, :5], REF_GRAD_AT_ZERO, atol=1e-12)
    np.testing.assert_allclose(d.grad[1, 5:], REF_GRAD_AT_ZERO, atol=1e-12)  # symmetric game
    assert pgbench.exact_objective("ipd", np.zeros(5), np.zeros(5)) == pytest.approx(-37.5)
    g1, g2 = pgbench.exact_gradient("ipd", np.zeros(5), np.zeros(5))
    np.testing.assert_allclose(g1, REF_GRAD_AT_ZERO, atol=1e-12)
    np.testing.assert_allclose(g2, REF_GRAD_AT_ZERO, atol=1e-12)


@pytest.mark.parametrize("name", ["ipd", "matching-pennies"])
@pytest.mark.parametrize("horizon", [None, 7])
def test_gradient_and_hessian_equal_finite_differences(name, horizon, x):
    game = make_game(name)
    d = derivatives(game, x, horizon)
    fd = fd_grad(lambda y: derivatives(game, y, horizon).value, x)  # (10, 2)
    np.testing.assert_allclose(d.grad, fd.T, atol=1e-7)
    fd_h = fd_grad(lambda y: derivatives(game, y, horizon).grad, x)  # (10, 2, 10)
    np.testing.assert_allclose(d.hess, np.moveaxis(fd_h, 1, 0), atol=1e-7)
    np.testing.assert_allclose(d.hess, d.hess.transpose(0, 2, 1), atol=1e-12)


def test_finite_horizon_recursion_tends_to_closed_form(x):
    game = make_game("ipd")
    inf, fin = derivatives(game, x), derivatives(game, x, 3000)
    for a, b in ((inf.value, fin.value), (inf.grad, fin.grad), (inf.hess, fin.hess)):
        np.testing.assert_allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("name", ["ipd", "matching-pennies"])
def test_values_equal_one_agent_tabular_solver(name, x):
    """V^1 against agent 2 held fixed is the one-agent env's exact objective (another code path)."""
    H = 25
    game = make_game(name)
    env = pgbench.make_env(name, opponent=list(x[5:]), horizon=H)
    pol = pgbench.make_policy("tabular-softmax", env)
    theta = envgames.memory1_to_tabular_theta(x[:5])
    d = derivatives(game, x, H)
    assert d.value[0] == pytest.approx(pgbench.exact_objective(env, pol, theta), abs=1e-10)
    grad = pgbench.exact_gradient(env, pol, theta).reshape(5, 2)[:, 0]
    np.testing.assert_allclose(d.grad[0, :5], grad, atol=1e-10)


@pytest.mark.parametrize("agent", [0, 1])
def test_lola_update_equals_finite_differences_of_lookahead(agent, x):
    """LOLA (Sec. 4.2): grad of V^k(th) + eta (grad_{th_o} V^k)_stop . grad_{th_o} V^o(th)."""
    game, eta = make_game("ipd"), 0.7
    me = slice(0, 5) if agent == 0 else slice(5, 10)
    other = slice(5, 10) if agent == 0 else slice(0, 5)
    d0 = derivatives(game, x)
    held = d0.grad[agent, other].copy()

    def lookahead(own):
        y = x.copy()
        y[me] = own
        d = derivatives(game, y)
        return d.value[agent] + eta * held @ d.grad[1 - agent, other]

    fd = fd_grad(lookahead, x[me].copy())
    np.testing.assert_allclose(lola_exact_update(d0, agent, eta), fd, atol=1e-6)


def test_api_accepts_a_game_and_both_thetas(x):
    v = pgbench.exact_objective("ipd", x[:5], x[5:])
    assert v.shape == (2,)
    np.testing.assert_allclose(v, derivatives(make_game("ipd"), x).value)
    v20 = pgbench.exact_objective("ipd", x[:5], x[5:], horizon=20)
    np.testing.assert_allclose(v20, derivatives(make_game("ipd"), x, 20).value)
    with pytest.raises(InvalidSpecError, match="did you mean 'ipd'") as info:
        pgbench.exact_objective("ipdd", x[:5], x[5:])
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidSpecError, match="theta2 must have shape"):
        pgbench.exact_gradient("ipd", x[:5], x[:4])
