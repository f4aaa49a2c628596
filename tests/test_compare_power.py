"""``pgbench compare``: the minimum detectable change and suggested seeds (hand-worked cases,
the noncentral-t oracle), ``--strict``, ``--pair-by label``, the ``--paired`` design
(Wilcoxon signed-rank on per-seed differences) and a verdict that cannot be written."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest
from scipy import stats

from pgbench import compare
from pgbench.cli import main
from pgbench.metrics import LOWER
from pgbench.stats import (
    min_detectable_change,
    min_detectable_change_paired,
    min_wilcoxon_p,
    pairs_needed,
    seeds_needed,
    suggest_seeds,
)
from tests.test_compare import SEEDS, cli, curve_rows, gradient_rows, gradient_run, write_run

ALPHA = 0.05


def _power_at(delta: float, df: float) -> float:
    """Power of a two-sided t-test at ALPHA whose statistic is noncentral t(df, delta)."""
    crit = stats.t.ppf(1.0 - ALPHA / 2.0, df)
    return float(stats.nct.sf(crit, df, delta) + stats.nct.cdf(-crit, df, delta))


# ---------------------------------------------------------------- minimum detectable change


def test_mdc_hand_computed():
    # 5 vs 5 seeds, sd 1: (t[.975, 8] + t[.8, 8]) * sqrt(2 / 5) = (2.306004 + 0.888889) * 0.632456
    assert min_detectable_change(1.0, 5, 1.0, 5, ALPHA) == pytest.approx(2.02062, abs=1e-4)
    # 6 pairs, sd of the differences 1: (t[.975, 5] + t[.8, 5]) / sqrt(6)
    paired = min_detectable_change_paired(1.0, 6, ALPHA)
    assert paired == pytest.approx((2.570582 + 0.919544) / math.sqrt(6), abs=1e-5)
    assert min_detectable_change(0.0, 5, 0.0, 5, ALPHA) == 0.0
    assert math.isnan(min_detectable_change(1.0, 1, 1.0, 5, ALPHA))
    assert math.isnan(min_detectable_change_paired(1.0, 1, ALPHA))


@pytest.mark.parametrize("n", [4, 5, 10, 40])
def test_a_change_of_one_mdc_is_detected_with_power_0_8(n):
    """Oracle: the t statistic of a true change of one MDC is noncentral t with noncentrality
    MDC / se (exact for equal sizes and spreads, and for pairs); the t-quantile formula
    leaves out the far tail, which matters only at the fewest degrees of freedom."""
    mdc = min_detectable_change(2.0, n, 2.0, n, ALPHA)
    assert _power_at(mdc / (2.0 * math.sqrt(2.0 / n)), 2 * n - 2) == pytest.approx(0.8, abs=0.01)
    mdc = min_detectable_change_paired(3.0, n, ALPHA)
    assert _power_at(mdc / (3.0 / math.sqrt(n)), n - 1) == pytest.approx(0.8, abs=0.02)
    # twice the MDC is detected far more often, half of it far less
    assert _power_at(2 * mdc / (3.0 / math.sqrt(n)), n - 1) > 0.95
    assert _power_at(0.5 * mdc / (3.0 / math.sqrt(n)), n - 1) < 0.4


def test_welch_power_at_the_mdc_by_simulation():
    """Unequal sizes and spreads (Welch df): Welch's test, simulated, fires about 80% of
    the time at a true change of one MDC."""
    rng = np.random.default_rng(5)
    mdc = min_detectable_change(1.0, 5, 3.0, 9, ALPHA)
    a = rng.standard_normal((20000, 5))
    b = mdc + 3.0 * rng.standard_normal((20000, 9))
    power = (stats.ttest_ind(a, b, axis=1, equal_var=False).pvalue < ALPHA).mean()
    assert 0.77 < power < 0.83


def test_suggested_seeds_are_the_smallest_that_suffice():
    for sd_b, sd_n, target in ((1.0, 1.0, 0.5), (1.0, 3.0, 0.8), (0.1, 0.1, 1.0), (1.0, 1.0, 0.05)):
        n = suggest_seeds(sd_b, sd_n, target, ALPHA)
        assert min_detectable_change(sd_b, n, sd_n, n, ALPHA) <= target
        if n > seeds_needed(ALPHA):
            assert min_detectable_change(sd_b, n - 1, sd_n, n - 1, ALPHA) > target
        else:
            assert n == seeds_needed(ALPHA) == 4  # the rank test's floor
    # Colas et al. 2018: N = 2 (t[.975, 2N-2] + t[.8, 2N-2])^2 s^2 / eps^2; s = 1, eps = 0.5:
    # N = 63.8 (the normal approximation, 2 (1.96 + 0.8416)^2 / 0.25 = 62.8, is 63), so 64
    assert suggest_seeds(1.0, 1.0, 0.5, ALPHA) == 64
    n = suggest_seeds(2.0, math.nan, 1.0, ALPHA, paired=True)
    assert min_detectable_change_paired(2.0, n, ALPHA) <= 1.0
    assert min_detectable_change_paired(2.0, n - 1, ALPHA) > 1.0
    assert suggest_seeds(0.0, 0.0, 1.0, ALPHA, paired=True) == pairs_needed(ALPHA)
    assert suggest_seeds(1.0, 1.0, 0.0, ALPHA) is None  # nothing detects a 0 change


def test_rows_carry_the_mdc_and_flag_the_underpowered():
    rng = np.random.default_rng(0)
    base = 10.0 + 0.5 * rng.standard_normal(10)
    quiet = compare.compare_samples(base, base, LOWER, 1.25, ALPHA, rng)
    sd = base.std(ddof=1)
    mdc = min_detectable_change(sd, 10, sd, 10, ALPHA) / base.mean()
    assert quiet["mdc"] == pytest.approx(mdc) and mdc < 0.25
    assert not quiet["underpowered"] and quiet["seeds_suggested"] is None
    noisy = 10.0 + 5.0 * rng.standard_normal(10)
    loud = compare.compare_samples(noisy, noisy, LOWER, 1.25, ALPHA, rng)
    assert loud["status"] == "ok" and loud["underpowered"] and loud["mdc"] > 0.25
    sd = noisy.std(ddof=1)
    expected = suggest_seeds(sd, sd, 0.25 * abs(noisy.mean()), ALPHA)
    assert loud["seeds_suggested"] == expected > 10
    few = compare.compare_samples(base[:3], base[:3], LOWER, 1.25, ALPHA, rng)
    assert few["mdc"] < 0.25 and few["underpowered"]  # Mann-Whitney cannot reach alpha
    assert few["seeds_suggested"] == seeds_needed(ALPHA)
    centred = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # mean exactly 0
    zero = compare.compare_samples(centred, centred, LOWER, 1.25, ALPHA, rng)
    assert zero["mdc"] == math.inf and zero["underpowered"] and zero["seeds_suggested"] is None


# ---------------------------------------------------------------- --strict


def test_strict_fails_underpowered_rows_only(tmp_path, capsys):
    base = gradient_run(tmp_path, "base")  # 10 seeds, 10% noise: MDC about 13%
    new = gradient_run(tmp_path, "new", scales={"reward-to-go": {"mse": 1.05}})
    code, verdict = cli(tmp_path, base, new, "--strict")
    assert code == 0 and verdict["settings"]["strict"] and verdict["underpowered"] == 0
    rows = verdict["comparisons"]
    assert all(0.05 < r["mdc"] < 0.25 and r["underpowered"] is False for r in rows)
    # a 10% threshold is below what 10 seeds of this spread can detect
    code, verdict = cli(tmp_path, base, new, "--threshold", "1.1")
    assert code == 0 and verdict["underpowered"] > 0
    assert any("underpowered" in w and "--strict fails them" in w for w in verdict["warnings"])
    weak = {(r["method"], r["metric"], r["x"]) for r in verdict["comparisons"] if r["underpowered"]}
    capsys.readouterr()
    code, verdict = cli(tmp_path, base, new, "--threshold", "1.1", "--strict")
    assert code == 1 and verdict["verdict"] == "fail"
    assert {(f["method"], f["metric"], f["x"]) for f in verdict["failures"]} == weak
    assert {f["failure"] for f in verdict["failures"]} == {"underpowered"}
    assert all(r["seeds_suggested"] > 10 for r in verdict["failures"])
    out = capsys.readouterr().out
    assert "underpowered: garnet" in out and "FAIL" in out and "--strict: failed" in out


def test_strict_fails_too_few_seeds_and_keeps_missing_failing(tmp_path):
    base = gradient_run(tmp_path, "base", seeds=(0, 1, 2))
    new = gradient_run(tmp_path, "new", seeds=(0, 1, 2), methods=("reinforce",))
    code, verdict = cli(tmp_path, base, new, "--strict")
    assert code == 1
    by = {(f["method"], f["failure"]) for f in verdict["failures"]}
    assert by == {("reinforce", "underpowered"), ("reward-to-go", "missing")}


# ---------------------------------------------------------------- --pair-by label


def _relabelled(rows: list[dict], method: str, params: str) -> list[dict]:
    """``rows`` with ``method``'s parameters replaced by ``params`` (its label kept)."""
    return [{**r, "method_params": params} if r["method"] == method else dict(r) for r in rows]


def test_pair_by_label_compares_a_changed_hyperparameter(tmp_path, capsys):
    """PPO with lr 1e-4 in BASE against PPO with lr 1e-3 in NEW, same label."""
    rows = [r for s in SEEDS for m in ("ppo", "a2c") for r in curve_rows(m, s)]
    base = write_run(tmp_path / "base", _relabelled(rows, "ppo", '{"lr":0.0001}'))
    new = write_run(tmp_path / "new", _relabelled(rows, "ppo", '{"lr":0.001}'))
    code, verdict = cli(tmp_path, base, new)
    assert code == 1 and verdict["settings"]["pair_by"] == "config"
    assert statuses_of(verdict, "ppo") == {"missing", "new"}
    assert statuses_of(verdict, "a2c") == {"ok"}

    code, verdict = cli(tmp_path, base, new, "--pair-by", "label")
    assert code == 0 and verdict["settings"]["pair_by"] == "label"
    assert statuses_of(verdict, "ppo") == statuses_of(verdict, "a2c") == {"ok"}
    ppo = [r for r in verdict["comparisons"] if r["method"] == "ppo"]
    assert len(ppo) == 2 and all(r["n_base"] == r["n_new"] == 10 for r in ppo)
    assert all(r["params_changed"] == ["method_params"] for r in ppo)
    assert all(r["method_params"] == '{"lr":0.001}' for r in ppo)  # NEW's
    assert any("parameters differ" in w and "ppo (method_params)" in w for w in verdict["warnings"])
    assert "paired by label" in capsys.readouterr().out

    drop = {"ppo": -200.0, "a2c": 0.0}
    dropped = [r for s in SEEDS for m in drop for r in curve_rows(m, s, drop[m])]
    worse = write_run(tmp_path / "worse", _relabelled(dropped, "ppo", '{"lr":0.001}'))
    code, verdict = cli(tmp_path, base, worse, "--pair-by", "label")
    assert code == 1
    assert {(f["method"], f["status"]) for f in verdict["failures"]} == {("ppo", "regression")}


def statuses_of(verdict: dict, method: str) -> set[str]:
    return {r["status"] for r in verdict["comparisons"] if r["method"] == method}


def test_pair_by_label_keeps_two_labels_of_one_configuration_apart(tmp_path):
    rows = [r for s in SEEDS for r in gradient_rows("reinforce", s, label="a")]
    rows += [r for s in SEEDS for r in gradient_rows("reinforce", s, label="b", sizes=(64,))]
    new_rows = [dict(r) for r in rows]
    for r in new_rows:
        if r["method_label"] == "b" and r["metric"] == "mse":
            r["value"] *= 2.0
    base, new = write_run(tmp_path / "base", rows), write_run(tmp_path / "new", new_rows)
    code, verdict = cli(tmp_path, base, new, "--pair-by", "label")
    assert code == 1 and {f["method"] for f in verdict["failures"]} == {"b"}
    assert all(r["params_changed"] == [] for r in verdict["comparisons"])


def test_pair_by_label_with_no_shared_label_is_bad_input(tmp_path):
    base = write_run(tmp_path / "base", [r for s in SEEDS for r in curve_rows("ppo", s)])
    new = write_run(tmp_path / "new", [r for s in SEEDS for r in curve_rows("a2c", s)])
    code, verdict = cli(tmp_path, base, new, "--pair-by", "label")
    assert code == 2 and "share no labels" in verdict["error"]


# ---------------------------------------------------------------- --paired


def test_paired_rows_match_scipy_wilcoxon():
    rng = np.random.default_rng(2)
    base = 1.0 + rng.random(8)
    new = base * 1.3 + 0.01 * rng.standard_normal(8)
    row = compare.compare_pairs(base, new, LOWER, 1.25, ALPHA, rng)
    expected = stats.wilcoxon(new - base, alternative="two-sided").pvalue
    assert row["p_wilcoxon"] == pytest.approx(expected) == pytest.approx(2 / 2**8)
    assert row["status"] == "regression" and row["n_base"] == row["n_new"] == 8
    assert math.isnan(row["p_welch"]) and math.isnan(row["p_mannwhitney"])
    sd = (new - base).std(ddof=1)
    mdc = min_detectable_change_paired(sd, 8, ALPHA) / base.mean()
    assert row["mdc"] == pytest.approx(mdc) and not row["underpowered"]
    assert row["change_lo"] < row["change"] < row["change_hi"]


def test_pairing_detects_a_slowdown_hidden_by_the_spread_between_seeds():
    """Seeds whose times differ by a factor of 10 (load, sizes): a uniform 30% slowdown is
    lost between seeds (independent design) and plain within them (paired)."""
    rng = np.random.default_rng(3)
    base = np.linspace(1.0, 10.0, 8) * (1.0 + 0.01 * rng.standard_normal(8))
    new = base * (1.3 + 0.01 * rng.standard_normal(8))
    apart = compare.compare_samples(base, new, LOWER, 1.25, ALPHA, rng)
    assert apart["status"] == "underpowered" and apart["p_welch"] > ALPHA
    assert apart["mdc"] > 0.25 and apart["underpowered"]
    paired = compare.compare_pairs(base, new, LOWER, 1.25, ALPHA, rng)
    assert paired["status"] == "regression" and paired["mdc"] < 0.25
    assert not paired["underpowered"]
    # the bootstrap resamples pairs: the interval is that of the per-seed ratio
    assert paired["change_lo"] < 0.3 < paired["change_hi"] < paired["change_lo"] + 0.05
    assert apart["change_hi"] - apart["change_lo"] > 1.0


def test_paired_zero_differences_are_dropped():
    rng = np.random.default_rng(4)
    base = np.arange(1.0, 11.0)
    same = compare.compare_pairs(base, base.copy(), LOWER, 1.25, ALPHA, rng)
    assert same["p_wilcoxon"] == 1.0 and same["mdc"] == 0.0
    assert same["status"] == "ok" and not same["underpowered"]  # 10 pairs could detect
    new = base.copy()
    new[:4] *= 3.0  # 4 seeds 3x slower, 6 unchanged
    part = compare.compare_pairs(base, new, LOWER, 1.25, ALPHA, rng)
    assert part["p_wilcoxon"] == pytest.approx(stats.wilcoxon(new[:4] - base[:4]).pvalue)
    assert part["p_wilcoxon"] == pytest.approx(2 / 2**4)  # only the 4 non-zero pairs count
    assert part["worse_by"] > 0.25 and part["status"] == "underpowered" and part["underpowered"]
    # 5 of 6 seeds 40% slower, one unchanged: the MDC (23%) is below the threshold, but the
    # 5 non-zero differences cannot reach alpha (smallest p 0.0625): underpowered, not worse
    five = compare.compare_pairs(np.full(6, 10.0), [14.0] * 5 + [10.0], 1, 1.25, ALPHA, rng)
    assert five["mdc"] < 0.25 < five["worse_by"] and five["p_wilcoxon"] == pytest.approx(0.0625)
    assert five["status"] == "underpowered" and five["underpowered"]


def test_paired_too_few_pairs_cannot_fail():
    rng = np.random.default_rng(5)
    base = 1.0 + rng.random(6)
    new = base + 1.5  # differences without spread: only the rank test limits
    five = compare.compare_pairs(base[:5], new[:5], LOWER, 1.25, ALPHA, rng)
    assert five["p_wilcoxon"] == pytest.approx(0.0625) and five["status"] == "underpowered"
    assert five["seeds_suggested"] == pairs_needed(ALPHA) == 6
    six = compare.compare_pairs(base, new, LOWER, 1.25, ALPHA, rng)
    assert six["p_wilcoxon"] == pytest.approx(0.03125) and six["status"] == "regression"
    assert min_wilcoxon_p(5) == 0.0625 and min_wilcoxon_p(0) == 1.0
    empty = compare.compare_pairs([np.nan], [1.0], LOWER, 1.25, ALPHA, rng)
    assert empty["status"] == "no-data" and empty["underpowered"]


def _timed(seeds, slowdown: float = 1.0):
    """Learning-curve rows whose ``seconds`` vary 10x between seeds, times ``slowdown``."""
    rows = [r for s in seeds for r in curve_rows("ppo", s)]
    for r in rows:
        if r["metric"] == "seconds":
            r["value"] *= (1.0 + r["seed"]) * slowdown * (1.0 + 0.001 * (r["x"] % 7))
    return rows


def test_paired_seconds_of_side_by_side_runs(tmp_path, capsys):
    base = write_run(tmp_path / "base", _timed(range(10)))
    new = write_run(tmp_path / "new", _timed(range(10), slowdown=1.4))
    code, verdict = cli(tmp_path, base, new, "--metrics", "seconds")
    assert code == 0 and statuses_of(verdict, "ppo") == {"underpowered"}
    capsys.readouterr()
    code, verdict = cli(tmp_path, base, new, "--metrics", "seconds", "--paired")
    assert code == 1 and verdict["settings"]["paired"] is True
    assert "p_wilcoxon < alpha" in verdict["settings"]["rule"]
    [f] = verdict["failures"]
    assert (f["metric"], f["status"], f["n_base"]) == ("seconds", "regression", 10)
    assert f["n_unpaired"] == 0
    assert f["change"] == pytest.approx(0.4, abs=1e-3) and f["p_welch"] is None
    out = capsys.readouterr().out
    assert "p Wilcoxon" in out and "paired Wilcoxon signed-rank" in out


def test_paired_leaves_out_and_counts_seeds_on_one_side(tmp_path):
    base = write_run(tmp_path / "base", _timed(range(0, 8)))
    new = write_run(tmp_path / "new", _timed(range(2, 10)))
    code, verdict = cli(tmp_path, base, new, "--metrics", "seconds", "--paired")
    assert code == 0
    [row] = verdict["comparisons"]
    assert (row["n_base"], row["n_new"], row["n_unpaired"]) == (6, 6, 4)
    assert any("4 values of 1 comparisons have no partner" in w for w in verdict["warnings"])
    apart = write_run(tmp_path / "apart", _timed(range(10, 15)))
    code, verdict = cli(tmp_path, base, apart, "--metrics", "seconds", "--paired")
    assert code == 2 and "share no seed" in verdict["error"]


# ---------------------------------------------------------------- output and exit codes


def test_json_keeps_the_old_keys_and_adds_the_power_columns(tmp_path, capsys):
    base = gradient_run(tmp_path, "base", seeds=(0, 1, 2, 3, 4))
    code, verdict = cli(tmp_path, base, base)
    old = {"n_base", "n_new", "base_mean", "new_mean", "change", "change_lo", "change_hi"}
    old |= {"worse_by", "p_welch", "p_mannwhitney", "status", "experiment", "env", "policy"}
    old |= {"theta", "method", "x_name", "x", "metric", "direction", "threshold"}
    old |= {"env_params", "policy_params", "theta_params", "method_params"}
    added = {"mdc", "underpowered", "seeds_suggested", "p_wilcoxon", "params_changed"}
    row = verdict["comparisons"][0]
    assert old | added <= set(row) and row["p_wilcoxon"] is None
    assert {"threshold", "alpha", "metrics", "allow_missing", "ci_level", "rule"} <= set(
        verdict["settings"]
    )
    assert verdict["settings"]["power"] == 0.8 and verdict["settings"]["pair_by"] == "config"
    out = capsys.readouterr().out
    assert "MDC" in out and "+-" in out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pgbench")
    compare.add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_a_verdict_that_cannot_be_written_is_bad_input(tmp_path, capsys):
    base = gradient_run(tmp_path, "base", seeds=(0, 1, 2, 3))
    (tmp_path / "file").write_text("x")
    taken = tmp_path / "taken"
    (taken / "compare.json").mkdir(parents=True)
    for path in (tmp_path / "file" / "verdict.json", taken / "compare.json"):
        args = _parser().parse_args(["compare", str(base), str(base), "--json", str(path)])
        with pytest.raises(compare.CompareError, match="cannot write the verdict") as info:
            compare.run(args)
        assert "\n" not in str(info.value)
        assert main(["compare", str(base), str(base), "--json", str(path)]) == 2
    assert [p.name for p in taken.iterdir()] == ["compare.json"]  # no temporary file left
    out, err = capsys.readouterr()
    assert out == ""  # the verdict is written before anything is printed
    assert "pgbench: error: --json: cannot write the verdict" in err and "Traceback" not in err
    assert not (base / "compare.json").exists()
