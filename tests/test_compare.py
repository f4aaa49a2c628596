"""``pgbench compare``: planted regressions fail, unchanged runs pass, the verdict rule's
edges (threshold, significance, too few seeds, improvements, missing), settings, errors."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu, ttest_ind

from pgbench import compare
from pgbench.errors import PgbenchError
from pgbench.experiments import parse_suite
from pgbench.metrics import HIGHER, LOWER
from pgbench.results import CELLS_DIR, COLUMNS, conform, load_results, write_cell, write_metadata
from pgbench.run.sweep import expand
from pgbench.stats import min_mannwhitney_p, relative_change_ci, seeds_needed, welch_p
from pgbench.suite.compare_block import CompareSpec
from pgbench.suite.errors import SuiteError

SEEDS = tuple(range(10))
# metadata.json settings of a suite without a compare: block, as the runner records them
RECORDED = {"description": "", "compare": None}
GQ_METRICS = {"mse": 0.5, "trace_cov": 0.4, "bias_norm": 0.1, "cosine": 0.6, "snr": 0.8}


# ---------------------------------------------------------------- synthetic runs


def _rows(experiment, method, seed, x_name, points, *, env="garnet", theta="", label=None):
    """Tidy rows of one cell: ``points`` is a list of (x, metric, value)."""
    ident = {
        "suite": "synthetic",
        "experiment": experiment,
        "env": env,
        "env_params": '{"n_states":3}' if env == "garnet" else "{}",
        "env_label": env,
        "policy": "tabular-softmax",
        "policy_params": "{}",
        "policy_label": "tabular-softmax",
        "theta": theta,
        "theta_params": '{"kind":"init","seed":0}' if theta else "",
        "method": method,
        "method_params": "{}",
        "method_label": label or method,
        "unbiased": None,
        "seed": seed,
        "x_name": x_name,
        "reference": "",
    }
    return [{**ident, "x": x, "metric": m, "value": v} for x, m, v in points]


def gradient_rows(method, seed, scale=None, rng=None, *, label=None, sizes=(16, 64)):
    """Gradient-quality rows: each metric of :data:`GQ_METRICS` at each batch size, with
    10% seed noise from ``rng`` (seeded by method and seed when None) times ``scale``."""
    scale = scale or {}
    rng = rng or np.random.default_rng([seed, sum(map(ord, method))])
    points = []
    for n in sizes:
        for metric, level in GQ_METRICS.items():
            value = level * (16 / n if metric in ("mse", "trace_cov") else 1.0)
            value *= 1.0 + 0.1 * rng.standard_normal()
            points.append((n, metric, value * scale.get(metric, 1.0)))
    return _rows("gradient-quality", method, seed, "batch_size", points, theta="init", label=label)


def curve_rows(method, seed, final_shift=0.0, base=400.0, early_shift=0.0):
    """Learning-curve rows: eval / train return at env steps 0 .. 1000 (seed noise sd 5),
    the last point shifted by ``final_shift``, the others by ``early_shift``."""
    rng = np.random.default_rng([seed, 7])
    points = []
    for k, x in enumerate(range(0, 1001, 250)):
        last = x == 1000
        for metric in ("eval_return", "train_return"):
            value = base * (k + 1) / 5 + 5.0 * rng.standard_normal()
            value += final_shift if last else early_shift
            points.append((x, metric, value))
        points.append((x, "seconds", 1.0 + x / 1000))
    return _rows("learning-curve", method, seed, "env_steps", points, env="cartpole")


def game_rows(method, seed, final_shift=0.0):
    """Two-agent rows: reward_1 / reward_2 at iterations 0 .. 50 (seed noise sd 0.02)."""
    rng = np.random.default_rng([seed, 11])
    points = []
    for it in (0, 25, 50):
        for metric in ("reward_1", "reward_2"):
            value = -1.0 + 0.01 * it + 0.02 * rng.standard_normal()
            points.append((it, metric, value + (final_shift if it == 50 else 0.0)))
    return _rows("two-agent", method, seed, "iteration", points, env="ipd")


def write_run(
    run_dir: Path, rows: list[dict], tag: str = "v1", settings: dict | None = RECORDED
) -> Path:
    """A run directory of ``rows`` written by the project's writers, one Parquet file per
    (experiment, method label) (all seeds in one file keeps the tests fast; the table read
    back is the same); the file hashes include ``tag`` (like the package version in a
    cell hash), so BASE and NEW hashes differ. ``settings`` is metadata.json's (None: no
    ``settings`` key, as in a run written before the runner recorded them)."""
    df = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    hashes = []
    for key, part in df.groupby(["experiment", "method_label"], sort=False):
        text = repr((tag, *key))
        h = hashlib.sha256(text.encode()).hexdigest()[:16]
        cell = SimpleNamespace(hash=h, canonical=lambda text=text: {"cell": text})
        write_cell(run_dir, cell, conform(part.assign(cell=h)))
        hashes.append(h)
    meta = {"cells": hashes, "suite": {"name": "synthetic", "text": ""}}
    write_metadata(run_dir, meta if settings is None else {**meta, "settings": settings})
    return run_dir


def gradient_run(tmp, name, seeds=SEEDS, scales=None, methods=("reinforce", "reward-to-go"), **kw):
    scales = scales or {}
    rows = [r for m in methods for s in seeds for r in gradient_rows(m, s, scales.get(m))]
    return write_run(tmp / name, rows, tag=name, **kw)


def cli(tmp_path: Path, *argv) -> tuple[int, dict | None]:
    """Run ``pgbench compare`` as the CLI does (PgbenchError -> one line, exit 2); returns
    (exit code, JSON verdict or None)."""
    parser = argparse.ArgumentParser(prog="pgbench")
    compare.add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "verdict.json"
    args = parser.parse_args(["compare", *map(str, argv), "--json", str(out)])
    try:
        code = compare.run(args)
    except PgbenchError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return 2, {"error": message}
    return code, json.loads(out.read_text())


def statuses(verdict: dict, **where) -> set[str]:
    rows = verdict["comparisons"]
    return {r["status"] for r in rows if all(r[k] == v for k, v in where.items())}


# ---------------------------------------------------------------- verdicts


def test_unchanged_run_passes(tmp_path, capsys):
    rows = [r for s in SEEDS for r in gradient_rows("reinforce", s)]
    rows += [r for s in SEEDS for r in curve_rows("ppo", s)]
    rows += [r for s in SEEDS for r in game_rows("lola vs lola", s)]
    base = write_run(tmp_path / "base", rows, tag="v1")
    new = write_run(tmp_path / "new", rows, tag="v2")
    assert set(load_results(base)["cell"]).isdisjoint(load_results(new)["cell"])

    code, verdict = cli(tmp_path, base, new)
    assert code == 0 and verdict["verdict"] == "pass" and verdict["failures"] == []
    assert statuses(verdict) == {"ok"}
    metrics = {r["metric"] for r in verdict["comparisons"]}
    assert metrics == {*GQ_METRICS, "eval_return", "train_return", "reward_1", "reward_2"}
    # one comparison per batch size, one final point per curve
    gq = [r for r in verdict["comparisons"] if r["experiment"] == "gradient-quality"]
    assert sorted({r["x"] for r in gq}) == [16, 64]
    curve = [r for r in verdict["comparisons"] if r["experiment"] != "gradient-quality"]
    assert {r["x"] for r in curve} == {None} and len(curve) == 4
    assert all(r["n_base"] == r["n_new"] == 10 for r in verdict["comparisons"])
    out = capsys.readouterr().out
    assert "PASS" in out and "reinforce" in out and "final" in out


def test_planted_mse_regression_fails_and_is_named(tmp_path, capsys):
    base = gradient_run(tmp_path, "base")
    new = gradient_run(tmp_path, "new", scales={"reward-to-go": {"mse": 2.0}})
    code, verdict = cli(tmp_path, base, new)
    assert code == 1 and verdict["verdict"] == "fail"
    failed = {(f["method"], f["metric"], f["x"]) for f in verdict["failures"]}
    assert failed == {("reward-to-go", "mse", 16), ("reward-to-go", "mse", 64)}
    for f in verdict["failures"]:
        assert f["status"] == "regression"
        assert f["change"] == pytest.approx(1.0, abs=0.15)
        assert f["change_lo"] < f["change"] < f["change_hi"]
        assert f["p_welch"] < 0.05 and f["p_mannwhitney"] < 0.05
    assert statuses(verdict, method="reinforce") == {"ok"}
    assert statuses(verdict, method="reward-to-go", metric="cosine") == {"ok"}
    out = capsys.readouterr().out
    assert "FAIL" in out and "regression" in out


def test_eval_return_drop_at_the_final_point_fails(tmp_path):
    base = write_run(tmp_path / "base", [r for s in SEEDS for r in curve_rows("ppo", s)])
    new = write_run(tmp_path / "new", [r for s in SEEDS for r in curve_rows("ppo", s, -200.0)])
    code, verdict = cli(tmp_path, base, new, "--metrics", "eval_return")
    assert code == 1
    [f] = verdict["failures"]
    assert (f["method"], f["metric"], f["x"]) == ("ppo", "eval_return", None)
    assert f["x_name"] == "env_steps"
    assert f["change"] == pytest.approx(-0.5, abs=0.02)  # 400 -> 200


def test_only_the_final_curve_point_counts(tmp_path):
    base = write_run(tmp_path / "base", [r for s in SEEDS for r in curve_rows("ppo", s)])
    rows = [r for s in SEEDS for r in curve_rows("ppo", s, early_shift=-300.0)]
    code, verdict = cli(tmp_path, base, write_run(tmp_path / "new", rows))
    assert code == 0 and statuses(verdict) == {"ok"}


def test_final_reward_drop_of_a_two_agent_run_fails(tmp_path):
    base = write_run(tmp_path / "base", [r for s in SEEDS for r in game_rows("pg vs pg", s)])
    rows = [r for s in SEEDS for r in game_rows("pg vs pg", s, final_shift=-0.3)]
    code, verdict = cli(tmp_path, base, write_run(tmp_path / "new", rows))
    assert code == 1
    assert {f["metric"] for f in verdict["failures"]} == {"reward_1", "reward_2"}
    # the base reward is negative (-0.5): worse means lower, scaled by |base|
    assert all(f["worse_by"] == pytest.approx(0.6, abs=0.05) for f in verdict["failures"])


def test_negative_returns_worse_is_lower_and_relative_to_the_magnitude():
    rng = np.random.default_rng(0)
    base = -200.0 + rng.standard_normal(10)
    drop = compare.compare_samples(base, base - 60.0, HIGHER, 1.25, 0.05, rng)
    assert drop["status"] == "regression" and drop["worse_by"] == pytest.approx(0.3, rel=1e-3)
    small = compare.compare_samples(base, base - 40.0, HIGHER, 1.25, 0.05, rng)
    assert small["status"] == "changed"  # 20% of |base|: significant, within 25%
    gain = compare.compare_samples(base, base + 150.0, HIGHER, 1.25, 0.05, rng)
    assert gain["status"] == "improved" and gain["change"] == pytest.approx(0.75, rel=1e-3)


def test_both_tests_must_agree():
    rng = np.random.default_rng(0)
    base = 1.0 + 0.05 * rng.standard_normal(10)
    # one wild seed: the ranks shift (Mann-Whitney fires), the mean is noise (Welch does not)
    wild = 2.0 + 0.05 * rng.standard_normal(10)
    wild[3] = 40.0
    one = compare.compare_samples(base, wild, LOWER, 1.25, 0.05, rng)
    assert one["p_mannwhitney"] < 0.05 < one["p_welch"] and one["status"] != "regression"
    # four seeds four times worse: the mean moves (Welch fires), most ranks do not
    some = base.copy()
    some[:4] *= 4.0
    four = compare.compare_samples(base, some, LOWER, 1.25, 0.05, rng)
    assert four["p_welch"] < 0.05 < four["p_mannwhitney"] and four["status"] != "regression"
    # with 10 seeds, both spreads hide a 25% change: underpowered rather than worse
    assert one["mdc"] > 1.0 and four["mdc"] > 1.0
    assert one["status"] == four["status"] == "underpowered"
    # 40 seeds, 11 of them 2x worse: Welch fires, the ranks hardly move, and the seeds
    # could detect a 25% change (MDC ~21%): worse, not failed
    data = np.random.default_rng(1)
    base, shifted = 1.0 + 0.05 * data.standard_normal(40), 1.0 + 0.05 * data.standard_normal(40)
    shifted[:11] += 1.0
    many = compare.compare_samples(base, shifted, LOWER, 1.25, 0.05, rng)
    assert many["p_welch"] < 0.05 < many["p_mannwhitney"] and many["worse_by"] > 0.25
    assert many["mdc"] < 0.25 and not many["underpowered"] and many["status"] == "worse"


def test_significant_change_within_the_threshold_passes(tmp_path):
    base = gradient_run(tmp_path, "base")
    new = gradient_run(tmp_path, "new", scales={"reward-to-go": {"mse": 1.15}})
    code, verdict = cli(tmp_path, base, new)
    assert code == 0 and verdict["failures"] == []
    changed = [
        r for r in verdict["comparisons"] if r["method"] == "reward-to-go" and r["metric"] == "mse"
    ]
    assert {r["status"] for r in changed} == {"changed"}
    assert all(r["p_welch"] < 0.05 and r["p_mannwhitney"] < 0.05 for r in changed)
    # the same change fails against a tighter threshold for mse only
    code, verdict = cli(tmp_path, base, new, "--threshold", "mse=1.1")
    assert code == 1 and {f["metric"] for f in verdict["failures"]} == {"mse"}


def test_large_change_with_too_few_seeds_warns_and_passes(tmp_path, capsys):
    base = gradient_run(tmp_path, "base", seeds=(0, 1, 2))
    new = gradient_run(tmp_path, "new", seeds=(0, 1, 2), scales={"reward-to-go": {"mse": 3.0}})
    code, verdict = cli(tmp_path, base, new)
    assert code == 0
    assert statuses(verdict, method="reward-to-go", metric="mse") == {"underpowered"}
    assert any("too few seeds" in w and "3 vs 3" in w for w in verdict["warnings"])
    assert any("could not be tested" in w for w in verdict["warnings"])
    assert "too few seeds" in capsys.readouterr().err


def test_improvements_never_fail(tmp_path):
    base = gradient_run(tmp_path, "base")
    better = {"mse": 0.2, "trace_cov": 0.2, "bias_norm": 0.2, "cosine": 1.5, "snr": 5.0}
    new = gradient_run(tmp_path, "new", scales={"reinforce": better, "reward-to-go": better})
    code, verdict = cli(tmp_path, base, new, "--threshold", "1.0")
    assert code == 0 and statuses(verdict) == {"improved"}


def test_missing_method_fails_unless_allowed(tmp_path):
    base = gradient_run(tmp_path, "base")
    new = gradient_run(tmp_path, "new", methods=("reinforce",))
    code, verdict = cli(tmp_path, base, new)
    assert code == 1
    failed = {(f["method"], f["status"]) for f in verdict["failures"]}
    assert failed == {("reward-to-go", "missing")}
    assert all(f["n_new"] == 0 and f["n_base"] == 10 for f in verdict["failures"])
    code, verdict = cli(tmp_path, base, new, "--allow-missing")
    assert code == 0 and any("missing from NEW" in w for w in verdict["warnings"])


def test_seeds_lost_in_new_are_compared_and_reported(tmp_path):
    base = gradient_run(tmp_path, "base")
    new = gradient_run(tmp_path, "new", seeds=SEEDS[:8])
    code, verdict = cli(tmp_path, base, new)
    assert code == 0 and statuses(verdict) == {"ok"}
    assert {(r["n_base"], r["n_new"]) for r in verdict["comparisons"]} == {(10, 8)}
    assert any("fewer seeds" in w for w in verdict["warnings"])


def test_method_only_in_new_is_reported_not_checked(tmp_path):
    base = gradient_run(tmp_path, "base", methods=("reinforce",))
    new = gradient_run(tmp_path, "new")
    code, verdict = cli(tmp_path, base, new)
    assert code == 0 and statuses(verdict, method="reward-to-go") == {"new"}


def test_seconds_are_compared_only_when_asked_for(tmp_path):
    base = write_run(tmp_path / "base", [r for s in SEEDS for r in curve_rows("ppo", s)])
    rows = [r for s in SEEDS for r in curve_rows("ppo", s)]
    for r in rows:
        if r["metric"] == "seconds":
            r["value"] *= 3.0 + 0.01 * r["seed"]
    new = write_run(tmp_path / "new", rows)
    assert cli(tmp_path, base, new)[0] == 0
    code, verdict = cli(tmp_path, base, new, "--metrics", "seconds")
    assert code == 1 and [f["metric"] for f in verdict["failures"]] == ["seconds"]


def test_same_config_under_two_labels_is_kept_apart(tmp_path):
    rows = [r for s in SEEDS for r in gradient_rows("reinforce", s, label="a")]
    rows += [r for s in SEEDS for r in gradient_rows("reinforce", s, label="b", sizes=(64,))]
    base = write_run(tmp_path / "base", rows)
    new_rows = [dict(r) for r in rows]
    for r in new_rows:
        if r["method_label"] == "b" and r["metric"] == "mse":
            r["value"] *= 2.0
    code, verdict = cli(tmp_path, base, write_run(tmp_path / "new", new_rows))
    assert code == 1 and {f["method"] for f in verdict["failures"]} == {"b"}


# ---------------------------------------------------------------- settings


def _recorded(block: dict) -> dict:
    """metadata.json settings with the compare block ``block``, validated and dumped as the
    runner records it."""
    return {**RECORDED, "compare": CompareSpec.model_validate(block).model_dump(mode="json")}


def test_recorded_compare_block_sets_the_threshold_and_the_flag_overrides_it(tmp_path):
    base = gradient_run(tmp_path, "base")
    scales = {"reward-to-go": {"mse": 2.0}}
    new = gradient_run(tmp_path, "new", scales=scales)
    assert cli(tmp_path, base, new)[0] == 1  # the defaults: a 2x mse is a regression
    block = {"threshold": 3.0, "alpha": 0.01, "metrics": ["mse", "cosine"]}
    new = gradient_run(tmp_path, "new3", scales=scales, settings=_recorded(block))
    code, verdict = cli(tmp_path, base, new)
    assert code == 0 and not any("compare block" in w for w in verdict["warnings"])
    assert verdict["settings"]["threshold"] == 3.0 and verdict["settings"]["alpha"] == 0.01
    assert {r["metric"] for r in verdict["comparisons"]} == {"mse", "cosine"}
    code, verdict = cli(tmp_path, base, new, "--threshold", "1.5")
    assert code == 1 and verdict["settings"]["alpha"] == 0.01


def test_recorded_block_is_read_from_metadata_not_from_the_suite_text(tmp_path):
    """The suite text in metadata.json is not parsed again: only ``settings.compare``."""
    base = gradient_run(tmp_path, "base")
    new = gradient_run(tmp_path, "new", scales={"reward-to-go": {"mse": 2.0}})
    meta = json.loads((new / "metadata.json").read_text())
    meta["suite"]["text"] = "name: x\ncompare: {threshold: 3.0}\n"
    write_metadata(new, meta)
    code, verdict = cli(tmp_path, base, new)
    assert code == 1 and verdict["settings"]["threshold"] == 1.25


def test_recorded_strict_and_pair_by_apply(tmp_path):
    base = gradient_run(tmp_path, "base", seeds=(0, 1, 2))
    block = {"strict": True, "pair_by": "label"}
    new = gradient_run(tmp_path, "new", seeds=(0, 1, 2), settings=_recorded(block))
    code, verdict = cli(tmp_path, base, new)
    assert code == 1 and verdict["settings"]["strict"] and verdict["settings"]["pair_by"] == "label"
    assert {f["failure"] for f in verdict["failures"]} == {"underpowered"}  # 3 vs 3 seeds


def test_run_without_recorded_settings_uses_the_defaults_and_warns(tmp_path, capsys):
    base = gradient_run(tmp_path, "base")
    new = gradient_run(tmp_path, "new", scales={"reward-to-go": {"mse": 2.0}}, settings=None)
    code, verdict = cli(tmp_path, base, new)
    assert code == 1 and verdict["settings"]["threshold"] == 1.25
    assert verdict["settings"]["metrics"] == list(compare.DEFAULT_METRICS)
    [line] = [w for w in verdict["warnings"] if "compare block" in w]
    assert line.startswith(str(new / "metadata.json")) and "re-run the suite" in line
    err = capsys.readouterr().err
    assert f"pgbench: warning: {line}\n" in err and "\n" not in line
    # a suite without a block, recorded as null: the defaults, no warning
    code, verdict = cli(tmp_path, base, gradient_run(tmp_path, "plain"))
    assert code == 0 and not any("compare block" in w for w in verdict["warnings"])
    # a Parquet file as NEW carries no settings: the defaults, no warning
    cell = next((new / CELLS_DIR).glob("*.parquet"))
    code, verdict = cli(tmp_path, base, cell)
    assert code == 1 and verdict["settings"]["threshold"] == 1.25  # the other method: missing
    assert not any("compare block" in w for w in verdict["warnings"])


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({**RECORDED, "compare": {"threshold": 0.5}}, "settings.compare: threshold: "),
        ({**RECORDED, "compare": {"metrics": ["msee"]}}, "did you mean 'mse'"),
        ("junk", "settings: not an object"),
    ],
)
def test_a_bad_recorded_block_is_a_one_line_error(tmp_path, settings, words):
    base = gradient_run(tmp_path, "base")
    new = gradient_run(tmp_path, "new", settings=settings)
    code, verdict = cli(tmp_path, base, new)
    assert code == 2 and words in verdict["error"], verdict["error"]
    assert verdict["error"].startswith(str(new / "metadata.json"))


def test_compare_block_is_validated_and_stays_out_of_cell_hashes():
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
    with_block = expand(parse_suite(suite + "compare: {threshold: 2, metrics: [mse]}\n"))
    assert [c.hash for c in plain] == [c.hash for c in with_block]
    for block, where, words in (
        ("compare: {threshold: 0.5}\n", ":9:", "greater than or equal to 1"),
        ("compare: {alpha: 1.5}\n", ":9:", "less than 1"),
        ("compare: {metrics: [mse, msee]}\n", ":9:", "did you mean 'mse'"),
        ("compare: {thresold: 2}\n", ":9:", "did you mean 'threshold'"),
        ("compare: {thresholds: {msee: 2}}\n", ":9:", "metric 'msee'"),
    ):
        with pytest.raises(SuiteError) as info:
            parse_suite(suite + block, "s.yaml")
        message = str(info.value)
        assert message.startswith("s.yaml" + where) and words in message, message
        assert "\n" not in message


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (("--threshold", "0.5"), "--threshold: "),
        (("--threshold", "abc"), "--threshold: not a number"),
        (("--threshold", "msee=2"), "did you mean 'mse'"),
        (("--alpha", "0"), "--alpha: "),
        (("--metrics", "mse,cosin"), "--metrics 'cosin': "),
    ],
)
def test_bad_flags_give_one_line_errors(tmp_path, flags, words):
    base = gradient_run(tmp_path, "base")
    code, verdict = cli(tmp_path, base, base, *flags)
    assert code == 2 and words in verdict["error"], verdict["error"]


def test_bad_paths_give_one_line_errors(tmp_path):
    base = gradient_run(tmp_path, "base")
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.parquet").write_text("not parquet")
    other = write_run(tmp_path / "other", [r for s in SEEDS for r in curve_rows("ppo", s)])
    for argv, words in (
        ((tmp_path / "nope", base), "BASE: no results at"),
        ((base, tmp_path / "empty"), "NEW: no results at"),
        ((base, tmp_path / "junk.parquet"), "NEW: cannot read results"),
        ((base, other), "share no configuration"),
    ):
        code, verdict = cli(tmp_path, *argv)
        assert code == 2 and words in verdict["error"], verdict["error"]


# ---------------------------------------------------------------- statistics


def test_smallest_mann_whitney_p_matches_scipy():
    assert min_mannwhitney_p(2, 2) == pytest.approx(1 / 3)
    assert min_mannwhitney_p(3, 3) == pytest.approx(0.1)
    assert min_mannwhitney_p(1, 5) == pytest.approx(1 / 3)
    for n1, n2 in ((2, 2), (3, 3), (4, 4), (3, 5)):
        p = mannwhitneyu(np.arange(n1), 10.0 + np.arange(n2), method="exact").pvalue
        assert min_mannwhitney_p(n1, n2) == pytest.approx(p)
    assert seeds_needed(0.05) == 4 and seeds_needed(0.01) == 5


def test_welch_p_matches_scipy():
    rng = np.random.default_rng(3)
    for na, nb, shift in ((2, 2, 0.5), (5, 9, 1.0), (10, 10, 0.0), (3, 30, -2.0)):
        a, b = rng.standard_normal(na), shift + 3.0 * rng.standard_normal(nb)
        expected = ttest_ind(a, b, equal_var=False).pvalue
        assert welch_p(a, b) == pytest.approx(expected, rel=1e-9)
    assert math.isnan(welch_p(np.ones(1), np.ones(5)))


def test_relative_change_interval_covers_the_change_and_is_reproducible():
    rng = np.random.default_rng(1)
    a, b = 1.0 + 0.1 * rng.standard_normal(10), 1.5 + 0.1 * rng.standard_normal(10)
    lo, hi = relative_change_ci(a, b, np.random.default_rng(2), 0.95, 2000)
    change = b.mean() / a.mean() - 1.0
    assert lo < change < hi and hi - lo < 0.3
    assert (lo, hi) == relative_change_ci(a, b, np.random.default_rng(2), 0.95, 2000)


def test_constant_and_non_finite_values():
    rng = np.random.default_rng(0)
    same = compare.compare_samples(np.ones(5), np.ones(5), LOWER, 1.25, 0.05, rng)
    assert same["status"] == "ok" and same["p_welch"] == 1.0 and same["change"] == 0.0
    jump = compare.compare_samples(np.ones(5), 2 * np.ones(5), LOWER, 1.25, 0.05, rng)
    assert jump["status"] == "regression"
    nan = compare.compare_samples(np.ones(5), np.full(5, np.nan), LOWER, 1.25, 0.05, rng)
    assert nan["status"] == "missing" and nan["n_new"] == 0
    inf = np.array([1.0, 2.0, np.inf, 1.5, 1.2])
    part = compare.compare_samples(inf, inf, HIGHER, 1.25, 0.05, rng)
    assert part["n_base"] == part["n_new"] == 4 and part["status"] == "ok"
    assert math.isnan(compare.compare_samples([], [], 1, 1.25, 0.05, rng)["change"])


# ---------------------------------------------------------------- a real run


TINY = """\
name: tiny-compare
experiment: gradient-quality
seeds: 6
repeats: 4
batch_sizes: [2, 8]
reference_episodes: 100
compare: {metrics: [mse, cosine]}
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 5}}
policies:
  - {name: tabular-softmax, params: {init_scale: 1.0}}
estimators:
  - reinforce
  - reward-to-go
"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    from pgbench.run.runner import run_suite

    suite = parse_suite(TINY)
    run_dir = tmp_path_factory.mktemp("compare") / "base"
    summary = run_suite(suite, run_dir, suite_text=TINY)
    assert summary.ok
    return suite, run_dir


def test_real_run_against_itself_passes_and_a_planted_regression_fails(real_run, tmp_path):
    suite, base = real_run
    code, verdict = cli(tmp_path, base, base)
    assert code == 0 and statuses(verdict) == {"ok"}
    assert {r["metric"] for r in verdict["comparisons"]} == {"mse", "cosine"}  # suite block
    assert not any("compare block" in w for w in verdict["warnings"])  # the runner recorded it

    table = load_results(base)
    new = tmp_path / "new"
    cells = expand(suite)
    for cell in cells:
        rows = table[table["cell"] == cell.hash].copy()
        if cell.method.name == "reinforce":
            mse = rows["metric"] == "mse"
            rows.loc[mse, "value"] *= 3.0
        write_cell(new, cell, rows)
    meta = {"cells": [c.hash for c in cells], "suite": {"text": TINY}}
    write_metadata(new, {**meta, "settings": suite.report_settings()})
    code, verdict = cli(tmp_path, base, new)
    assert code == 1 and verdict["settings"]["metrics"] == ["mse", "cosine"]
    assert {(f["method"], f["metric"]) for f in verdict["failures"]} == {("reinforce", "mse")}
    assert {f["x"] for f in verdict["failures"]} == {2, 8}
