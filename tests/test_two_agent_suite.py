"""The two-agent suite kinds end to end through the CLI, and their one-line suite errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pgbench
from pgbench.experiments import parse_suite
from pgbench.suite.errors import SuiteError

TINY = """\
name: tiny-games
experiment: two-agent
seeds: 2
envs:
  - {name: ipd, params: {horizon: 12}, label: ipd}
  - {name: matching-pennies, label: mp}
iterations: 4
episodes: 8
pairings:
  - {learners: [lola-exact, nl-exact], label: LOLA-NL}
  - {learners: [{name: lola-dice, params: {episodes: 4, lookahead: 2}}, nl-pg], envs: [ipd]}
"""

TINY_EST = """\
name: tiny-est
experiment: game-estimators
seeds: 1
envs: [{name: ipd, params: {horizon: 6}}]
batch_sizes: [4, 16]
repeats: 3
estimators: [pg-gradient, lola-pg-cross-term, {name: dice-hessian, params: {baseline: value}}]
"""


def test_cli_runs_both_kinds_end_to_end(tmp_path):
    for text, out in ((TINY, "games"), (TINY_EST, "est")):
        suite = tmp_path / f"{out}.yaml"
        suite.write_text(text)
        proc = subprocess.run(
            [sys.executable, "-m", "pgbench", "run", str(suite), "--out", str(tmp_path / out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
    table = pgbench.load_results(tmp_path / "games")
    assert set(table.method_label) == {"LOLA-NL", "lola-dice(episodes=4,lookahead=2) vs nl-pg"}
    assert len(table[table.metric == "tft_1"]) == 2 * 2 + 2  # 2 games x 2 seeds + ipd only
    assert (tmp_path / "games" / "two_agent_rewards.png").is_file()
    assert (tmp_path / "games" / "two_agent.md").is_file()
    est = pgbench.load_results(tmp_path / "est")
    assert {"cosine", "correlation", "rel_error"} <= set(est.metric)
    assert (tmp_path / "est" / "game_estimators.png").is_file()


BAD = [
    (TINY.replace("lola-exact, nl-exact", "lola-exakt, nl-exact"), 10, "did you mean 'lola-exact'"),
    (TINY.replace("lookahead: 2", "lookahead: -1"), 11, "lookahead"),
    (TINY.replace("horizon: 12", "horizn: 12"), 5, "no parameter 'horizn'"),
    (TINY.replace("name: ipd, params: {horizon: 12}", "name: ipd"), 5, "horizon"),
    (TINY.replace("envs: [ipd]", "envs: [ipdd]"), 11, "did you mean 'ipd'"),
    (TINY.replace("{name: ipd,", "{name: ipdx,"), 5, "unknown game"),
    (TINY_EST.replace("pg-gradient,", "pg-gradiant,"), 7, "did you mean 'pg-gradient'"),
    (TINY_EST.replace("baseline: value", "baseline: mean"), 7, "baseline"),
]


@pytest.mark.parametrize("text, line, message", BAD)
def test_malformed_suites_give_one_line_errors(text, line, message):
    with pytest.raises(SuiteError, match=message) as info:
        parse_suite(text, "s.yaml")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"s.yaml:{line}:")
