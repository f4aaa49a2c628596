"""Tabular environments: MDP validation, the chain's dynamics, Garnet parameters and seeding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgbench import make_env
from pgbench.envs.tabular import tabular_env
from pgbench.errors import InvalidSpecError


def good_mdp():
    P = np.array(
        [
            [[0.5, 0.5], [1.0, 0.0]],
            [[0.2, 0.8], [0.0, 1.0]],
        ]
    )
    R = np.array([[0.0, 1.0], [-1.0, 2.0]])
    mu0 = np.array([0.3, 0.7])
    return P, R, mu0


def with_entry(arr, index, value):
    arr = arr.copy()
    arr[index] = value
    return arr


P0, R0, MU0 = good_mdp()

INVALID = {
    # name: (P, R, mu0, array the message must name)
    "P 2-d": (P0[:, :, 0], R0, MU0, "P"),
    "P not square": (np.full((2, 2, 3), 1 / 3), R0, MU0, "P"),
    "P negative": (with_entry(with_entry(P0, (0, 0, 0), -0.5), (0, 0, 1), 1.5), R0, MU0, "P"),
    "P row sum": (with_entry(P0, (1, 0, 1), 0.7), R0, MU0, "P"),
    "P NaN": (with_entry(P0, (0, 1, 0), np.nan), R0, MU0, "P"),
    "R shape": (P0, R0[:, :1], MU0, "R"),
    "R 1-d": (P0, R0.ravel(), MU0, "R"),
    "R NaN": (P0, with_entry(R0, (1, 1), np.nan), MU0, "R"),
    "R inf": (P0, with_entry(R0, (0, 0), np.inf), MU0, "R"),
    "mu0 shape": (P0, R0, np.array([0.2, 0.3, 0.5]), "mu0"),
    "mu0 negative": (P0, R0, np.array([-0.5, 1.5]), "mu0"),
    "mu0 sum": (P0, R0, np.array([0.5, 0.6]), "mu0"),
    "mu0 NaN": (P0, R0, np.array([np.nan, 1.0]), "mu0"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_mdp_arrays_are_rejected_naming_the_array(case):
    P, R, mu0, name = INVALID[case]
    # The message starts with the array's name ("P ...", "P[1, 0, :] ...", "mu0 ...").
    pattern = rf"^{name}\b"
    with pytest.raises(InvalidSpecError, match=pattern) as info:
        tabular_env("tabular", P, R, mu0, gamma=0.9, horizon=5)
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidSpecError, match=pattern):
        make_env("tabular", P=P, R=R, mu0=mu0)


def test_valid_mdp_is_accepted_and_copied():
    P, R, mu0 = good_mdp()
    env = make_env("tabular", P=P.tolist(), R=R, mu0=mu0, gamma=0.9, horizon=5)
    assert (env.n_states, env.n_actions, env.horizon, env.gamma) == (2, 2, 5, 0.9)
    P[0, 0, 0] = 99.0  # the env keeps its own copy
    assert env.tabular[0][0, 0, 0] == 0.5


def test_tabular_needs_all_arrays():
    P, R, _ = good_mdp()
    with pytest.raises(InvalidSpecError, match="mu0"):
        make_env("tabular", P=P, R=R)


def test_chain_dynamics():
    env = make_env("chain", n=3, slip=0.2)
    P, R, mu0 = env.tabular
    left, right = 0, 1
    expected_P = np.array(
        [
            [[0.8, 0.2, 0.0], [0.2, 0.8, 0.0]],
            [[0.8, 0.0, 0.2], [0.2, 0.0, 0.8]],
            [[0.0, 0.8, 0.2], [0.0, 0.2, 0.8]],
        ]
    )
    np.testing.assert_allclose(P, expected_P)
    np.testing.assert_array_equal(R, [[0.01, 0.0], [0.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(mu0, [1.0, 0.0, 0.0])
    assert R[0, left] > 0 and R[2, right] == 1.0
    assert (env.n_states, env.n_actions, env.gamma, env.horizon) == (3, 2, 0.95, 20)
    assert env.describe().startswith("chain(")


def test_chain_defaults():
    env = make_env("chain")
    assert (env.n_states, env.n_actions, env.gamma, env.horizon) == (5, 2, 0.95, 20)
    assert env.spec["slip"] == 0.1


@pytest.mark.parametrize(
    "params, word",
    [
        ({"n": 1}, "n"),
        ({"n": 2.5}, "n"),
        ({"n": True}, "n"),
        ({"n": "5"}, "n"),
        ({"slip": -0.1}, "slip"),
        ({"slip": 1.5}, "slip"),
        ({"slip": float("nan")}, "slip"),
        ({"slip": "a lot"}, "slip"),
        ({"small_reward": float("inf")}, "small_reward"),
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": 1.1}, "gamma"),
        ({"horizon": 0}, "horizon"),
    ],
)
def test_chain_rejects_bad_parameters(params, word):
    with pytest.raises(InvalidSpecError, match=word) as info:
        make_env("chain", **params)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "params, word",
    [
        ({"n_states": 0}, "n_states"),
        ({"n_states": 4.0}, "n_states"),
        ({"n_actions": 0}, "n_actions"),
        ({"branching": 0}, "branching"),
        ({"n_states": 3, "branching": 4}, "branching"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": None}, "seed"),
        ({"gamma": -0.5}, "gamma"),
        ({"horizon": 2.0}, "horizon"),
    ],
)
def test_garnet_rejects_bad_parameters(params, word):
    with pytest.raises(InvalidSpecError, match=word) as info:
        make_env("garnet", **params)
    assert "\n" not in str(info.value)


def test_garnet_defaults_and_structure():
    env = make_env("garnet")
    P, R, mu0 = env.tabular
    assert (env.n_states, env.n_actions, env.gamma, env.horizon) == (10, 3, 0.95, 20)
    assert P.shape == (10, 3, 10) and R.shape == (10, 3)
    assert np.all((P > 0).sum(axis=2) == 3)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)
    assert np.all((R >= 0) & (R < 1))
    np.testing.assert_array_equal(mu0, np.full(10, 0.1))


def test_garnet_is_determined_by_its_seed():
    def make(**params):
        return make_env("garnet", **params)

    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    for x, y in zip(a.tabular, b.tabular, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.tabular[0], c.tabular[0])
    assert not np.array_equal(a.tabular[1], c.tabular[1])
    # numpy integer seeds are the same seed.
    np.testing.assert_array_equal(make(seed=np.int64(3)).tabular[0], a.tabular[0])


@settings(max_examples=30, deadline=None)
@given(
    S=st.integers(1, 8),
    A=st.integers(1, 4),
    data=st.data(),
    seed=st.integers(0, 2**32),
)
def test_garnet_is_a_valid_mdp_for_any_parameters(S, A, data, seed):
    b = data.draw(st.integers(1, S))
    env = make_env("garnet", n_states=S, n_actions=A, branching=b, seed=seed, horizon=3)
    P, R, _ = env.tabular
    assert np.all((P > 0).sum(axis=2) <= b)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)
    assert np.all((R >= 0) & (R < 1))
