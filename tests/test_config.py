"""Suite loading: valid suites parse; every bad suite gives ONE line file:line:col: message,
exit code 2 from the CLI, and no output directory."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pgbench.cli import main
from pgbench.experiments import load_suite, parse_suite
from pgbench.experiments.gradient_quality.suite import GradientQualitySuite
from pgbench.suite.errors import SuiteError

BASE = """\
name: tiny
experiment: gradient-quality
seeds: 2
repeats: 4
batch_sizes: [2, 8]
theta: {seed: 0}
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2}}
policies:
  - {name: tabular-softmax, params: {init_scale: 1.0}}
estimators:
  - reinforce
  - {name: reward-to-go, label: rtg}
"""

# (id, old text, new text, line:col, what the message must contain)
BAD = [
    ("yaml-syntax", "batch_sizes: [2, 8]", "batch_sizes: [2, 8", "6:6", "YAML syntax error"),
    (
        "unknown-key",
        "theta: {seed: 0}",
        "theta: {sed: 0}",
        "6:9",
        "unknown key 'sed' in theta; did you mean 'seed'",
    ),
    (
        "unknown-top-key",
        "repeats: 4",
        "repeat: 4",
        "4:1",
        "unknown key 'repeat' in suite; did you mean 'repeats'",
    ),
    (
        "unknown-estimator",
        "  - reinforce",
        "  - reinforc",
        "12:5",
        "unknown estimator 'reinforc'; did you mean 'reinforce'?",
    ),
    ("wrong-type", "repeats: 4", "repeats: four", "4:10", "repeats: Input should be a valid"),
    ("wrong-type-float", "seeds: 2", "seeds: 2.5", "3:8", "seeds must be a list"),
    (
        "bad-estimator-param",
        "  - reinforce",
        "  - {name: reinforce, params: {bogus: 1}}",
        "12:32",
        "estimator 'reinforce': bogus",
    ),
    (
        "unknown-env",
        "{name: garnet,",
        "{name: garnt,",
        "8:12",
        "unknown environment 'garnt'; did you mean 'garnet'?",
    ),
    (
        "unknown-env-param",
        "n_actions: 2,",
        "n_action: 2,",
        "8:42",
        "has no parameter 'n_action'; did you mean 'n_actions'",
    ),
    ("bad-env-value", "n_states: 3", "n_states: 0", "8:28", "n_states must be an integer"),
    (
        "env-param-type",
        "n_states: 3",
        "n_states: three",
        "8:39",
        "parameter 'n_states': Input should be a valid integer",
    ),
    (
        "policy-param-type",
        "init_scale: 1.0",
        "init_scale: big",
        "10:50",
        "parameter 'init_scale': Input should be a valid number",
    ),
    ("duplicate-key", "repeats: 4", "repeats: 4\nrepeats: 5", "5:1", "duplicate key 'repeats'"),
    (
        "duplicate-label",
        "label: rtg",
        "label: reinforce",
        "13:33",
        "estimator label 'reinforce' is used twice",
    ),
    ("missing-key", "repeats: 4\n", "", "1:1", "missing required key 'repeats'"),
    (
        "unknown-experiment",
        "experiment: gradient-quality",
        "experiment: gradient-qualty",
        "2:13",
        "unknown experiment 'gradient-qualty'; did you mean 'gradient-quality'?",
    ),
    ("too-few-repeats", "repeats: 4", "repeats: 1", "4:10", "greater than or equal to 2"),
    ("duplicate-batch-size", "[2, 8]", "[2, 2]", "5:18", "batch size 2 is listed twice"),
    ("bad-backend", "seeds: 2", "seeds: 2\nbackend: gpu", "4:10", "unknown backend 'gpu'"),
    (
        "policy-fits-no-env",
        "estimators:",
        "  - linear-softmax\nestimators:",
        "11:5",
        "policy 'linear-softmax' fits none of the envs: linear-softmax needs vector observations",
    ),
    ("not-a-mapping", BASE, "- just\n- a list\n", "1:1", "must be a YAML mapping"),
]


def write(tmp_path, text: str):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_base_suite_is_valid(tmp_path):
    suite = load_suite(write(tmp_path, BASE))
    assert isinstance(suite, GradientQualitySuite)
    assert suite.seeds == (0, 1)
    assert suite.reference_episodes == 20000 and suite.backend == "cpu"
    assert [e.display for e in suite.estimators] == ["reinforce", "rtg"]
    assert suite.envs[0].display == "garnet(n_states=3,n_actions=2,branching=2)"
    assert suite.pairs() == [(0, 0)]
    with pytest.raises(ValidationError, match="frozen"):
        suite.repeats = 5


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_suite_one_line_with_position(tmp_path, case):
    _, old, new, where, what = case
    text = BASE.replace(old, new)
    assert text != BASE
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{where}: "), message
    assert what in message, message


@pytest.mark.parametrize(
    "case",
    [BAD[0], BAD[1], BAD[3], BAD[4], BAD[6]],
    ids=["yaml-syntax", "unknown-key", "unknown-estimator", "wrong-type", "bad-estimator-param"],
)
def test_cli_bad_suite_exit_2_one_line_nothing_written(tmp_path, capsys, case):
    _, old, new, where, what = case
    path = write(tmp_path, BASE.replace(old, new))
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:{where}: ") and what in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()


def test_empty_and_unreadable(tmp_path):
    with pytest.raises(SuiteError, match=r"suite.yaml:1:1: suite is empty"):
        load_suite(write(tmp_path, "# nothing\n"))
    with pytest.raises(SuiteError, match="cannot read suite"):
        load_suite(tmp_path / "missing.yaml")


def test_seed_count_and_shorthands():
    suite = parse_suite(BASE.replace("seeds: 2", "seeds: 3"))
    assert suite.seeds == (0, 1, 2)
    assert suite.estimators[0].name == "reinforce" and suite.estimators[0].params == {}
    explicit = parse_suite(BASE.replace("seeds: 2", "seeds: [5, 7]"))
    assert explicit.seeds == (5, 7)


def test_policies_are_matched_to_the_envs_that_accept_them():
    text = BASE.replace("estimators:", "  - linear-softmax\nestimators:").replace(
        "envs:\n", "envs:\n  - cartpole-v1\n"
    )
    suite = parse_suite(text)
    assert suite.pairs() == [(0, 1), (1, 0)]  # cartpole x linear, garnet x tabular


def test_no_policy_for_an_env_is_an_error():
    text = BASE.replace("envs:\n", "envs:\n  - cartpole-v1\n")
    with pytest.raises(
        SuiteError,
        match=r"^<suite>:8:5: no policy in the suite accepts "
        r"environment 'cartpole-v1'$",
    ):
        parse_suite(text)


# ---------------------------------------------------------------- theta points and budgets

THETAS = BASE.replace(
    "theta: {seed: 0}\n",
    """thetas:
  - {kind: init, seed: 0}
  - {kind: random, seed: 1, scale: 0.5, label: rnd}
  - {kind: path, seed: 0, steps: 2, lr: 0.5, estimator: reward-to-go, episodes: 8}
""",
)


def test_thetas_parse_with_defaults_and_labels():
    suite = parse_suite(THETAS)
    labels = [t.display for t in suite.points]
    assert labels == [
        "init(seed=0)",
        "rnd",
        "path(seed=0,steps=2,lr=0.5,estimator=reward-to-go,episodes=8)",
    ]
    assert suite.points[1].definition() == {"kind": "random", "seed": 1, "scale": 0.5}
    exact = parse_suite(THETAS.replace("estimator: reward-to-go, episodes: 8", "estimator: exact"))
    assert exact.points[2].definition() == {
        "kind": "path",
        "seed": 0,
        "steps": 2,
        "lr": 0.5,
        "estimator": "exact",
    }
    # the single-point shorthand and the default are one init point
    assert [t.definition() for t in parse_suite(BASE).points] == [{"kind": "init", "seed": 0}]
    no_theta = parse_suite(BASE.replace("theta: {seed: 0}\n", ""))
    assert [t.display for t in no_theta.points] == ["init(seed=0)"]


def position(text: str, line_has: str, token: str) -> str:
    """``line:col`` (1-based) of ``token`` on the first line of ``text`` containing ``line_has``."""
    for n, line in enumerate(text.splitlines(), start=1):
        if line_has in line:
            return f"{n}:{line.index(token) + 1}"
    raise AssertionError(f"no line with {line_has!r}")


# (id, old, new, (line containing, token at the error), what the message must contain)
BAD_THETAS = [
    (
        "theta-and-thetas",
        "thetas:\n",
        "theta: {seed: 0}\nthetas:\n",
        ("thetas:", "thetas"),
        "give either theta (one point) or thetas (a list), not both",
    ),
    (
        "unknown-kind",
        "{kind: init,",
        "{kind: inti,",
        ("kind: inti", "inti"),
        "thetas[0].kind: Input should be 'init', 'random' or 'path'",
    ),
    (
        "key-of-another-kind",
        "{kind: init, seed: 0}",
        "{kind: init, seed: 0, scale: 2.0}",
        ("kind: init", "scale"),
        "theta kind 'init' takes no key 'scale' (its keys: seed, label)",
    ),
    (
        "unknown-theta-key",
        "seed: 1, scale: 0.5",
        "seed: 1, scael: 0.5",
        ("scael", "scael"),
        "unknown key 'scael' in thetas[1]; did you mean 'scale'",
    ),
    (
        "non-positive-scale",
        "scale: 0.5",
        "scale: -1.0",
        ("scale: -1.0", "-1.0"),
        "thetas[1].scale: Input should be greater than 0",
    ),
    (
        "path-missing-lr",
        "lr: 0.5, ",
        "",
        ("kind: path", "{"),
        "theta kind 'path' needs key 'lr'",
    ),
    (
        "path-missing-episodes",
        ", episodes: 8}",
        "}",
        ("kind: path", "{"),
        "theta kind 'path' with estimator 'reward-to-go' needs key 'episodes'",
    ),
    (
        "path-unknown-estimator",
        "estimator: reward-to-go",
        "estimator: reward-to-goo",
        ("kind: path", "reward-to-goo"),
        "unknown estimator 'reward-to-goo'; did you mean 'reward-to-go'?",
    ),
    (
        "path-bad-estimator-param",
        "episodes: 8}",
        "episodes: 8, params: {bogus: 1}}",
        ("kind: path", "bogus"),
        "estimator 'reward-to-go': bogus",
    ),
    (
        "exact-path-takes-no-episodes",
        "estimator: reward-to-go",
        "estimator: exact",
        ("kind: path", "episodes"),
        "a path along the exact gradient takes no 'episodes'",
    ),
    (
        "duplicate-theta-label",
        "label: rnd}",
        "label: init(seed=0)}",
        ("label: init", "init(seed=0)}"),
        "theta label 'init(seed=0)' is used twice",
    ),
    (
        "empty-thetas",
        BASE.replace("theta: {seed: 0}", "thetas: []"),
        None,
        ("thetas: []", "[]"),
        "thetas: Tuple should have at least 1 item",
    ),
    (
        "min-batch-above-max-batch",
        "  - reinforce\n",
        "  - {name: reinforce, min_batch: 16}\n",
        ("min_batch: 16", "16"),
        "has no batch size to run on env",
    ),
    (
        "min-batch-type",
        "  - reinforce\n",
        "  - {name: reinforce, min_batch: big}\n",
        ("min_batch: big", "big"),
        "estimators[0].min_batch: Input should be a valid integer",
    ),
    (
        "estimator-envs-unknown-label",
        "  - reinforce\n",
        "  - {name: reinforce, envs: [garnt]}\n",
        ("envs: [garnt]", "garnt"),
        "lists env 'garnt', which is not an env label of this suite",
    ),
    (
        "env-max-batch-zero",
        "branching: 2}}",
        "branching: 2}, max_batch: 0}",
        ("max_batch: 0", "0}"),
        "envs[0].max_batch: Input should be greater than or equal to 1",
    ),
]


@pytest.mark.parametrize("case", BAD_THETAS, ids=[c[0] for c in BAD_THETAS])
def test_bad_thetas_and_budgets_one_line_with_position(tmp_path, case):
    _, old, new, (line_has, token), what = case
    text = old if new is None else THETAS.replace(old, new)
    assert text != THETAS
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{position(text, line_has, token)}: "), message
    assert what in message, message


def test_budgets_and_env_lists():
    text = (
        BASE.replace("batch_sizes: [2, 8]", "batch_sizes: [2, 8, 32]")
        .replace("  - reinforce\n", "  - {name: reinforce, min_batch: 8, envs: [small]}\n")
        .replace("branching: 2}}", "branching: 2}, label: small, max_batch: 8}")
    )
    suite = parse_suite(text.replace("envs:\n", "envs:\n  - {name: chain, params: {n: 3}}\n"))
    env_small, est = suite.envs[1], suite.estimators[0]
    assert suite.sizes_for(env_small, est) == (8,)
    assert suite.sizes_for(suite.envs[0], est) == (8, 32)
    assert suite.runs(env_small, est) and not suite.runs(suite.envs[0], est)
    assert est.canonical()["min_batch"] == 8 and "envs" not in est.canonical()
    assert env_small.canonical()["max_batch"] == 8
    with pytest.raises(SuiteError, match="no estimator runs on env 'small'"):
        parse_suite(
            text.replace("  - {name: reward-to-go, label: rtg}\n", "")
            .replace("envs: [small]", "envs: [chain]")
            .replace("envs:\n", "envs:\n  - chain\n")
        )


# ---------------------------------------------------------------- bounded input


def expanded_size(node) -> int:
    """Nodes of a composed YAML graph with every alias expanded (the oracle of the bound)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        return 1 + sum(expanded_size(k) + expanded_size(v) for k, v in node.value)
    if isinstance(node, yaml.SequenceNode):
        return 1 + sum(expanded_size(v) for v in node.value)
    return 1


def test_the_node_bound_counts_every_alias_at_its_full_size(monkeypatch):
    import yaml

    from pgbench.suite import yaml_reading

    text = BASE.replace(
        "  - {name: reward-to-go, label: rtg}",
        "  - &rtg {name: reward-to-go, label: rtg}\n  - {<<: *rtg, label: rtg2}\n"
        "description: &d text\nthetas: [{seed: 0, label: *d}]",
    ).replace("theta: {seed: 0}\n", "")
    size = expanded_size(yaml.compose(text, Loader=yaml.SafeLoader))
    monkeypatch.setattr(yaml_reading, "MAX_NODES", size)
    suite = parse_suite(text, "s.yaml")
    assert suite.estimators[2].display == "rtg2" and suite.points[0].display == "text"
    monkeypatch.setattr(yaml_reading, "MAX_NODES", size - 1)
    with pytest.raises(SuiteError, match=r"^s.yaml:\d+:\d+: the suite has more than"):
        parse_suite(text, "s.yaml")


@pytest.mark.parametrize(
    "value, where, fragment",
    [
        ("&s [*s]", "3:12", "alias *s is inside the node it names (a cycle)"),
        ("&s [1, [2, *s]]", "3:19", "alias *s is inside the node it names"),
        ("&s {a: *s}", "3:15", "alias *s is inside the node it names"),
        ("&s [1, *t]", "3:15", "found undefined alias 't'"),
    ],
)
def test_alias_cycles_and_undefined_aliases_are_one_line(value, where, fragment):
    with pytest.raises(SuiteError) as info:
        parse_suite(BASE.replace("seeds: 2", f"seeds: {value}"), "s.yaml")
    assert str(info.value).startswith(f"s.yaml:{where}: ") and fragment in str(info.value)


def test_an_alias_bomb_stops_at_the_alias_that_crosses_the_bound():
    # a_i expands to 2^(i+2) - 1 nodes; a0 .. a_i together to about 2^(i+3): a0 .. a13
    # stay under 100,000, and the second alias of a14 crosses it
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 18)]
    with pytest.raises(SuiteError) as info:
        parse_suite("\n".join(lines) + "\n", "bomb.yaml")
    assert str(info.value) == (
        "bomb.yaml:15:18: the suite has more than 100,000 values with its aliases expanded "
        "(an alias bomb?)"
    )
    with pytest.raises(SuiteError, match="missing required key 'experiment'"):
        parse_suite("\n".join(lines[:14]) + "\n")


@pytest.mark.parametrize("depth, ok", [(99, True), (100, False), (100_000, False)])
def test_nesting_is_bounded_before_the_recursive_composer(depth, ok):
    # the root mapping is level 1; `description` (line 14) holds `depth` nested lists
    text = BASE + "description: " + "[" * depth + "]" * depth + "\n"
    if ok:
        with pytest.raises(SuiteError, match="description: Input should be a valid string"):
            parse_suite(text, "d.yaml")
        return
    with pytest.raises(SuiteError) as info:
        parse_suite(text, "d.yaml")
    assert str(info.value) == "d.yaml:14:113: lists and mappings nested deeper than 100 levels"


def test_seed_counts_and_grids_are_bounded_before_anything_is_built(monkeypatch):
    from pgbench.suite import base

    def no_build(*args, **kwargs):  # a bound must be checked before any env is built
        raise RuntimeError("an env was built")

    monkeypatch.setattr(base, "build_env", no_build)
    for count in ("100000000000", "1000001"):
        with pytest.raises(SuiteError, match=r"seeds would make at least .* cells"):
            parse_suite(BASE.replace("seeds: 2", f"seeds: {count}"), "s.yaml")
    text = BASE.replace("seeds: 2", "seeds: 500001")  # x 2 estimators
    with pytest.raises(SuiteError) as info:
        parse_suite(text, "s.yaml")
    assert str(info.value) == (
        "s.yaml:3:8: the grid has 1 envs x 1 policies x 2 estimators x 1 thetas x 500,001 "
        "seeds = 1,000,002 cells (bound: 1,000,000)"
    )


def test_sizes_are_bounded_where_the_arrays_are_made():
    import pgbench
    from pgbench.envs.checks import MAX_TABLE_BYTES, SizeError

    # S A S 8 bytes <= 2 GiB: S = 9459 with A = 3 is the largest garnet (not built here)
    with pytest.raises(SizeError, match=r"garnet n_states 9460 with 3 actions needs P") as info:
        pgbench.make_env("garnet", n_states=9460, n_actions=3)
    assert info.value.param == "n_states" and 8 * 9459 * 3 * 9459 <= MAX_TABLE_BYTES
    with pytest.raises(SizeError, match=r"chain n 11586 with 2 actions .*the bound is 2 GiB"):
        pgbench.make_env("chain", n=11586)


# ---------------------------------------------------------------- strict parameters


def registered_param_models():
    """Every parameter model of a registered component (env, policy, estimator, algorithm,
    learner, game estimator), with the models nested in their fields (optimizer, critic)."""
    import inspect
    import typing

    from pydantic import BaseModel

    import pgbench.algorithms  # noqa: F401  (registration)
    import pgbench.api  # noqa: F401
    from pgbench.registry import (
        ALGORITHMS,
        ENVS,
        ESTIMATORS,
        GAME_ESTIMATORS,
        LEARNERS,
        POLICIES,
    )

    found, todo = set(), []
    for registry in (ENVS, POLICIES, ESTIMATORS, ALGORITHMS, LEARNERS, GAME_ESTIMATORS):
        todo += [registry.get(n).params for n in registry.names()]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            for tp in (field.annotation, *typing.get_args(field.annotation)):
                if inspect.isclass(tp) and issubclass(tp, BaseModel):
                    todo.append(tp)
    return sorted(found, key=lambda m: m.__qualname__)


def test_every_hyperparameter_model_is_strict_and_finite():
    from pgbench.params import HyperParams

    models = registered_param_models()
    assert len(models) >= 30
    loose = [m.__qualname__ for m in models if not issubclass(m, HyperParams)]
    assert loose == []
    for model in models:
        assert model.model_config["strict"] and model.model_config["allow_inf_nan"] is False


@pytest.mark.parametrize(
    "name, params, fragment",
    [
        ("fd-forward", {"delta": True}, "delta: Input should be a valid number"),
        ("fd-forward", {"delta": "0.01"}, "delta: Input should be a valid number"),
        ("fd-forward", {"delta": float("inf")}, "delta: Input should be a finite number"),
        ("fd-forward", {"common_random_numbers": 1}, "should be a valid boolean"),
        ("fd-regression", {"perturbations": 4.0}, "perturbations: Input should be a valid int"),
        ("q-critic", {"ridge": float("nan")}, "ridge: Input should be a finite number"),
        ("reinforce", {"baseline": True}, "baseline: Input should be"),
        ("natural", {"base_params": {"baseline": 1}}, "'reward-to-go': baseline: Input should"),
    ],
)
def test_estimator_params_are_not_coerced(name, params, fragment):
    import pgbench
    from pgbench.errors import InvalidSpecError

    with pytest.raises(InvalidSpecError) as info:
        pgbench.estimator_params(name, **params)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_params_accept_ints_for_floats_lists_for_tuples_and_numpy_scalars():
    import numpy as np

    import pgbench
    from pgbench.errors import InvalidSpecError
    from pgbench.registry import ALGORITHMS

    algorithm_params = ALGORITHMS.params

    assert pgbench.estimator_params("fd-forward", delta=1).delta == 1.0
    assert pgbench.estimator_params("fd-forward", delta=np.float32(0.5)).delta == 0.5
    a2c = algorithm_params("a2c", critic={"kind": "mlp", "hidden": [8, 4]}, optimizer={"lr": 1})
    assert a2c.critic.hidden == (8, 4) and a2c.optimizer.lr == 1.0
    hp = algorithm_params("reinforce", episodes=np.int64(8), reward_to_go=np.bool_(False))
    assert hp.episodes == 8 and type(hp.episodes) is int and hp.reward_to_go is False
    for bad in ({"episodes": np.float64(8.0)}, {"reward_to_go": np.int64(1)}):
        with pytest.raises(InvalidSpecError):
            algorithm_params("reinforce", **bad)
    with pytest.raises(InvalidSpecError, match=r"critic.hidden.1: Input should be"):
        algorithm_params("a2c", critic={"hidden": [8, True]})


def test_strictness_leaves_the_ci_suites_and_their_cell_hashes_alone():
    # the committed baselines pair with the CI suites by cell hash (tests/test_ci_gate.py);
    # here: every committed suite still loads
    import importlib.util
    from pathlib import Path

    root = Path(__file__).parent.parent / "suites"
    paths = sorted([*root.glob("*.yaml"), *root.glob("ci/*.yaml")])
    assert len(paths) >= 10
    have_mujoco = importlib.util.find_spec("mujoco") is not None  # the mujoco extra
    for path in paths:
        if path.name != "mujoco.yaml" or have_mujoco:
            load_suite(path)


# ---------------------------------------------------------------- learning-curve budgets

LC = """\
name: lc
experiment: learning-curve
seeds: 2
env_steps: 6000
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, horizon: 8}}
policies:
  - tabular-softmax
algorithms:
  - {name: reinforce, params: {episodes: 4}}
  - ppo-clip
"""


def test_a_budget_that_buys_a_handful_of_updates_is_a_positioned_warning():
    from pgbench.suite.load import warning_lines

    assert parse_suite(LC).warnings() == []  # 6000 env steps: 5 ppo-clip updates of 1024
    text = LC.replace("  - ppo-clip", "  - {name: ppo-clip, env_steps: 3000}")
    suite = parse_suite(text, "lc.yaml")
    ppo = "algorithm 'ppo-clip' on env 'garnet(n_states=3,n_actions=2,horizon=8)'"
    assert warning_lines(suite, text, "lc.yaml") == [
        f"lc.yaml:11:33: {ppo}: a budget of 3000 env steps buys at most 2 complete updates "
        "(1024 env steps each); fewer than 5 rarely make progress"
    ]
    # the budget that applies is the one reported: the env's over the suite's
    text = LC.replace("horizon: 8}}", "horizon: 8}, env_steps: 2000}")
    ((where, _),) = parse_suite(text).warnings()
    assert where == ("envs", 0, "env_steps")


@pytest.mark.parametrize(
    "old, new, where",
    [
        ("env_steps: 6000", "env_steps: 1000", "4:12"),  # the suite's budget
        ("horizon: 8}}", "horizon: 8}, env_steps: 1023}", "6:80"),  # the env's
        ("  - ppo-clip", "  - {name: ppo-clip, env_steps: 10}", "11:33"),  # the algorithm's
    ],
)
def test_a_budget_below_one_update_is_an_error_at_the_budget_that_applies(old, new, where):
    with pytest.raises(SuiteError) as info:
        parse_suite(LC.replace(old, new), "lc.yaml")
    message = str(info.value)
    assert message.startswith(f"lc.yaml:{where}: algorithm 'ppo-clip' on env ") and (
        "is less than one update (1,024 env steps)" in message
    )
