"""Reference ranges of return (normalized scores across tasks): the measured random-policy
returns against Gymnasium's own envs, the rules that resolve an env's range, the suite's
override and its errors, and the settings a run records."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pgbench import exact, make_env, make_policy
from pgbench.envs import score_ranges as ranges
from pgbench.experiments import parse_suite
from pgbench.experiments.recorded import recorded_settings
from pgbench.registry import ENVS, ScoreRange
from pgbench.suite.errors import SuiteError
from pgbench.suite.score_ranges import ranges_from_settings, score_range
from pgbench.suite.specs import EnvSpec

gym = pytest.importorskip("gymnasium")


def random_returns(env_id: str, episodes: int, seed: int) -> np.ndarray:
    """Undiscounted returns of uniform random actions on Gymnasium's ``env_id``."""
    lanes = 8
    env = gym.make_vec(env_id, num_envs=lanes, vectorization_mode="sync")
    env.action_space.seed(seed)
    env.reset(seed=seed)
    done_before = np.zeros(lanes, dtype=bool)
    totals, out = np.zeros(lanes), []
    while len(out) < episodes:
        _, reward, term, trunc, _ = env.step(env.action_space.sample())
        totals += np.where(done_before, 0.0, reward)  # a lane's step after done resets it
        done = term | trunc
        out.extend(totals[done & ~done_before])
        totals[done & ~done_before] = 0.0
        done_before = done & ~done_before
    env.close()
    return np.asarray(out[:episodes])


# (native name, Gymnasium id, episodes here, episodes and standard error of the declared low)
MEASURED = [
    ("cartpole-v1", "CartPole-v1", 2000, 10_000, 0.12),
    ("acrobot-v1", "Acrobot-v1", 100, 2_000, 0.27),
    ("mountaincar-v0", "MountainCar-v0", 16, 1_000, 0.0),
    ("mountaincarcontinuous-v0", "MountainCarContinuous-v0", 48, 1_000, 0.15),
    ("pendulum-v1", "Pendulum-v1", 300, 4_000, 4.5),
]


def agrees(got: np.ndarray, declared: float, n_declared: int, declared_se: float) -> bool:
    """``got``'s mean is within 4 standard errors of ``declared`` (and its rounding). The
    standard error of ``got``'s mean is the larger of its own and the declared one's scaled
    to ``got``'s size: Acrobot's returns are -500 but for rare early successes, so a small
    sample may hold none and show no spread."""
    own = got.std(ddof=1) / math.sqrt(got.size)
    expected = declared_se * math.sqrt(n_declared / got.size)
    se = math.hypot(max(own, expected), declared_se)
    return abs(got.mean() - declared) <= 4 * se + 0.06


@pytest.mark.parametrize(("name", "gym_id", "episodes", "n_declared", "declared_se"), MEASURED)
def test_random_policy_lows_agree_with_a_fresh_measurement(
    name, gym_id, episodes, n_declared, declared_se
):
    declared = ENVS.get(name).score_range
    got = random_returns(gym_id, episodes, seed=12345)
    assert agrees(got, declared.low, n_declared, declared_se), (got.mean(), declared.low)
    assert ranges.gymnasium_range(gym_id) is declared


def test_highs_are_bounds_or_gymnasium_thresholds():
    assert ranges.CARTPOLE.high == gym.spec("CartPole-v1").max_episode_steps
    assert ranges.PENDULUM.high == 0.0
    for range_, gym_id in [
        (ranges.ACROBOT, "Acrobot-v1"),
        (ranges.MOUNTAIN_CAR, "MountainCar-v0"),
        (ranges.MOUNTAIN_CAR_CONTINUOUS, "MountainCarContinuous-v0"),
    ]:
        assert range_.high == gym.spec(gym_id).reward_threshold


def resolved(name: str, **params) -> ScoreRange | None:
    spec = EnvSpec(name=name, params=params)
    return score_range(spec, spec.build())


def test_a_parameter_that_changes_the_return_voids_the_declared_range():
    assert resolved("cartpole-v1") is ranges.CARTPOLE
    assert resolved("cartpole-v1", gamma=0.9) is ranges.CARTPOLE  # return-neutral
    assert resolved("cartpole-v1", horizon=500) is ranges.CARTPOLE  # the default, given
    assert resolved("cartpole-v1", horizon=200) is None
    assert resolved("pendulum-v1", g=9.81) is None


def test_gymnasium_ids_as_registered_take_the_table_of_ranges():
    assert resolved("gymnasium", id="CartPole-v1") is ranges.CARTPOLE
    assert resolved("gymnasium", id="CartPole-v1", max_lanes=4) is ranges.CARTPOLE
    assert resolved("gymnasium", id="CartPole-v1", horizon=100) is None
    assert resolved("gymnasium", id="CartPole-v1", kwargs={"sutton_barto_reward": True}) is None
    assert ranges.gymnasium_range("Hopper-v5") is ranges.MUJOCO["Hopper"]
    assert ranges.gymnasium_range("HalfCheetah-v4").low == pytest.approx(-280.178953)
    assert ranges.gymnasium_range("Hopper-v1") is None
    assert ranges.gymnasium_range("Swimmer-v5") is None


def test_tabular_envs_range_from_the_uniform_policy_to_the_optimum():
    env = make_env("garnet", n_states=6, n_actions=3, seed=2, horizon=8)
    got = resolved("garnet", n_states=6, n_actions=3, seed=2, horizon=8)
    policy = make_policy("tabular-softmax", env)
    uniform = exact.exact_objective(env, policy, np.zeros(policy.n_params))  # softmax(0)
    assert got.metric == "exact_value"
    assert got.low == pytest.approx(uniform, rel=1e-12)
    assert got.high == exact.optimal_value(env)
    assert got.low < got.high
    assert resolved("lqr") is None  # an exact J, but no range


SUITE = """\
name: ranges
experiment: learning-curve
seeds: 1
env_steps: 2000
envs:
  - {name: cartpole-v1, label: a}
  - {name: cartpole-v1, label: b, params: {horizon: 100}}
  - {name: cartpole-v1, label: c, params: {horizon: 100}, score_range: [9, 100]}
  - name: cartpole-v1
    label: d
    score_range: {low: 0, high: 500, source: "the issue's example"}
policies: [linear-softmax]
algorithms: [{name: reinforce, params: {episodes: 2}}]
"""


def test_a_suite_overrides_ranges_and_the_settings_record_them():
    suite = parse_suite(SUITE, "r.yaml")
    got = suite.report_settings()["score_ranges"]
    assert set(got) == {"a", "c", "d"}  # b: its horizon voids the declared range
    assert got["c"] == {
        "low": 9.0,
        "high": 100.0,
        "source": "set in the suite",
        "metric": "eval_return",
    }
    assert got["d"]["source"] == "the issue's example"
    assert got["a"]["low"] == ranges.CARTPOLE.low
    back = ranges_from_settings(json.loads(json.dumps(suite.report_settings())))
    assert back["c"] == ScoreRange(9.0, 100.0, "set in the suite", "eval_return")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("[3, 3]", "r.yaml:8:18: envs[0].score_range: high must differ from low (both 3)"),
        ("{low: 0}", "r.yaml:8:18: missing required key 'envs[0].score_range.high'"),
        (
            "{low: 0, high: 1, metric: seconds}",
            "r.yaml:8:44: envs[0].score_range.metric: Input should be 'eval_return' or "
            "'exact_value', got 'seconds'",
        ),
        (
            "{low: 0, high: .inf}",
            "r.yaml:8:33: envs[0].score_range.high: Input should be a finite number, got inf",
        ),
        (
            "{low: 0, high: 1, extra: 2}",
            "r.yaml:8:36: unknown key 'extra' in envs[0].score_range; did you mean 'metric'?",
        ),
    ],
)
def test_a_bad_range_is_one_line_at_its_position(entry, message):
    text = SUITE.replace(
        "  - {name: cartpole-v1, label: a}",
        f"  - name: cartpole-v1\n    label: a\n    score_range: {entry}",
    )
    with pytest.raises(SuiteError) as err:
        parse_suite(text, "r.yaml")
    assert str(err.value) == message


def test_malformed_recorded_ranges_are_skipped():
    settings = {
        "score_ranges": {
            "ok": {"low": 0, "high": 1},
            "empty": {"low": 1, "high": 1},
            "partial": {"low": 0},
            "metric": {"low": 0, "high": 1, "metric": "seconds"},
        }
    }
    assert list(ranges_from_settings(settings)) == ["ok"]
    assert ranges_from_settings({}) == {}


def test_a_run_without_recorded_settings_gets_them_from_its_suite_text():
    text = SUITE.replace("  - {name: cartpole-v1, label: b, params: {horizon: 100}}\n", "")
    meta = {"suite": {"name": "ranges", "experiment": "learning-curve", "text": text}}
    got = recorded_settings(meta)
    assert set(got["score_ranges"]) == {"a", "c", "d"}
    # recorded keys win; only the missing ones are resolved again
    meta["settings"] = {"description": "kept", "targets": {"a": 1.0}}
    got = recorded_settings(meta)
    assert got["description"] == "kept" and got["targets"] == {"a": 1.0}
    assert "score_ranges" in got
    meta["suite"]["text"] = "name: [unclosed"
    assert recorded_settings(meta) == meta["settings"]
    assert recorded_settings({}) == {}
    # complete settings are not parsed again (that would build every env)
    meta["settings"] = {"description": "", "score_ranges": {}}
    assert recorded_settings(meta) == meta["settings"]


@pytest.mark.parametrize(
    ("name", "episodes", "n_declared", "declared_se"),
    [
        ("cartpole-v1", 4000, 10_000, 0.12),
        ("acrobot-v1", 2000, 2_000, 0.27),
        ("mountaincar-v0", 64, 1_000, 0.0),
    ],
)
def test_the_native_cores_uniform_policy_scores_zero(name, episodes, n_declared, declared_se):
    """What is normalized is pgbench's own env: a linear softmax policy at theta = 0 acts
    uniformly at random there, and its mean return is the declared low."""
    from pgbench.sampling import Sampler

    env = make_env(name)
    policy = make_policy("linear-softmax", env)
    sums = Sampler(env, policy, "serial").episode_sums(np.zeros(policy.n_params), episodes, 7)
    assert agrees(sums.total_rewards, ENVS.get(name).score_range.low, n_declared, declared_se)
