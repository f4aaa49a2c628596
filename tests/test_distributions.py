"""Batched distributions of all four policies against closed forms, finite differences,
explicit Fisher matrices and the lane cores."""

from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np
import pytest
from scipy import stats

import pgbench
from pgbench.kernels.build import target_lib
from pgbench.policies import gaussian
from tests.test_gaussian_policy import point_mass_env

N = 40
CASES = ["tabular", "linear", "mlp-1", "mlp-2", "gaussian-linear", "gaussian-mlp"]


@dataclasses.dataclass
class Case:
    pol: object
    theta: np.ndarray
    theta_old: np.ndarray
    obs: np.ndarray
    actions: np.ndarray

    @property
    def continuous(self) -> bool:
        return self.pol.continuous

    def dist(self, theta):
        return self.pol.distributions(theta, self.obs)

    def log_prob_ref(self, theta) -> np.ndarray:
        if self.continuous:
            mu = self.pol.probs_ref(theta, self.obs)[:, 0]
            return stats.norm.logpdf(self.actions, loc=mu, scale=math.exp(theta[-1]))
        p = self.pol.probs_ref(theta, self.obs)
        return np.log(p[np.arange(len(self.actions)), self.actions])


def _make_case(name: str) -> Case:
    rng = np.random.default_rng(CASES.index(name))
    if name == "tabular":
        env = pgbench.make_env("garnet", n_states=5, n_actions=3, seed=1)
        pol = pgbench.make_policy("tabular-softmax", env)
        obs = rng.integers(0, 5, size=(N, 1)).astype(float)
    elif name.startswith("gaussian"):
        hidden = [] if name == "gaussian-linear" else [5, 3]
        pol = pgbench.make_policy("gaussian", point_mass_env(), hidden=hidden, log_std_init=-0.2)
        obs = rng.normal(size=(N, 2))
    else:
        env = dataclasses.replace(pgbench.make_env("cartpole-v1"), n_actions=3)
        if name == "linear":
            pol = pgbench.make_policy("linear-softmax", env)
        else:
            pol = pgbench.make_policy("mlp-softmax", env, hidden=[4] if name == "mlp-1" else [5, 3])
        obs = rng.normal(size=(N, 4))
    theta = pol.init(0) + 0.7 * rng.normal(size=pol.n_params)
    theta_old = theta + 0.3 * rng.normal(size=pol.n_params)
    if pol.continuous:
        mu = pol.probs_ref(theta, obs)[:, 0]
        actions = mu + math.exp(theta[-1]) * rng.normal(size=N)
    else:
        p = pol.probs_ref(theta, obs)
        actions = (rng.random(N)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
        actions = np.minimum(actions, pol.n_actions - 1).astype(np.int64)
    return Case(pol, theta, theta_old, obs, actions)


@pytest.fixture(scope="module", params=CASES)
def case(request) -> Case:
    return _make_case(request.param)


def test_log_prob_entropy_mode_match_closed_forms(case):
    dist = case.dist(case.theta)
    assert dist.n == N
    np.testing.assert_allclose(
        dist.log_prob(case.actions), case.log_prob_ref(case.theta), rtol=1e-12, atol=1e-12
    )
    if case.continuous:
        mu = case.pol.probs_ref(case.theta, case.obs)[:, 0]
        ent = stats.norm(scale=math.exp(case.theta[-1])).entropy()
        np.testing.assert_allclose(dist.entropy(), np.full(N, ent), rtol=1e-13)
        np.testing.assert_allclose(dist.mode(), mu, rtol=1e-12, atol=1e-14)
    else:
        p = case.pol.probs_ref(case.theta, case.obs)
        np.testing.assert_allclose(dist.entropy(), -(p * np.log(p)).sum(axis=1), rtol=1e-12)
        np.testing.assert_array_equal(dist.mode(), p.argmax(axis=1))
        assert dist.mode().dtype == np.int64


def test_kl_matches_closed_form(case):
    new, old = case.dist(case.theta), case.dist(case.theta_old)
    kl = new.kl(old)
    np.testing.assert_allclose(new.kl(new), 0.0, atol=1e-14)
    if case.continuous:
        m1 = case.pol.probs_ref(case.theta, case.obs)[:, 0]
        m2 = case.pol.probs_ref(case.theta_old, case.obs)[:, 0]
        s1, s2 = math.exp(case.theta[-1]), math.exp(case.theta_old[-1])
        ref = np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    else:
        p = case.pol.probs_ref(case.theta, case.obs)
        q = case.pol.probs_ref(case.theta_old, case.obs)
        ref = (p * np.log(p / q)).sum(axis=1)
    np.testing.assert_allclose(kl, ref, rtol=1e-10, atol=1e-14)
    assert np.all(kl >= 0)


def test_gaussian_kl_and_entropy_by_monte_carlo():
    c = _make_case("gaussian-mlp")
    new, old = c.dist(c.theta), c.dist(c.theta_old)
    rng = np.random.default_rng(7)
    M = 20000
    n = 3  # one observation: actions drawn from pi_new(. | s_n)
    obs = np.repeat(c.obs[n : n + 1], M, axis=0)
    a = new.mu[n] + new.std * rng.normal(size=M)
    d_new, d_old = c.pol.distributions(c.theta, obs), c.pol.distributions(c.theta_old, obs)
    log_ratio = d_new.log_prob(a) - d_old.log_prob(a)
    se = log_ratio.std() / math.sqrt(M)
    assert abs(log_ratio.mean() - new.kl(old)[n]) < 4 * se
    neg_logp = -d_new.log_prob(a)
    assert abs(neg_logp.mean() - new.entropy()[n]) < 4 * neg_logp.std() / math.sqrt(M)


def _objective(case, theta, w, w_ent, w_kl):
    dist = case.dist(theta)
    old = case.dist(case.theta_old)
    return (
        w @ dist.log_prob(case.actions) + w_ent * dist.entropy().sum() + w_kl * old.kl(dist).sum()
    )


@pytest.mark.parametrize(
    ("w_ent", "w_kl"), [(0.0, 0.0), (0.3, 0.0), (0.0, -0.7), (0.2, 0.5)], ids=str
)
def test_grad_is_the_gradient_of_the_objective(case, w_ent, w_kl):
    w = np.random.default_rng(2).normal(size=N)
    dist = case.dist(case.theta)
    old = case.dist(case.theta_old)
    g = dist.grad(case.actions, w, w_ent=w_ent, old=old, w_kl=w_kl)
    assert g.shape == (case.pol.n_params,)
    h = 1e-6
    fd = np.empty_like(g)
    for k in range(case.pol.n_params):
        e = np.zeros_like(g)
        e[k] = h
        fd[k] = (
            _objective(case, case.theta + e, w, w_ent, w_kl)
            - _objective(case, case.theta - e, w, w_ent, w_kl)
        ) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)


def test_grad_of_log_probs_is_the_weighted_sum_of_reference_scores(case):
    w = np.random.default_rng(3).normal(size=N)
    g = case.dist(case.theta).grad(case.actions, w)
    ref = w @ case.pol.score_ref(case.theta, case.obs, case.actions)
    np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-12)


def _kl_grad(case, theta_prime):
    """grad over theta' of (1/N) sum_n KL(pi_theta(.|s_n) || pi_theta'(.|s_n))."""
    dist = case.dist(theta_prime)
    return dist.grad(case.actions, np.zeros(N), old=case.dist(case.theta), w_kl=1.0 / N)


def test_fvp_is_the_hessian_of_the_mean_kl(case):
    rng = np.random.default_rng(4)
    dist = case.dist(case.theta)
    h = 1e-5
    for _ in range(3):
        v = rng.normal(size=case.pol.n_params)
        fd = (_kl_grad(case, case.theta + h * v) - _kl_grad(case, case.theta - h * v)) / (2 * h)
        np.testing.assert_allclose(dist.fvp(v), fd, rtol=1e-6, atol=1e-8)


def _explicit_fisher(case) -> np.ndarray:
    """(P, P) (1/N) sum_n E_{a ~ pi(.|s_n)}[score score^T] from the numpy score reference:
    an exact sum over actions, or 20-point Gauss-Hermite quadrature (exact for the
    Gaussian's polynomial integrand)."""
    pol, theta, obs = case.pol, case.theta, case.obs
    F = np.zeros((pol.n_params, pol.n_params))
    if case.continuous:
        z, wq = np.polynomial.hermite_e.hermegauss(20)
        wq = wq / wq.sum()
        mu = pol.probs_ref(theta, obs)[:, 0]
        for zk, wk in zip(z, wq, strict=True):
            s = pol.score_ref(theta, obs, mu + math.exp(theta[-1]) * zk)
            F += wk * s.T @ s
    else:
        p = pol.probs_ref(theta, obs)
        for a in range(pol.n_actions):
            s = pol.score_ref(theta, obs, np.full(N, a))
            F += (p[:, a, None] * s).T @ s
    return F / N


def test_fvp_matches_the_explicit_fisher(case):
    F = _explicit_fisher(case)
    dist = case.dist(case.theta)
    columns = np.stack([dist.fvp(e) for e in np.eye(case.pol.n_params)], axis=1)
    np.testing.assert_allclose(columns, F, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(columns, columns.T, rtol=1e-9, atol=1e-12)


@numba.njit
def _lane_log_probs(log_prob, theta, obs, actions, W):
    n = obs.shape[1]
    scratch = np.zeros((W, n))
    out = np.zeros(n)
    for j in range(n):
        out[j] = log_prob(theta, obs, j, actions[j], scratch)
    return out


def test_lane_cores_and_batched_log_probs_agree(case):
    lib = target_lib("serial")
    log_prob = lib.jit(case.pol.make_cores(lib).log_prob)
    W = max(case.pol.n_actions, case.pol.scratch_rows, 1)
    lane = _lane_log_probs(log_prob, case.theta, np.ascontiguousarray(case.obs.T), case.actions, W)
    np.testing.assert_allclose(
        case.dist(case.theta).log_prob(case.actions), lane, rtol=1e-12, atol=1e-12
    )


def test_large_network_fvp_by_finite_differences():
    """The CartPole-sized 64x64 network: fvp and grad against directional differences."""
    env = pgbench.make_env("cartpole-v1")
    pol = pgbench.make_policy("mlp-softmax", env)
    rng = np.random.default_rng(5)
    theta = pol.init(1) + 0.05 * rng.normal(size=pol.n_params)
    obs = rng.normal(size=(64, 4))
    actions = rng.integers(0, 2, size=64)
    dist = pol.distributions(theta, obs)
    v = rng.normal(size=pol.n_params)
    w = rng.normal(size=64)
    h = 1e-6

    def lp(th):
        return w @ pol.distributions(th, obs).log_prob(actions)

    g = dist.grad(actions, w)
    assert g @ v == pytest.approx((lp(theta + h * v) - lp(theta - h * v)) / (2 * h), rel=1e-6)

    def kl_grad(th):
        return pol.distributions(th, obs).grad(actions, np.zeros(64), old=dist, w_kl=1 / 64)

    fd = (kl_grad(theta + h * v) - kl_grad(theta - h * v)) / (2 * h)
    np.testing.assert_allclose(dist.fvp(v), fd, rtol=1e-5, atol=1e-7)


def test_gaussian_log_prob_reference_helper():
    c = _make_case("gaussian-linear")
    np.testing.assert_allclose(
        gaussian.log_prob_ref(c.theta, c.obs, c.actions, 2, ()), c.log_prob_ref(c.theta), rtol=1e-12
    )
