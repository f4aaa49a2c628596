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
        "unknown key 'sed' in theta; did you mean 'seed'?",
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
