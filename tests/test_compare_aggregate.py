"""``pgbench compare --aggregate``: the aggregate verdict across tasks (IQM of normalized
final scores, NEW - BASE, stratified-bootstrap interval) beside the per-row checks: a hand
case, a shift that fails, an unchanged run that passes, the threshold / interval rule,
off by default (output and JSON unchanged), the suite's block and the flags, algorithms
on one side only, what happens without ranges, and a real run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pgbench.compare.aggregate import aggregate_check, aggregate_status
from pgbench.experiments import parse_suite
from pgbench.results import COLUMNS, load_results, write_cell, write_metadata
from pgbench.run.sweep import expand
from pgbench.stats import aggregate_difference, group_rng
from pgbench.suite.compare_block import AggregateSpec, CompareSpec
from pgbench.suite.errors import SuiteError
from tests.test_compare import SEEDS, _rows, cli, gradient_run, write_run

# two tasks, both 100 wide: a raw shift of s is s / 100 in normalized units on each
RANGES = {
    "a": {"low": 0.0, "high": 100.0, "source": "test", "metric": "eval_return"},
    "b": {"low": -50.0, "high": 50.0, "source": "test", "metric": "eval_return"},
}
LEVEL = {"a": 60.0, "b": 20.0}  # final returns: normalized 0.6 and 0.7
VERDICT_KEYS = {
    "verdict",
    "exit_code",
    "base",
    "new",
    "settings",
    "counts",
    "underpowered",
    "failures",
    "warnings",
    "comparisons",
}
SETTINGS_KEYS = {
    "threshold",
    "thresholds",
    "alpha",
    "metrics",
    "allow_missing",
    "ci_level",
    "pair_by",
    "paired",
    "strict",
    "power",
    "rule",
}


def recorded(ranges=RANGES, block: dict | None = None) -> dict:
    """metadata.json settings of a learning-curve run with score ``ranges`` and the compare
    ``block`` (None: no block), as the runner records them."""
    dumped = None if block is None else CompareSpec.model_validate(block).model_dump(mode="json")
    return {"description": "", "compare": dumped, "targets": {}, "score_ranges": ranges}


def task_rows(method, seed, env, final, label=None):
    """Learning-curve rows of one seed on task ``env``: eval_return at env steps 0, 500
    and 1000, the last one ``final``."""
    points = [
        (0, "eval_return", 0.0),
        (500, "eval_return", final / 2),
        (1000, "eval_return", final),
    ]
    return _rows("learning-curve", method, seed, "env_steps", points, env=env, label=label)


def curve_run(
    tmp,
    name,
    shift=0.0,
    noise=2.0,
    seeds=SEEDS,
    methods=("reinforce",),
    tasks=("a", "b"),
    settings=None,
    only=None,
    levels=LEVEL,
):
    """A run of ``methods`` on ``tasks``: final return ``levels`` + ``noise`` * N(0, 1) per
    seed (the same draws for every run) + ``shift``; ``only`` (method -> tasks) limits
    some."""
    rows = []
    for method in methods:
        for env in (only or {}).get(method, tasks):
            for s in seeds:
                draw = np.random.default_rng([s, ord(env), sum(map(ord, method))]).standard_normal()
                rows += task_rows(method, s, env, levels[env] + noise * draw + shift)
    return write_run(
        tmp / name, rows, tag=name, settings=recorded() if settings is None else settings
    )


def table(rows_by_task: dict[str, list[float]], method="reinforce") -> pd.DataFrame:
    """A tidy table of final returns given per task, one seed per value."""
    rows = [
        r
        for env, finals in rows_by_task.items()
        for s, final in enumerate(finals)
        for r in task_rows(method, s, env, final)
    ]
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


# ---------------------------------------------------------------- the rule


def test_hand_case():
    """BASE: a 50, 70 and b 0, 20 (normalized 0.5, 0.7 on both): IQM of 0.5 0.5 0.7 0.7 is
    0.6; NEW 10 lower everywhere: 0.5. The interval is the stratified bootstrap's of the
    same Generator; it includes 0 (two runs per task), so 0.1 worse is ``worse``."""
    base = table({"a": [50.0, 70.0], "b": [0.0, 20.0]})
    new = table({"a": [40.0, 60.0], "b": [-10.0, 10.0]})
    check = aggregate_check(base, new, AggregateSpec(), recorded(), reps=500)
    [row] = check.rows
    assert check.tasks == ("a", "b") and check.unavailable is None and check.notes == ()
    assert row.algorithm == "reinforce" and row.metric == "iqm"
    assert row.base == pytest.approx(0.6) and row.new == pytest.approx(0.5)
    assert row.difference == pytest.approx(-0.1) and row.worse_by == pytest.approx(0.1)
    assert (row.n_runs_base, row.n_runs_new, row.n_tasks) == (2, 2, 2)
    assert row.entries == {"a": "reinforce (tabular-softmax)", "b": "reinforce (tabular-softmax)"}
    word = int(np.random.default_rng(0).integers(0, 2**63))
    b = np.array([[0.5, 0.5], [0.7, 0.7]])
    expected = aggregate_difference(
        b, b - 0.1, group_rng(word, ("aggregate", "reinforce")), reps=500
    )
    assert (row.difference, row.low, row.high) == pytest.approx(expected, abs=1e-12)
    assert row.low < 0.0 < row.high and row.status == "worse"


@pytest.mark.parametrize(
    ("worse", "low", "high", "status"),
    [
        (0.10, 0.02, 0.2, "regression"),  # worse than 0.05, interval above 0
        (0.10, -0.02, 0.2, "worse"),  # interval includes 0
        (0.10, 0.0, 0.2, "worse"),  # touching 0 does not exclude it
        (0.04, 0.01, 0.07, "changed"),  # significant, within the threshold
        (0.05, 0.01, 0.07, "changed"),  # at the threshold: not beyond it
        (-0.04, -0.07, -0.01, "improved"),
        (0.0, -0.03, 0.03, "ok"),
        (0.2, np.nan, np.nan, "underpowered"),
    ],
)
def test_status_rule(worse, low, high, status):
    assert aggregate_status(worse, low, high, 0.05) == status


def test_shifted_new_regresses_and_fails_the_run(tmp_path, capsys):
    base = curve_run(tmp_path, "base")
    new = curve_run(tmp_path, "new", shift=-10.0)  # 0.1 lower on both tasks
    code, verdict = cli(tmp_path, base, new, "--threshold", "3", "--aggregate")
    assert code == 1 and verdict["verdict"] == "fail" and verdict["exit_code"] == 1
    assert verdict["failures"] == []  # the rows pass: they are at most 50 % worse
    agg = verdict["aggregate"]
    [row] = agg["rows"]
    assert row["status"] == "regression" and agg["verdict"] == "fail"
    assert row["difference"] == pytest.approx(-0.1, abs=1e-9)
    assert row["high"] < 0.0 and row["low"] < row["difference"] < row["high"]
    assert agg["tasks"] == ["a", "b"] and agg["threshold"] == 0.05 and agg["metric"] == "iqm"
    assert agg["ranges"]["b"]["low"] == -50.0 and agg["ranges_from"] == "BASE"
    out = capsys.readouterr().out
    assert "aggregate across tasks: IQM" in out and "base IQM" in out
    change = f"{row['base']:.3f} -> {row['new']:.3f} (-0.100, 95% CI [{row['low']:+.3f}"
    assert f"regression: aggregate IQM of reinforce over a, b: {change}" in out
    assert "aggregate IQM: 1 regression" in out and "FAIL" in out


def test_the_rows_are_checked_as_before_beside_it(tmp_path):
    """The same shift, row by row: 10 of 60 (a) is within 25 %, 10 of 20 (b) is not."""
    base = curve_run(tmp_path, "base")
    new = curve_run(tmp_path, "new", shift=-10.0)
    code, verdict = cli(tmp_path, base, new, "--aggregate")
    assert code == 1 and {f["env"] for f in verdict["failures"]} == {"b"}
    assert verdict["aggregate"]["verdict"] == "fail"
    code, verdict = cli(tmp_path, base, new, "--threshold", "3")
    assert code == 0 and "aggregate" not in verdict


def test_unchanged_run_passes(tmp_path, capsys):
    base = curve_run(tmp_path, "base")
    code, verdict = cli(tmp_path, base, curve_run(tmp_path, "new"), "--aggregate")
    assert code == 0 and verdict["verdict"] == "pass"
    [row] = verdict["aggregate"]["rows"]
    assert row["status"] == "ok" and row["difference"] == 0.0 and row["low"] < 0.0 < row["high"]
    assert (row["n_runs_base"], row["n_runs_new"], row["n_tasks"]) == (10, 10, 2)
    assert verdict["aggregate"]["counts"] == {"ok": 1}
    assert "aggregate IQM: 1 ok" in capsys.readouterr().out


def test_threshold_and_interval(tmp_path):
    base = curve_run(tmp_path, "base")
    small = curve_run(tmp_path, "small", shift=-3.0)  # 0.03 worse, well resolved
    code, verdict = cli(tmp_path, base, small, "--threshold", "3", "--aggregate")
    assert code == 0 and verdict["aggregate"]["rows"][0]["status"] == "changed"
    code, verdict = cli(tmp_path, base, small, "--threshold", "3", "--aggregate-threshold", "0.01")
    assert code == 1 and verdict["aggregate"]["rows"][0]["status"] == "regression"
    assert verdict["aggregate"]["threshold"] == 0.01
    # 0.1 worse, but the seeds' spread (sd 30) hides it: worse, passes
    noisy_base = curve_run(tmp_path, "noisy_base", noise=30.0)
    noisy = curve_run(tmp_path, "noisy", shift=-10.0, noise=30.0)
    code, verdict = cli(tmp_path, noisy_base, noisy, "--threshold", "3", "--aggregate")
    [row] = verdict["aggregate"]["rows"]
    assert code == 0 and row["status"] == "worse" and row["low"] < 0.0 < row["high"]
    better = curve_run(tmp_path, "better", shift=10.0)
    code, verdict = cli(tmp_path, base, better, "--threshold", "3", "--aggregate")
    assert code == 0 and verdict["aggregate"]["rows"][0]["status"] == "improved"


def test_optimality_gap_is_lower_is_better(tmp_path):
    base = curve_run(tmp_path, "base")
    new = curve_run(tmp_path, "new", shift=-10.0)
    flags = ("--threshold", "3", "--aggregate-metric", "optimality_gap")
    code, verdict = cli(tmp_path, base, new, *flags)
    [row] = verdict["aggregate"]["rows"]
    assert code == 1 and verdict["aggregate"]["direction"] == "lower"
    assert row["difference"] == pytest.approx(0.1) and row["low"] > 0.0
    assert row["worse_by"] == pytest.approx(0.1) and row["status"] == "regression"


def test_one_run_per_task_is_underpowered_and_fails_with_strict(tmp_path):
    base = curve_run(tmp_path, "base", seeds=(0,))
    new = curve_run(tmp_path, "new", seeds=(0,), shift=-10.0)
    code, verdict = cli(tmp_path, base, new, "--threshold", "3", "--aggregate")
    [row] = verdict["aggregate"]["rows"]
    assert row["status"] == "underpowered" and row["low"] is None and row["high"] is None
    assert code == 0 and verdict["aggregate"]["verdict"] == "pass"
    code, verdict = cli(tmp_path, base, new, "--threshold", "3", "--aggregate", "--strict")
    assert code == 1 and verdict["aggregate"]["verdict"] == "fail"


# ---------------------------------------------------------------- off by default, settings


def test_off_by_default_leaves_output_and_json_unchanged(tmp_path, capsys):
    base = curve_run(tmp_path, "base")
    new = curve_run(tmp_path, "new", shift=-10.0)
    code, plain = cli(tmp_path, base, new)
    out = capsys.readouterr()
    assert set(plain) == VERDICT_KEYS and set(plain["settings"]) == SETTINGS_KEYS
    assert "aggregate" not in out.out and "aggregate" not in out.err
    off_code, off = cli(tmp_path, base, new, "--no-aggregate")
    assert (off_code, off) == (code, plain) and capsys.readouterr() == out
    _, on = cli(tmp_path, base, new, "--aggregate")
    assert {k: v for k, v in on.items() if k != "aggregate"} == plain  # beside the rows


def test_the_suite_block_turns_it_on_and_the_flags_override_it(tmp_path):
    base = curve_run(tmp_path, "base")
    block = {"threshold": 3.0, "aggregate": {"threshold": 0.2}}
    new = curve_run(tmp_path, "new", shift=-10.0, settings=recorded(block=block))
    code, verdict = cli(tmp_path, base, new)
    assert code == 0 and verdict["aggregate"]["threshold"] == 0.2
    assert verdict["aggregate"]["rows"][0]["status"] == "changed"  # 0.1 worse, within 0.2
    code, verdict = cli(tmp_path, base, new, "--aggregate-threshold", "0.05")
    assert code == 1 and verdict["aggregate"]["rows"][0]["status"] == "regression"
    code, verdict = cli(tmp_path, base, new, "--no-aggregate")
    assert code == 0 and "aggregate" not in verdict
    on = curve_run(tmp_path, "on", shift=-10.0, settings=recorded(block={"aggregate": True}))
    code, verdict = cli(tmp_path, base, on, "--threshold", "3")
    assert code == 1 and verdict["aggregate"]["threshold"] == 0.05  # true: the defaults


def test_the_block_is_validated_in_the_suite():
    suite = """\
name: tiny
experiment: gradient-quality
seeds: 2
repeats: 2
batch_sizes: [2]
envs: [{name: garnet, params: {n_states: 3, n_actions: 2}}]
policies: [tabular-softmax]
estimators: [reinforce]
"""
    plain = expand(parse_suite(suite))
    block = "compare: {aggregate: {threshold: 0.1, metric: median}}\n"
    parsed = parse_suite(suite + block)
    assert parsed.compare.aggregate == AggregateSpec(threshold=0.1, metric="median")
    assert [c.hash for c in plain] == [c.hash for c in expand(parsed)]
    assert parse_suite(suite + "compare: {aggregate: false}\n").compare.aggregate is None
    for bad, words in (
        ("compare: {aggregate: {threshold: -0.1}}\n", "greater than or equal to 0"),
        ("compare: {aggregate: {metric: max}}\n", "'iqm'"),
        ("compare: {aggregate: {thresold: 0.1}}\n", "thresold"),
    ):
        with pytest.raises(SuiteError) as info:
            parse_suite(suite + bad, "s.yaml")
        message = str(info.value)
        assert message.startswith("s.yaml:9:") and words in message and "\n" not in message


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (("--aggregate-threshold", "abc"), "--aggregate-threshold: not a number: 'abc'"),
        (("--aggregate-threshold", "-0.1"), "--aggregate-threshold: Input should be greater"),
        (("--aggregate-threshold", "inf"), "--aggregate-threshold: "),
        (("--aggregate-metric", "max"), "--aggregate-metric: Input should be 'iqm'"),
        (("--no-aggregate", "--aggregate-threshold", "0.1"), "given with --no-aggregate"),
    ],
)
def test_bad_flags_give_one_line_errors(tmp_path, flags, words):
    base = curve_run(tmp_path, "base")
    code, verdict = cli(tmp_path, base, base, *flags)
    assert code == 2 and words in verdict["error"], verdict["error"]


# ---------------------------------------------------------------- which tasks, which algorithms


def test_algorithms_on_one_side_are_listed_not_compared(tmp_path, capsys):
    """NEW lost ppo-clip on task b and gained a2c: reinforce is still compared on BASE's
    tasks (the per-row check fails the missing rows)."""
    base = curve_run(tmp_path, "base", methods=("reinforce", "ppo-clip"))
    new = curve_run(
        tmp_path, "new", methods=("reinforce", "ppo-clip", "a2c"), only={"ppo-clip": ("a",)}
    )
    code, verdict = cli(tmp_path, base, new, "--aggregate", "--allow-missing")
    agg = verdict["aggregate"]
    assert code == 0 and [r["algorithm"] for r in agg["rows"]] == ["reinforce"]
    assert agg["left_out"] == [
        "algorithm 'ppo-clip': in NEW on a only",
        "algorithm 'a2c': in NEW only",
    ]
    out = capsys.readouterr().out
    assert "not in the aggregate: algorithm 'ppo-clip': in NEW on a only" in out


def test_why_an_algorithm_of_base_is_not_compared():
    base = table({"a": [50.0, 70.0], "b": [0.0, 20.0]})
    spec = AggregateSpec()
    gone = aggregate_check(base, base[base["env_label"] == "c"], spec, recorded())
    assert gone.rows == () and gone.notes == ("algorithm 'reinforce': not in NEW",)
    holes = base.copy()
    holes.loc[(holes["env_label"] == "b") & (holes["seed"] == 0), "value"] = np.nan
    holes.loc[(holes["env_label"] == "a") & (holes["seed"] == 1), "value"] = np.nan
    [note] = aggregate_check(base, holes, spec, recorded()).notes
    assert note == "algorithm 'reinforce': NEW has no seed with a score on every task"


def test_new_is_restricted_to_the_tasks_of_base(tmp_path):
    """BASE has no range for c, so its tasks are a and b; NEW's extra task is not scored."""
    c = {"low": 0.0, "high": 10.0, "source": "NEW's", "metric": "eval_return"}
    kw = {"tasks": ("a", "b", "c"), "levels": {**LEVEL, "c": 5.0}}
    base = curve_run(tmp_path, "base", settings=recorded(RANGES), **kw)
    new = curve_run(tmp_path, "new", settings=recorded({**RANGES, "c": c}), **kw)
    code, verdict = cli(tmp_path, base, new, "--aggregate")
    agg = verdict["aggregate"]
    assert code == 0 and agg["tasks"] == ["a", "b"] and agg["rows"][0]["n_tasks"] == 2
    assert agg["left_out"] == ["env 'c': no reference range (give it a score_range in the suite)"]


def test_other_ranges_in_new_warn_and_base_ranges_are_used(tmp_path, capsys):
    other = {**RANGES, "b": {**RANGES["b"], "high": 150.0}}
    base = curve_run(tmp_path, "base")
    new = curve_run(tmp_path, "new", settings=recorded(other))
    code, verdict = cli(tmp_path, base, new, "--aggregate")
    assert code == 0 and verdict["aggregate"]["rows"][0]["difference"] == 0.0
    [line] = [w for w in verdict["warnings"] if w.startswith("aggregate:")]
    assert line == "aggregate: NEW records other score ranges than BASE for b; BASE's are used"
    assert f"pgbench: warning: {line}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make_base", "why"),
    [
        (lambda t: curve_run(t, "base", settings=recorded({})), "BASE records no score ranges"),
        (lambda t: gradient_run(t, "base"), "BASE has no learning-curve rows"),
        (
            lambda t: curve_run(t, "base", settings=recorded({"a": RANGES["a"]})),
            "fewer than 2 tasks with a score range share an algorithm in BASE",
        ),
    ],
)
def test_without_an_aggregate_a_warning_says_why(tmp_path, capsys, make_base, why):
    base = make_base(tmp_path)
    code, verdict = cli(tmp_path, base, base, "--aggregate")
    assert code == 0 and verdict["aggregate"]["unavailable"].startswith(why)
    assert verdict["aggregate"]["rows"] == [] and verdict["aggregate"]["verdict"] == "pass"
    assert f"aggregate: not computed: {why}" in " ".join(verdict["warnings"])
    out, err = capsys.readouterr()
    assert "aggregate across tasks" not in out and "aggregate IQM" not in out
    assert "pgbench: warning: aggregate: not computed:" in err


def test_a_parquet_base_has_no_ranges(tmp_path):
    base = curve_run(tmp_path, "base")
    cell = next((base / "cells").glob("*.parquet"))
    code, verdict = cli(tmp_path, cell, base, "--aggregate")
    assert code == 0 and "no score ranges" in verdict["aggregate"]["unavailable"]


def test_a_run_without_recorded_ranges_takes_them_from_its_suite_text(tmp_path):
    """An old BASE (no ``settings``, as results/baseline/ci-algorithms): the ranges of its
    stored suite text."""
    base = curve_run(tmp_path, "base", settings=recorded())
    meta = json.loads((base / "metadata.json").read_text())
    write_metadata(base, {"cells": meta["cells"], "suite": {"text": OLD_SUITE}})
    code, verdict = cli(tmp_path, base, curve_run(tmp_path, "new"), "--aggregate")
    assert code == 0 and verdict["aggregate"]["unavailable"] is None
    assert verdict["aggregate"]["ranges"] == {
        "a": {"low": 0.0, "high": 100.0, "metric": "eval_return", "source": "set in the suite"},
        "b": {"low": -50.0, "high": 50.0, "metric": "eval_return", "source": "set in the suite"},
    }
    assert verdict["aggregate"]["rows"][0]["status"] == "ok"


OLD_SUITE = """\
name: old
experiment: learning-curve
seeds: 2
env_steps: 1000
envs:
  - {name: garnet, label: a, params: {n_states: 3, n_actions: 2}, score_range: [0, 100]}
  - {name: garnet, label: b, params: {n_states: 3, n_actions: 2}, score_range: [-50, 50]}
policies: [tabular-softmax]
algorithms: [reinforce]
"""


# ---------------------------------------------------------------- a real run


TINY = """\
name: tiny-aggregate
experiment: learning-curve
seeds: 4
env_steps: 2000
eval_episodes: 2
backend: cpu
compare: {aggregate: {threshold: 0.05}}
envs:
  - name: garnet
    label: g1
    params: {n_states: 5, n_actions: 2, horizon: 10, seed: 0}
    log_every: 1000
  - name: garnet
    label: g2
    params: {n_states: 5, n_actions: 2, horizon: 10, seed: 1}
    log_every: 1000
policies:
  - {name: tabular-softmax, label: tabular}
algorithms:
  - name: reinforce
    params: {episodes: 8, optimizer: {kind: adam, lr: 0.1}}
"""


def test_real_run_against_itself_passes_and_a_lowered_one_fails(tmp_path):
    from pgbench.run.runner import run_suite

    suite = parse_suite(TINY)
    base = tmp_path / "base"
    assert run_suite(suite, base, suite_text=TINY).ok
    code, verdict = cli(tmp_path, base, base)  # the suite's block turns it on
    [row] = verdict["aggregate"]["rows"]
    assert code == 0 and row["status"] == "ok" and verdict["aggregate"]["tasks"] == ["g1", "g2"]
    ranges = verdict["aggregate"]["ranges"]
    assert {r["metric"] for r in ranges.values()} == {"exact_value"}  # exact, from the runner

    # NEW: every final exact value lowered by 20 % of its task's range
    table = load_results(base)
    new = tmp_path / "new"
    for cell in expand(suite):
        rows = table[table["cell"] == cell.hash].copy()
        width = ranges[cell.env.display]["high"] - ranges[cell.env.display]["low"]
        last = (rows["metric"] == "exact_value") & (rows["x"] == rows["x"].max())
        rows.loc[last, "value"] -= 0.2 * width
        write_cell(new, cell, rows)
    meta = {"cells": [c.hash for c in expand(suite)], "suite": {"text": TINY}}
    write_metadata(new, {**meta, "settings": suite.report_settings()})
    code, verdict = cli(tmp_path, base, new, "--metrics", "eval_return")
    [row] = verdict["aggregate"]["rows"]
    assert code == 1 and verdict["failures"] == [] and row["status"] == "regression"
    assert row["difference"] == pytest.approx(-0.2, abs=1e-9)


# ---------------------------------------------------------------- naming and budgets


def _two_sides(shift: float, unranged_labels=("x1", "x2"), new_budget: int = 1000):
    """BASE and NEW tables: reinforce on tasks a and b, and two reinforce entries on an
    env ``c`` without a range; NEW's final returns on a and b moved by ``shift``."""

    def side(move: float, budget: int) -> pd.DataFrame:
        rows = []
        for s in SEEDS:
            for env in ("a", "b"):
                rows += [
                    {**r, "x": r["x"] * budget // 1000}
                    for r in task_rows("reinforce", s, env, LEVEL[env] + s + move, "mine")
                ]
            for label in unranged_labels:
                rows += task_rows("reinforce", s, "c", 1.0, label=label)
        return pd.DataFrame.from_records(rows, columns=list(COLUMNS))

    return side(0.0, 1000), side(shift, new_budget)


def test_an_entry_on_an_env_without_a_range_names_both_sides_alike():
    """Two reinforce entries on c (no range) would split the name into labels ('mine' on
    a and b) if c took part in the naming; BASE and NEW must both call the algorithm on a
    and b 'reinforce', and a drop there must fail."""
    base, new = _two_sides(-40.0)
    check = aggregate_check(base, new, AggregateSpec(threshold=0.05), recorded(), recorded())
    [row] = check.rows
    assert row.algorithm == "reinforce" and row.status == "regression"
    assert row.difference == pytest.approx(-0.4, abs=1e-12)


def test_a_budget_that_moved_is_not_compared_and_says_why():
    base, new = _two_sides(0.0, new_budget=2000)
    check = aggregate_check(base, new, AggregateSpec(threshold=0.05), recorded(), recorded())
    assert check.rows == ()
    assert (
        "algorithm 'reinforce': its budget differs in NEW (env steps: a 1,000 -> 2,000, "
        "b 1,000 -> 2,000)" in check.notes
    )
