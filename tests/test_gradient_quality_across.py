"""The gradient-quality ranking aggregated across problems (across_problems.md / .csv / .png):
scores by hand, the base, the choice of estimators and panels on rectangular and ragged
tables, the aggregates against pgbench.stats, the files; on hand-made tidy tables (no Numba
run) and on the committed CI baseline's table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pgbench.experiments import get_kind
from pgbench.experiments.gradient_quality.across_figure import ACROSS_PNG
from pgbench.experiments.gradient_quality.across_problems import (
    ACROSS_COLUMNS,
    ACROSS_CSV,
    ACROSS_MD,
    across_markdown,
    across_problems,
    base_estimator,
    mse_rows,
    score_matrices,
    select,
)
from pgbench.experiments.gradient_quality.outputs import write_outputs
from pgbench.results import COLUMNS, conform, load_results
from pgbench.stats import aggregate_iqm, aggregate_mean, probability_of_improvement

ROOT = Path(__file__).resolve().parents[1]
CI_BASELINE = ROOT / "results" / "baseline" / "ci-estimators"
ESTIMATORS = {  # label -> (method, params)
    "reinforce": ("reinforce", {}),
    "reinforce+const": ("reinforce", {"baseline": "constant"}),
    "rtg": ("reward-to-go", {}),
    "critic": ("advantage-critic", {"critic": "exact"}),
    "fd": ("fd-central", {"delta": 0.5}),
    "natural": ("natural", {}),
}


def _rows(label, env, n, mses, reference="exact", theta="init", seeds=None) -> list[dict]:
    method, params = ESTIMATORS[label]
    seeds = range(len(mses)) if seeds is None else seeds
    base = {
        "suite": "hand",
        "experiment": "gradient-quality",
        "cell": "c",
        "env": env,
        "env_params": "{}",
        "env_label": env,
        "policy": "tabular-softmax",
        "policy_params": "{}",
        "policy_label": "tabular",
        "theta": theta,
        "theta_params": "{}",
        "method": method,
        "method_params": json.dumps(params, separators=(",", ":")),
        "method_label": label,
        "unbiased": True,
        "x_name": "batch_size",
        "x": n,
        "reference": reference,
    }
    out = []
    for seed, mse in zip(seeds, mses, strict=True):
        for metric, value in (("mse", mse), ("cosine", 0.5)):
            out.append({**base, "seed": seed, "metric": metric, "value": value})
    return out


def _table(*parts: list[dict]) -> pd.DataFrame:
    return conform(pd.DataFrame([r for p in parts for r in p], columns=list(COLUMNS)))


def _square(estimators=("reinforce", "rtg"), envs=("a", "b", "c"), sizes=(4, 16)):
    """Every estimator on every env and size, 4 seeds, MSEs that fall with N; rtg 10x lower,
    the critic 100x lower than reinforce (each seed's MSE scaled by 1, 2, 0.5, 1.5)."""
    factor = {"reinforce": 1.0, "reinforce+const": 0.5, "rtg": 0.1, "critic": 0.01, "fd": 3.0}
    spread = np.array([1.0, 2.0, 0.5, 1.5])
    parts = []
    for k, env in enumerate(envs):
        for n in sizes:
            for est in estimators:
                mses = factor.get(est, 1.0) * (k + 1) * spread / n
                parts.append(_rows(est, env, n, list(mses)))
    return _table(*parts)


def test_scores_are_orders_of_magnitude_below_the_base_median():
    table = _table(
        _rows("reinforce", "a", 8, [1.0, 2.0, 4.0]),  # median 2
        _rows("rtg", "a", 8, [0.2, 0.02, 2.0]),
        _rows("reinforce", "b", 8, [10.0, 30.0, 20.0]),  # median 20
        _rows("rtg", "b", 8, [2.0, 200.0, 20.0]),
    )
    rows = mse_rows(table)
    selection = select(rows)
    assert selection.base == "reinforce" and selection.estimators == ("reinforce", "rtg")
    scores = score_matrices(rows, selection, 8)
    np.testing.assert_allclose(scores["rtg"], [[1.0, 1.0], [2.0, -1.0], [0.0, 0.0]])
    np.testing.assert_allclose(
        scores["reinforce"], np.log10([[2.0, 2.0], [1.0, 2 / 3], [0.5, 1.0]])
    )


def test_the_base_is_plain_reinforce_then_the_first_reinforce_then_the_first():
    def base(*labels):
        return base_estimator(mse_rows(_table(*(_rows(e, "a", 4, [1.0]) for e in labels))))

    assert base("rtg", "reinforce+const", "reinforce") == "reinforce"
    assert base("rtg", "reinforce+const") == "reinforce+const"
    assert base("rtg", "critic") == "rtg"
    plain = _rows("reinforce+const", "a", 4, [1.0])  # baseline "none" spelled out: default
    for r in plain:
        r.update(method_params='{"baseline":"none"}', method_label="reinforce(none)")
    assert base_estimator(mse_rows(_table(_rows("rtg", "a", 4, [1.0]), plain))) == (
        "reinforce(none)"
    )


def test_the_largest_rectangle_of_estimators_by_panels():
    """reinforce, rtg, fd on a, b, c, d; the critic on a, b only: 3 x 4 = 12 beats 4 x 2;
    natural (another reference) and panel e (no base) are left out, with the reason."""
    full = _square(("reinforce", "rtg", "fd"), envs=("a", "b", "c", "d"))
    critic = _square(("critic",), envs=("a", "b"))
    natural = _table(_rows("natural", "a", 4, [1.0] * 4, reference="exact-natural"))
    no_base = _square(("rtg",), envs=("e",))
    rows = mse_rows(pd.concat([full, critic, natural, no_base], ignore_index=True))
    s = select(rows)
    assert s.estimators == ("reinforce", "rtg", "fd")
    assert [p[0] for p in s.panels] == ["a", "b", "c", "d"]
    assert s.batch_sizes == (4, 16)
    assert s.references == {p: "exact" for p in s.panels}
    why = dict(s.left_out)
    assert why["critic"] == "not run on c · tabular · init, d · tabular · init"
    assert why["natural"] == "compared with exact-natural (another estimand)"
    assert why["e · tabular · init"] == "no usable MSE of the base reinforce"
    # with the critic on three of four panels, 4 x 3 = 12 ties 3 x 4: more panels win
    critic3 = _square(("critic",), envs=("a", "b", "c"))
    s = select(mse_rows(pd.concat([full, critic3], ignore_index=True)))
    assert len(s.estimators) == 3 and len(s.panels) == 4
    critic4 = _square(("critic",), envs=("a", "b", "c", "d"))
    s = select(mse_rows(pd.concat([full, critic4], ignore_index=True)))
    assert s.estimators == ("reinforce", "rtg", "fd", "critic") and len(s.panels) == 4


def test_common_batch_sizes_and_seeds():
    """fd from N = 16 on (a min_batch): the common sizes are 16 and 64; an estimator's runs
    are the seeds it has on every panel."""
    lr = _square(("reinforce", "rtg"), sizes=(4, 16, 64))
    fd = _square(("fd",), sizes=(16, 64))
    table = pd.concat([lr, fd], ignore_index=True)
    table = table[~((table["method_label"] == "rtg") & (table["env_label"] == "b"))]
    table = table[
        ~((table["method_label"] == "rtg") & (table["seed"] == 3) & (table["env_label"] == "c"))
    ]
    rtg_b = _table(*(_rows("rtg", "b", n, [0.1, 0.2, 0.3], seeds=[1, 2, 3]) for n in (4, 16, 64)))
    table = pd.concat([table, rtg_b], ignore_index=True)
    selection, frame = across_problems(table, reps=50)
    assert selection.batch_sizes == (16, 64)
    assert sorted(set(frame["batch_size"])) == [16, 64]
    runs = frame[frame["batch_size"] == 64].set_index("estimator")["n_runs"]
    assert runs.to_dict() == {"reinforce": 4, "rtg": 2, "fd": 4}  # rtg: seeds 1, 2 on a, b, c
    assert set(frame["n_problems"]) == {3}


def test_no_seed_on_every_panel_is_no_run():
    """rtg with seeds 0, 1 on a and 2, 3 on b: no run of it spans the problems."""
    lr = _square(("reinforce",), envs=("a", "b"), sizes=(8,))
    rtg = _table(_rows("rtg", "a", 8, [0.1, 0.2], seeds=[0, 1]))
    rtg_b = _table(_rows("rtg", "b", 8, [0.1, 0.2], seeds=[2, 3]))
    table = pd.concat([lr, rtg, rtg_b], ignore_index=True)
    assert select(mse_rows(table)) is None
    critic = _square(("critic",), envs=("a", "b"), sizes=(8,))
    s = select(mse_rows(pd.concat([table, critic], ignore_index=True)))
    assert s.estimators == ("reinforce", "critic")
    assert dict(s.left_out) == {"rtg": "no seed with results on every panel"}


def test_an_mse_of_zero_makes_a_pair_unusable():
    """An MSE of 0 (clipped below a Monte Carlo reference's noise) has no log: the critic
    is not usable on c, and 2 x 3 ties 3 x 2 (more panels win); usable at N = 16 again,
    3 x 3 at that one batch size wins."""
    table = _square(("reinforce", "rtg", "critic"))
    zero = (table["method_label"] == "critic") & (table["env_label"] == "c")
    zero &= (table["metric"] == "mse") & (table["seed"] == 0)
    table.loc[zero, "value"] = 0.0
    s = select(mse_rows(table))
    assert s.estimators == ("reinforce", "rtg") and len(s.panels) == 3
    assert dict(s.left_out)["critic"].startswith("an MSE of 0")
    table.loc[zero & (table["x"] == 16), "value"] = 1e-3
    s = select(mse_rows(table))
    assert len(s.estimators) == 3 and len(s.panels) == 3 and s.batch_sizes == (16,)


def test_nothing_with_fewer_than_two_panels_or_estimators(tmp_path):
    one_panel = _square(envs=("a",))
    one_estimator = _square(("reinforce",))
    other = _square(("rtg", "critic"))  # no reinforce: the base is rtg, the first listed
    for table in (one_panel, one_estimator):
        assert select(mse_rows(table)) is None
        selection, frame = across_problems(table)
        assert selection is None and frame.empty and list(frame.columns) == ACROSS_COLUMNS
        written = {p.name for p in write_outputs(table, tmp_path, {})}
        assert not written & {ACROSS_CSV, ACROSS_MD, ACROSS_PNG}
        assert "ranking.md" in written
    assert select(mse_rows(other)).base == "rtg"


def test_aggregates_are_the_stats_functions_of_the_scores():
    table = _square(("reinforce", "reinforce+const", "rtg", "critic"))
    rows = mse_rows(table)
    selection, frame = across_problems(table, np.random.default_rng(7), reps=200)
    assert list(frame.columns) == ACROSS_COLUMNS
    for n in (4, 16):
        scores = score_matrices(rows, selection, n)
        at = frame[frame["batch_size"] == n].set_index("estimator")
        assert list(at.index) == ["critic", "rtg", "reinforce+const", "reinforce"]  # by IQM
        assert list(at["rank"]) == [1, 2, 3, 4]
        for est, x in scores.items():
            assert at.loc[est, "iqm"] == pytest.approx(float(aggregate_iqm(x)))
            assert at.loc[est, "mean"] == pytest.approx(float(aggregate_mean(x)))
            assert at.loc[est, "iqm_lo"] <= at.loc[est, "iqm"] <= at.loc[est, "iqm_hi"]
            if est != "reinforce":
                p = probability_of_improvement(x, scores["reinforce"]).probability
                assert at.loc[est, "p_over_base"] == pytest.approx(p)
        assert math.isnan(at.loc["reinforce", "p_over_base"])
        # 10x lower MSE than rtg on every seed and panel: one order of magnitude higher
        np.testing.assert_allclose(scores["critic"] - scores["rtg"], 1.0)
        assert at.loc["critic", "iqm"] - at.loc["rtg", "iqm"] == pytest.approx(1.0)
        assert at.loc["critic", "p_over_base"] == 1.0
    again = across_problems(table, np.random.default_rng(7), reps=200)[1]
    pd.testing.assert_frame_equal(frame, again)
    other = across_problems(table, np.random.default_rng(8), reps=200)[1]
    assert other["iqm"].equals(frame["iqm"]) and not other["iqm_lo"].equals(frame["iqm_lo"])


def test_files_and_captions(tmp_path):
    table = pd.concat(
        [_square(("reinforce", "rtg", "fd")), _square(("natural",), envs=("a",))],
        ignore_index=True,
    )
    table.loc[table["method_label"] == "natural", "reference"] = "exact-natural"
    paths = write_outputs(table, tmp_path, {})
    names = [p.name for p in paths]
    kind = get_kind("gradient-quality")
    assert ACROSS_PNG in kind.figures and ACROSS_MD in kind.tables
    figures = [n for n in names if n.endswith(".png")]
    assert figures[-1] == ACROSS_PNG and names.index(ACROSS_PNG) < names.index("ranking.md")
    assert names[-2:] == [ACROSS_CSV, ACROSS_MD]
    assert (tmp_path / ACROSS_PNG).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    md = (tmp_path / ACROSS_MD).read_text()
    for text in (
        "log10(MSE_base / MSE)",
        "base estimator's (reinforce)",
        "95% stratified-bootstrap percentile intervals (2000 replicates",
        "default_rng(0)",
        "3 problems at N = 16, 3 with the exact gradient",
        "## N = 16",
        "| reinforce (base) |",
        "## IQM at every common batch size",
        "- a · tabular · init (reference exact)",
        "- natural: compared with exact-natural (another estimand)",
    ):
        assert text in md, text
    csv = pd.read_csv(tmp_path / ACROSS_CSV)
    assert list(csv.columns) == ACROSS_COLUMNS and len(csv) == 6
    first = {n: (tmp_path / n).read_bytes() for n in (ACROSS_CSV, ACROSS_MD)}
    write_outputs(table, tmp_path, {})
    assert first == {n: (tmp_path / n).read_bytes() for n in (ACROSS_CSV, ACROSS_MD)}


def test_markdown_of_one_batch_size_has_no_trend_table():
    table = _square(sizes=(8,))
    selection, frame = across_problems(table, reps=20)
    md = across_markdown(selection, frame, "t", reps=20)
    assert md.startswith("# Gradient estimators across problems: t\n")
    assert "## N = 8" in md and "every common batch size" not in md and "Left out" not in md


@pytest.mark.skipif(not CI_BASELINE.is_dir(), reason="no committed CI baseline")
def test_the_ci_baseline_aggregates_rtg_over_reinforce():
    """The CI suite's table (committed): reinforce+const (the base) and rtg+time on the garnet
    (exact) and CartPole (Monte Carlo) panels at N = 16, 64, 256; the critic (garnet only)
    and finite differences (CartPole only) left out; rtg+time below the base's MSE."""
    table = load_results(CI_BASELINE)
    selection, frame = across_problems(table, reps=200)
    assert selection.base == "reinforce+const"
    assert selection.estimators == ("reinforce+const", "rtg+time")
    assert [p[0] for p in selection.panels] == ["garnet", "cartpole"]
    assert sorted(set(selection.references.values())) == ["exact", "mc-20000"]
    assert selection.batch_sizes == (16, 64, 256)
    assert {w for w, _ in selection.left_out} == {"adv-critic(exact)", "fd-central(0.5)"}
    rtg = frame[frame["estimator"] == "rtg+time"]
    assert (rtg["rank"] == 1).all() and (rtg["iqm_lo"] > 0).all()
