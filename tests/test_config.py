"""Suite loading: valid suites parse; every bad suite gives ONE line file:line:col: message,
exit code 2 from the CLI, and no output directory."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pgbench.cli import main
from pgbench.config import GradientQualitySuite, SuiteError, load_suite, parse_suite

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
