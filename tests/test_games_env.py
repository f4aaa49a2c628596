"""Iterated games as one-agent MDPs: ``ipd`` and ``matching-pennies`` against fixed opponents.

Oracles: the LOLA reference numbers at theta = 0 (REFERENCES.md), LOLA's closed-form
two-player value V = p0^T (I - gamma P)^-1 r written out independently here, and a
numpy simulation of the two-player game with sampled payoffs.
"""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.envs import games
from pgbench.errors import InvalidSpecError

GAMMA = 0.96
LONG = 2000  # gamma^LONG ~ 1e-36: the infinite-horizon numbers apply
REF_GRAD_AT_ZERO = np.array([-0.25, -1.5, -1.5, -1.5, -1.5])  # REFERENCES.md, IPD


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def env_and_policy(name="ipd", **params):
    env = pgbench.make_env(name, **params)
    return env, pgbench.make_policy("tabular-softmax", env)


def lola_values(p1_flat, p2_flat, th1, th2, gamma):
    """Both players' infinite-horizon values by LOLA's closed form (Foerster et al. 2018).

    p1_flat, p2_flat: payoffs of players 1 and 2 over joint actions (CC, CD, DC, DD),
    player 1's action first. th1, th2: (5,) sigmoid logits from each player's own view;
    player 2's are reordered to player 1's view (its CD is player 1's DC).
    """
    q1 = sigmoid(th1)
    q2 = sigmoid(np.asarray(th2)[[0, 1, 3, 2, 4]])

    def joint(x, y):
        return np.stack([x * y, x * (1 - y), (1 - x) * y, (1 - x) * (1 - y)], axis=-1)

    p0 = joint(q1[0], q2[0])  # (4,)
    P = joint(q1[1:], q2[1:])  # (4, 4): row = previous joint action
    M = p0 @ np.linalg.inv(np.eye(4) - gamma * P)
    return float(M @ p1_flat), float(M @ p2_flat)


# ---- conventions and payoffs ----------------------------------------------------------


def test_payoff_tables():
    ipd = games.ipd_payoffs()
    assert ipd.shape == (2, 2, 2)
    C, D = games.COOPERATE, games.DEFECT
    mine = {(C, C): -1, (C, D): -3, (D, C): 0, (D, D): -2}
    for (a, b), v in mine.items():
        assert ipd[0, a, b] == v
        assert ipd[1, b, a] == v  # symmetric game
    mp = games.matching_pennies_payoffs()
    np.testing.assert_array_equal(mp[0], [[1, -1], [-1, 1]])  # learning agent matches
    np.testing.assert_array_equal(mp[1], -mp[0])
    np.testing.assert_array_equal(games.own_view_payoff(ipd, 1), ipd[0])


def test_memory1_mdp_structure():
    logits = np.array([0.3, -1.0, 2.0, 0.5, -0.7])
    P, R, mu0 = games.memory1_mdp(games.ipd_payoffs(), logits)
    assert P.shape == (5, 2, 5) and R.shape == (5, 2)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-15)
    np.testing.assert_array_equal(mu0, [1, 0, 0, 0, 0])
    assert np.all(P[:, :, 0] == 0)  # the start state is never revisited
    # after own action a the next state is a joint action with own action a
    assert np.all(P[:, 0, 3:] == 0) and np.all(P[:, 1, 1:3] == 0)
    assert np.all((R >= -3) & (R <= 0))
    # our state CD (2) is the opponent's DC: it reads logits[3]
    np.testing.assert_allclose(P[2, 0, 1], sigmoid(logits[3]))
    np.testing.assert_allclose(P[3, 1, 3], sigmoid(logits[2]))
    q = sigmoid(logits[0])
    np.testing.assert_allclose(R[0], [-q - 3 * (1 - q), -2 * (1 - q)])


def test_named_opponents_behave_as_named():
    P, R, _ = games.memory1_mdp(games.ipd_payoffs(), games.opponent_logits("tit-for-tat"))
    # tit-for-tat copies our previous action: after our C (states CC, CD) it cooperates
    p_coop = P[:, 0, 1]
    np.testing.assert_allclose(p_coop, sigmoid([10, 10, 10, -10, -10]))
    P, R, _ = games.memory1_mdp(games.ipd_payoffs(), games.opponent_logits("always-defect"))
    np.testing.assert_allclose(R, [[-3, -2]] * 5, atol=1e-3)
    heads = games.opponent_logits("always-heads", "matching-pennies")
    np.testing.assert_array_equal(heads, games.opponent_logits("always-cooperate"))


def test_other_convention_round_trip_and_meaning():
    logits = np.array([0.1, 1.0, 2.0, 3.0, 4.0])  # start, CC, CD, DC, DD
    other = games.to_other_convention(logits)
    # other: start, DD, DC, CD, CC as log-odds of defecting
    np.testing.assert_array_equal(other, [-0.1, -4.0, -3.0, -2.0, -1.0])
    np.testing.assert_array_equal(games.from_other_convention(other), logits)
    np.testing.assert_allclose(sigmoid(other[4]), 1 - sigmoid(logits[1]))  # P(D | CC)
    other_pay = games.payoffs_to_other_convention(games.ipd_payoffs())
    np.testing.assert_array_equal(other_pay[0], [[-2, 0], [-3, -1]])
    np.testing.assert_array_equal(games.payoffs_to_other_convention(other_pay), games.ipd_payoffs())
    theta = games.memory1_to_tabular_theta(logits)
    assert theta.shape == (10,)
    np.testing.assert_array_equal(games.tabular_theta_to_memory1(theta), logits)


# ---- exact objective and gradient against the LOLA reference -------------------------


def test_uniform_ipd_value_matches_reference():
    for H in (LONG, 20):
        env, policy = env_and_policy(horizon=H)
        J = pgbench.exact_objective(env, policy, np.zeros(10))
        assert J == pytest.approx(-1.5 * (1 - GAMMA**H) / (1 - GAMMA), abs=1e-10)
    assert J != pytest.approx(-37.5)
    env, policy = env_and_policy(horizon=LONG)
    assert pgbench.exact_objective(env, policy, np.zeros(10)) == pytest.approx(-37.5, abs=1e-10)


def test_gradient_at_zero_matches_reference():
    env, policy = env_and_policy(horizon=LONG)
    grad = pgbench.exact_gradient(env, policy, np.zeros(10)).reshape(5, 2)
    np.testing.assert_allclose(grad[:, games.COOPERATE], REF_GRAD_AT_ZERO, atol=1e-10)
    # finite horizon: the start logit is unchanged, the others sum gamma^t over t = 1 .. H-1
    H = 20
    env, policy = env_and_policy(horizon=H)
    grad = pgbench.exact_gradient(env, policy, np.zeros(10)).reshape(5, 2)
    tail = -0.0625 * (GAMMA - GAMMA**H) / (1 - GAMMA)
    np.testing.assert_allclose(grad[:, 0], [-0.25, tail, tail, tail, tail], atol=1e-12)
    # in the other convention (log-odds of defecting, states reversed) the signs flip
    other = games.to_other_convention(REF_GRAD_AT_ZERO)
    np.testing.assert_array_equal(other, [0.25, 1.5, 1.5, 1.5, 1.5])


@pytest.mark.parametrize("name", ["ipd", "matching-pennies"])
def test_asymmetric_policies_match_lola_closed_form(name):
    rng = np.random.default_rng(7)
    th1, th2 = rng.normal(0, 1.5, 5), rng.normal(0, 1.5, 5)
    gamma = 0.96 if name == "ipd" else 0.9
    pay = games.ipd_payoffs() if name == "ipd" else games.matching_pennies_payoffs()
    p1_flat, p2_flat = pay[0].ravel(), pay[1].ravel()
    V1, V2 = lola_values(p1_flat, p2_flat, th1, th2, gamma)

    env, policy = env_and_policy(name, opponent=list(th2), horizon=LONG)
    theta1 = games.memory1_to_tabular_theta(th1)
    assert pgbench.exact_objective(env, policy, theta1) == pytest.approx(V1, abs=1e-9)

    # the opponent's value: swap roles (its own-view payoff, our logits as its opponent)
    P, R, mu0 = games.memory1_mdp(games.own_view_payoff(pay, 1), th1)
    env2 = pgbench.make_env("tabular", P=P, R=R, mu0=mu0, gamma=gamma, horizon=LONG)
    policy2 = pgbench.make_policy("tabular-softmax", env2)
    theta2 = games.memory1_to_tabular_theta(th2)
    assert pgbench.exact_objective(env2, policy2, theta2) == pytest.approx(V2, abs=1e-9)

    # naive-learner gradient d V1 / d th1 by central differences of the closed form
    h = 1e-6
    fd = np.array(
        [
            (
                lola_values(p1_flat, p2_flat, th1 + h * e, th2, gamma)[0]
                - lola_values(p1_flat, p2_flat, th1 - h * e, th2, gamma)[0]
            )
            / (2 * h)
            for e in np.eye(5)
        ]
    )
    grad = pgbench.exact_gradient(env, policy, theta1).reshape(5, 2)
    np.testing.assert_allclose(grad[:, 0], fd, atol=1e-6)


# ---- sampled-payoff simulation of the two-player game --------------------------------


def simulate_two_player(payoff1, pi1, opp_logits, gamma, H, n, rng):
    """Discounted returns (n,) of player 1 with SAMPLED payoffs, both players simulated.

    pi1 (5, 2): player 1's action probabilities per state of its own view;
    opp_logits (5,): player 2's P(action 0) logits per state of ITS own view.
    """
    s1 = np.zeros(n, dtype=np.int64)  # each player tracks its own view of the history
    s2 = np.zeros(n, dtype=np.int64)
    ret = np.zeros(n)
    for t in range(H):
        a = (rng.random(n) >= pi1[s1, 0]).astype(np.int64)
        b = (rng.random(n) >= sigmoid(opp_logits[s2])).astype(np.int64)
        ret += gamma**t * payoff1[a, b]
        s1, s2 = 1 + 2 * a + b, 1 + 2 * b + a
    return ret


@pytest.mark.parametrize("name", ["ipd", "matching-pennies"])
def test_sampled_payoff_simulation_matches_exact_objective(name):
    rng = np.random.default_rng(11)
    theta = rng.normal(0, 1, 10)
    opp = rng.normal(0, 1.5, 5)
    env, policy = env_and_policy(name, opponent=opp.tolist(), horizon=20)
    pay = games.ipd_payoffs() if name == "ipd" else games.matching_pennies_payoffs()
    pi1 = policy.probs_ref(theta, np.arange(5))
    ret = simulate_two_player(pay[0], pi1, opp, env.gamma, env.horizon, 40_000, rng)
    J = pgbench.exact_objective(env, policy, theta)
    se = ret.std(ddof=1) / np.sqrt(ret.size)
    assert abs(ret.mean() - J) < 4 * se


# ---- kernels run on the games ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, opponent", [("ipd", "tit-for-tat"), ("matching-pennies", [0.5, -1, 0, 1, 2])]
)
def test_rollout_and_estimate_smoke(name, opponent):
    env, policy = env_and_policy(name, opponent=opponent, horizon=12)
    theta = np.linspace(-1, 1, 10)
    batch = pgbench.rollout(env, policy, theta, episodes=16, seed=3)
    assert batch.actions.shape == (16, 12)
    assert np.all(batch.lengths == 12)
    s = batch.obs[..., 0].astype(np.int64)
    assert np.all(s[:, 0] == 0) and np.all(s[:, 1:] >= 1)
    np.testing.assert_array_equal(s[:, 1:] - 1 >> 1, batch.actions[:, :-1])  # own action first
    R = env.tabular[1]
    np.testing.assert_array_equal(batch.rewards, R[s, batch.actions])
    grad = pgbench.estimate("reward-to-go", env, policy, theta, episodes=32, seed=0)
    assert grad.shape == (10,) and np.all(np.isfinite(grad))


def test_defaults_and_spec():
    env = pgbench.make_env("ipd")
    assert (env.gamma, env.horizon, env.n_states, env.n_actions) == (0.96, 150, 5, 2)
    assert pgbench.make_env("matching-pennies").gamma == 0.9
    assert env.spec["opponent"] == "uniform"
    assert pgbench.make_env("ipd", opponent=[0] * 5).spec["opponent"] == "custom"


# ---- parameter validation -----------------------------------------------------------------

BAD = [
    ("ipd", {"opponent": [0.0] * 4}, "5 logits"),
    ("ipd", {"opponent": [[0.0] * 5]}, "5 logits"),
    ("ipd", {"opponent": [0, 0, np.nan, 0, 0]}, "finite"),
    ("ipd", {"opponent": ["a"] * 5}, "policy name or 5 logits"),
    ("ipd", {"opponent": "tit-for-tatt"}, "did you mean 'tit-for-tat'"),
    ("matching-pennies", {"opponent": "always-head"}, "did you mean 'always-heads'"),
    ("ipd", {"gamma": 0.0}, "gamma"),
    ("ipd", {"gamma": "high"}, "gamma"),
    ("matching-pennies", {"gamma": 1.5}, "gamma"),
    ("ipd", {"horizon": 0}, "horizon"),
    ("matching-pennies", {"horizon": 2.5}, "horizon"),
    ("ipd", {"opponents": "uniform"}, "no parameter 'opponents'"),
]


@pytest.mark.parametrize("name, params, message", BAD)
def test_bad_parameters_give_one_line_errors(name, params, message):
    with pytest.raises(InvalidSpecError, match=message) as info:
        pgbench.make_env(name, **params)
    assert "\n" not in str(info.value)
