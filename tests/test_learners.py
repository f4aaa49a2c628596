"""Learners and play(): registry, hyperparameter errors, history, determinism, and the
qualitative LOLA result (LOLA-Ex pairs end more cooperative than NL-Ex pairs)."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.errors import InvalidSpecError, UnknownNameError
from pgbench.games.playing import HISTORY_COLUMNS, is_tit_for_tat, tft_score
from pgbench.registry import LEARNERS

NAMES = ["lola-dice", "lola-exact", "lola-pg", "nl-exact", "nl-pg"]


def test_registry_lists_every_learner_with_a_citation():
    assert set(NAMES) <= set(LEARNERS.names())
    for name in NAMES:
        learner = LEARNERS.get(name)
        assert "LOLA" in learner.citation or "DiCE" in learner.citation
        assert learner.fn.__doc__ and learner.summary
        assert learner.sampled == name.endswith(("-pg", "-dice"))


def test_lola_exact_pairs_end_more_cooperative_than_naive_pairs():
    def final(pair):
        out = []
        for seed in range(6):
            h = pgbench.play("ipd", pair, pair, 120, seed).history
            out.append(h[h.iteration == 120].reward.mean())
        return np.array(out)

    nl, lola = final("nl-exact"), final("lola-exact")
    assert np.all(nl < -1.9)
    assert lola.mean() > nl.mean() + 0.5


def test_matching_pennies_lola_stays_at_the_mixed_equilibrium():
    r = pgbench.play("matching-pennies", "lola-exact", "lola-exact", 150, 1)
    h = r.history[r.history.iteration == 150]
    assert np.all(np.abs(h.reward) < 0.05)
    assert np.all(np.abs(h[["p_CC", "p_CD", "p_DC", "p_DD"]].to_numpy() - 0.5) < 0.1)


def test_history_shape_and_sampled_determinism():
    kw = dict(horizon=10, episodes=16, backend="serial")
    a = pgbench.play("ipd", "lola-pg", {"name": "lola-dice", "params": {"episodes": 8}}, 3, 5, **kw)
    b = pgbench.play("ipd", "lola-pg", ("lola-dice", {"episodes": 8}), 3, 5, **kw)
    assert list(a.history.columns) == list(HISTORY_COLUMNS)
    assert len(a.history) == 2 * 4 and a.theta1.shape == (5,) == a.theta2.shape
    np.testing.assert_array_equal(a.theta1, b.theta1)
    np.testing.assert_array_equal(a.theta2, b.theta2)
    assert a.history.sampled_reward.iloc[:6].notna().all() and a.info["env_steps"] > 0


def test_tft_classifier():
    tft = 1 / (1 + np.exp(-np.array([10, 10, -10, 10, -10])))
    assert is_tit_for_tat(tft) and tft_score(tft) > 0.99
    assert not is_tit_for_tat(np.full(5, 0.01))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pgbench.play("ipd", "lola-exact", ("nl-exact", {"lr": -1}), 2, 0), "lr"),
        (lambda: pgbench.play("ipd", "lola-exact", ("nl-exact", {"lrr": 1}), 2, 0), "lrr"),
        (lambda: pgbench.play("ipd", "nl-pg", "nl-exact", 2, 0), "horizon"),
        (lambda: pgbench.play("ipd", "nl-exact", "nl-exact", 0, 0), "iterations"),
        (lambda: pgbench.play("ipd", "nl-exact", "nl-exact", 2, 0, theta1=[0, 0]), "theta1"),
        (lambda: pgbench.play("ipd", "nl-exact", "nl-exact", 2, 0, gamma=1.0), "gamma"),
    ],
)
def test_bad_arguments_are_one_line_errors(call, message):
    with pytest.raises(InvalidSpecError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_unknown_learner_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'lola-exact'"):
        pgbench.play("ipd", "lola-exakt", "nl-exact", 2, 0)
