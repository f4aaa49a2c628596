"""Actor-critic forms (Q, advantage, TD error) against exact gradients on tabular MDPs."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.estimators.critics import split_budget
from pgbench.registry import ESTIMATORS
from tests.conftest import estimate_error

FORMS = ["q-critic", "advantage-critic", "td-critic"]
BACKEND = "serial"  # many small batches: no thread start-up per call; same numbers as "cpu"


def _estimates(name, env, pol, theta, repeats, episodes, seed0=1000, **params):
    """(repeats, P) independent estimates (seeds seed0, seed0 + 1, ...)."""
    return np.stack(
        [
            pgbench.estimate(
                name, env, pol, theta, episodes, seed=seed0 + r, backend=BACKEND, **params
            )
            for r in range(repeats)
        ]
    )


@pytest.mark.parametrize("env_name", ["chain", "garnet"])
@pytest.mark.parametrize("form", FORMS)
def test_exact_critic_forms_are_unbiased(form, env_name, request):
    """Mean of 200 estimates of 100 episodes within 4 standard errors, per coordinate."""
    env, pol = request.getfixturevalue(env_name)
    theta = pol.init(7)
    exact = pgbench.exact_gradient(env, pol, theta)
    est = _estimates(form, env, pol, theta, repeats=200, episodes=100, critic="exact")
    mean = est.mean(axis=0)
    se = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    z = (mean - exact) / np.maximum(se, 1e-300)
    assert np.all(np.abs(z[se > 0]) < 4), z
    np.testing.assert_allclose(mean[se == 0], exact[se == 0], atol=1e-12)


def test_advantage_and_td_forms_have_lower_variance_than_q(garnet):
    """With the exact critic, subtracting V (and replacing A by delta) cuts the variance here."""
    env, pol = garnet
    theta = pol.init(7)
    var = {
        form: _estimates(form, env, pol, theta, 100, 50, critic="exact").var(axis=0).sum()
        for form in FORMS
    }
    assert var["advantage-critic"] < 0.5 * var["q-critic"], var


@pytest.mark.parametrize("env_name", ["chain", "garnet"])
@pytest.mark.parametrize("critic", ["lstd", "mc"])
@pytest.mark.parametrize("form", FORMS)
def test_fitted_critics_converge_with_the_fitting_budget(form, critic, env_name, request):
    """One-hot (t, s[, a]) critics fitted on 30, 300, 3000 episodes, the gradient batch fixed.

    The gradient batch (1000 episodes, seed [seed, 0]) is the same for every fitting
    budget and for the exact critic, so the difference to the exact-critic estimate is
    the critic's error alone; it falls toward 0 as the fitting budget grows.
    """
    env, pol = request.getfixturevalue(env_name)
    theta = pol.init(7)
    scale = np.linalg.norm(pgbench.exact_gradient(env, pol, theta))
    n_grad = 1000
    paired = pgbench.estimate(
        form, env, pol, theta, n_grad, seed=5, critic="exact", backend=BACKEND
    )
    errors = []
    for n_fit in (30, 300, 3000):
        total = n_grad + n_fit
        assert split_budget(total, n_fit / total) == (n_fit, n_grad)
        g = pgbench.estimate(
            form,
            env,
            pol,
            theta,
            total,
            seed=5,
            critic=critic,
            fit_fraction=n_fit / total,
            backend=BACKEND,
        )
        errors.append(np.linalg.norm(g - paired) / scale)
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.15, errors


@pytest.mark.parametrize("form", FORMS)
def test_td0_reaches_the_lstd_fixed_point_on_one_hot_features(form, garnet):
    """With (t, s[, a]) one-hot features and step 1, H batch TD(0) updates solve the
    time-indexed system exactly (backward from t = H-1), i.e. they give LSTD(0)."""
    env, pol = garnet
    theta = pol.init(7)

    def run(**params):
        return pgbench.estimate(form, env, pol, theta, 400, seed=2, backend=BACKEND, **params)

    lstd = run(critic="lstd", ridge=1e-12)
    td0 = run(critic="td0", ridge=1e-12, td_iterations=env.horizon)
    np.testing.assert_allclose(td0, lstd, rtol=1e-9, atol=1e-12)
    few = run(critic="td0", ridge=1e-12, td_iterations=2)
    assert not np.allclose(few, lstd, rtol=1e-3)
    half = run(critic="td0", td_step_size=0.5, td_iterations=3)
    assert np.all(np.isfinite(half))


def test_unbiased_flag_depends_on_the_critic(chain):
    env, pol = chain
    theta = pol.init(7)
    for form in FORMS:
        assert ESTIMATORS.get(form).bias_note
        _, info = pgbench.estimate(form, env, pol, theta, 10, seed=1, critic="exact", info=True)
        assert info["unbiased"] is True and info["episodes"] == 10
        _, info = pgbench.estimate(form, env, pol, theta, 10, seed=1, info=True)  # lstd default
        assert info["unbiased"] is False and info["episodes"] == 10  # 5 to fit, 5 for g


def test_budget_split():
    assert split_budget(10, 0.5) == (5, 5)
    assert split_budget(2, 0.01) == (1, 1)
    assert split_budget(2, 0.99) == (1, 1)
    assert split_budget(100, 0.25) == (25, 75)


@pytest.mark.parametrize("critic", ["td0", "lstd", "mc"])
@pytest.mark.parametrize("form", FORMS)
def test_cartpole_smoke(form, critic, cartpole):
    """Linear (x, 1) critics on CartPole: finite, deterministic, costs counted."""
    from tests.conftest import WOBBLY_THETA

    env, pol = cartpole
    g, info = pgbench.estimate(form, env, pol, WOBBLY_THETA, 16, seed=3, critic=critic, info=True)
    assert g.shape == (pol.n_params,) and np.all(np.isfinite(g))
    assert info["episodes"] == 16 and info["unbiased"] is False
    again = pgbench.estimate(form, env, pol, WOBBLY_THETA, 16, seed=3, critic=critic)
    np.testing.assert_array_equal(g, again)


def test_exact_critic_on_cartpole_is_aestimate_error(cartpole):
    env, pol = cartpole
    msg = estimate_error(NoExactFormError, "td-critic", env, pol, pol.init(0), 8, 1, critic="exact")
    assert "critic='exact'" in msg and "cartpole-v1" in msg


@pytest.mark.parametrize(
    "params, match",
    [
        ({"critic": "sarsa"}, "critic"),
        ({"fit_fraction": 1.0}, "fit_fraction"),
        ({"fit_fraction": 0.0}, "fit_fraction"),
        ({"td_step_size": 0.0}, "td_step_size"),
        ({"td_iterations": 0}, "td_iterations"),
        ({"ridge": -1.0}, "ridge"),
        ({"features": "rbf"}, "features"),
    ],
)
def test_bad_params_are_one_line_errors(params, match, chain):
    env, pol = chain
    msg = estimate_error(InvalidSpecError, "q-critic", env, pol, pol.init(0), 8, 1, **params)
    assert match in msg and "q-critic" in msg


def test_a_fitted_critic_needs_two_episodes(chain):
    env, pol = chain
    msg = estimate_error(InvalidSpecError, "advantage-critic", env, pol, pol.init(0), 1, 1)
    assert "at least 2 episodes" in msg
    pgbench.estimate("advantage-critic", env, pol, pol.init(0), 1, 1, critic="exact")
