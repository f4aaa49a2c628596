"""The SB3-vs-pgbench MuJoCo comparison scripts (issue 13), without SB3 and without MuJoCo:
``benchmarks/sb3_mujoco.py``'s settings, arguments and output layout, and
``benchmarks/mujoco_side_by_side.py``'s numbers on hand-made tables, checked against
:mod:`pgbench.stats` directly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmarks import mujoco_side_by_side as sbs
from benchmarks import sb3_mujoco as sb3
from pgbench.algorithms.trainer import TrainRun
from pgbench.envs.score_ranges import MUJOCO
from pgbench.experiments.learning_curve.outputs import final_performance
from pgbench.results import load_results
from pgbench.results.table import COLUMNS, conform
from pgbench.stats import (
    aggregate,
    bootstrap_ci,
    group_rng,
    iqm,
    normalized_scores,
    probability_of_improvement,
)

REPO = Path(__file__).resolve().parents[1]
BUDGET = 1_000_000


# ---------------------------------------------------------------- sb3_mujoco.py


def test_importing_the_sb3_script_loads_neither_sb3_nor_torch():
    code = (
        "import sys; import benchmarks.sb3_mujoco; "
        "print(sorted(m for m in ('torch', 'stable_baselines3', 'gymnasium', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_arguments_and_their_defaults():
    a = sb3.parse_args(["--out", "/tmp/x"])
    assert a.tasks == ["halfcheetah", "hopper", "walker2d"] and a.seeds == [0, 1, 2, 3, 4]
    assert (a.steps, a.eval_every, a.eval_episodes, a.policy) == (BUDGET, 20_000, 5, "zoo")
    b = sb3.parse_args(
        "--tasks hopper --seeds 0 --steps 4096 --eval-every 2048 --eval-episodes 2 "
        "--policy suite --out /tmp/sb3_smoke".split()
    )
    assert (b.tasks, b.seeds, b.steps, b.eval_every, b.eval_episodes, b.policy) == (
        ["hopper"], [0], 4096, 2048, 2, "suite"
    )  # fmt: skip
    assert b.out == Path("/tmp/sb3_smoke")
    for bad in (["--tasks", "ant"], ["--steps", "0"], []):
        with pytest.raises(SystemExit):
            sb3.parse_args(bad + (["--out", "/tmp/x"] if bad else []))


def _doc_table() -> dict[str, list[str]]:
    """key -> the docstring table's three values (halfcheetah, hopper, walker2d)."""
    lines = sb3.__doc__.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["key", "halfcheetah"])
    rows = {}
    for ln in lines[start + 1 :]:
        if not ln.strip():
            break
        key, *values = ln.split()
        rows[key] = values[:3]
    return rows


def test_the_docstring_states_every_hyperparameter_the_script_passes():
    table = _doc_table()
    tasks = list(sb3.TASKS)
    keys = set(sb3.settings("hopper"))
    assert set(table) == keys  # every setting documented, no stale row
    for key in keys:
        assert table[key] == [sb3.doc_value(sb3.settings(t)[key]) for t in tasks], key


def test_zoo_values_and_the_walker2d_policy():
    hc, hop, walker = (sb3.settings(t) for t in ("halfcheetah", "hopper", "walker2d"))
    assert (hc["PPO.learning_rate"], hop["PPO.learning_rate"]) == (2.0633e-05, 9.80828e-05)
    for s in (hc, hop, walker):
        assert s["VecNormalize.gamma"] == s["PPO.gamma"] and s["env.n_envs"] == 1
        assert isinstance(s["PPO.learning_rate"], float)  # a constant, not a schedule
    assert walker["policy.activation_fn"] == "Tanh" and walker["policy.ortho_init"] is True
    assert sb3.policy_label("walker2d") == "sb3-zoo-64-tanh"
    suite = sb3.settings("walker2d", "suite")
    assert {k: suite[k] for k in suite if k.startswith("policy.")} == {
        k: hc[k] for k in hc if k.startswith("policy.")
    }
    assert (
        sb3.policy_label("walker2d", "suite") == sb3.policy_label("hopper") == ("sb3-zoo-256-relu")
    )
    assert sb3.settings("hopper", steps=4096)["env.n_timesteps"] == 4096
    with pytest.raises(ValueError, match="unknown task"):
        sb3.settings("ant")


def test_grid_points_are_pgbenchs():
    for budget, every in ((BUDGET, 20_000), (4096, 2048)):
        run = SimpleNamespace(budget=budget, log_every=every)
        for steps in (0, 512, 20_480, 40_448, 999_936, 1_000_448, 2048, 4096):
            assert sb3.grid_point(steps, budget, every) == TrainRun.grid_point(run, steps)


def test_eval_seeds_are_fixed_and_distinct():
    seeds = {sb3.eval_seed(s, p, e) for s in range(3) for p in range(51) for e in range(5)}
    assert len(seeds) == 3 * 51 * 5 and sb3.eval_seed(0, 1, 2) == sb3.eval_seed(0, 1, 2)
    assert all(0 <= s < 2**32 for s in seeds)


def test_csv_rows_are_in_pgbenchs_layout(tmp_path):
    assert sb3.COLUMNS == sbs.SB3_COLUMNS and sb3.TASKS == sbs.TASK_IDS
    assert set(sb3.COLUMNS) <= set(COLUMNS)
    nan = float("nan")
    points = [
        (0, dict(train_return=nan, eval_return=5.0, seconds=0.0, env_steps=0)),
        (20_000, dict(train_return=12.5, eval_return=7.25, seconds=3.5, env_steps=20_480)),
    ]
    rows = sb3.curve_rows("hopper", 3, "sb3-zoo-256-relu", points)
    path = sb3.csv_path(tmp_path, "hopper", 3)
    sb3.write_rows(path, rows)
    assert path.name == "hopper-seed3.csv" and [p.name for p in tmp_path.iterdir()] == [path.name]
    back = sbs.read_sb3(tmp_path)
    assert list(back.columns) == list(sb3.COLUMNS) and len(back) == 2 * len(sb3.METRICS)
    assert set(back["suite"]) == {"sb3-mujoco"} and set(back["method"]) == {"sb3-ppo"}
    assert set(back["x_name"]) == {"env_steps"} and set(back["experiment"]) == {"learning-curve"}
    got = back.set_index(["x", "metric"])["value"]
    assert np.isnan(got[0, "train_return"]) and got[20_000, "env_steps"] == 20_480.0
    assert got[20_000, "eval_return"] == 7.25


# ---------------------------------------------------------------- mujoco_side_by_side.py

PPO_LABELS = {t: f"ppo-{t}" for t in sbs.TASK_IDS}
RELU = '{"activation":"relu","hidden":[256,256]}'


def _curve(ident: dict, seed: int, final: float, seconds: float) -> list[dict]:
    """A two-point curve: x = 0 (a decoy value) and x = the budget."""
    out = []
    for x, ev, secs in ((0, -1e6, 0.0), (BUDGET, final, seconds)):
        for metric, value in (("eval_return", ev), ("seconds", secs), ("train_return", 1.0)):
            out.append({**ident, "seed": seed, "x": x, "metric": metric, "value": value})
    return out


def _pgbench_table(finals: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    """finals: (method label, task) -> (seeds,) final returns, seeds 0, 1, ..."""
    methods = {"ppo": ("ppo-clip", "zoo-256-relu", RELU), "a2c": ("a2c", "sb3-64-tanh", "{}")}
    rows = []
    for (label, task), values in finals.items():
        method, policy, params = methods[label.split("-")[0]]
        ident = dict(
            suite="mujoco", experiment="learning-curve", cell=f"{label}{task}",
            env="gymnasium", env_params=json.dumps({"id": sbs.TASK_IDS[task]}),
            env_label=task, policy="gaussian", policy_params=params, policy_label=policy,
            theta="", theta_params="", method=method, method_params="{}",
            method_label=label, unbiased=None, x_name="env_steps", reference="",
        )  # fmt: skip
        for seed, v in enumerate(values):
            rows += _curve(ident, seed, float(v), 60.0 * (seed + 1))
    return conform(pd.DataFrame(rows))


def _sb3_table(finals: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for task, values in finals.items():
        ident = dict(
            suite="sb3-mujoco", experiment="learning-curve", env_label=task,
            policy_label=sb3.policy_label(task), method="sb3-ppo", method_label="sb3-ppo",
            x_name="env_steps",
        )  # fmt: skip
        for seed, v in enumerate(values):
            rows += _curve(ident, seed, float(v), 120.0 * (seed + 1))
    return pd.DataFrame(rows)


@pytest.fixture
def case():
    rng = np.random.default_rng(7)
    pg = {
        ("ppo-halfcheetah", "halfcheetah"): rng.normal(1500, 300, 5),
        ("ppo-hopper", "hopper"): rng.normal(2000, 500, 5),
        ("ppo-walker2d", "walker2d"): rng.normal(2500, 500, 5),
        ("a2c", "halfcheetah"): rng.normal(800, 100, 5),
        ("a2c", "hopper"): rng.normal(900, 100, 3),  # seeds 3, 4 missing
    }
    sb = {"halfcheetah": rng.normal(1600, 300, 5), "hopper": rng.normal(2100, 400, 4)}
    return pg, sb


def test_per_task_numbers_are_pgbench_stats_and_final_performance(case):
    pg, sb = case
    table = _pgbench_table(pg)
    text, numbers = sbs.report(table, _sb3_table(sb), list(sbs.TASK_IDS), [0, 1, 2, 3, 4])
    fp = final_performance(table).set_index(["env", "algorithm"])
    for task, rows in numbers["tasks"].items():
        for row in rows:
            if row["algorithm"] == sbs.SB3:
                values = sb[task]
            else:
                values = pg[row["method_label"], task]
                ref = fp.loc[(task, row["method_label"])]
                assert (row["eval_iqm"], row["eval_iqm_lo"], row["eval_iqm_hi"]) == (
                    ref["eval_iqm"], ref["eval_iqm_lo"], ref["eval_iqm_hi"]
                )  # fmt: skip
            key = (task, row["policy_label"], row["method_label"])
            lo, hi = bootstrap_ci(values, group_rng(0, key), stat=iqm)
            assert row["eval_iqm"] == pytest.approx(float(iqm(values)), rel=1e-12)
            assert (row["eval_iqm_lo"], row["eval_iqm_hi"]) == (lo, hi)
            assert row["eval_mean"] == pytest.approx(values.mean(), rel=1e-12)
            assert row["n_seeds"] == values.size and row["seeds"] == list(range(values.size))
            scale = 2.0 if row["algorithm"] == sbs.SB3 else 1.0  # minutes per seed: 1, 2, ...
            assert row["minutes_median"] == pytest.approx(
                scale * np.median(np.arange(1, 6)[: values.size])
            )
            assert f"{row['eval_iqm']:.1f} [{lo:.1f}, {hi:.1f}]" in text
    hop = {r["algorithm"]: r for r in numbers["tasks"]["hopper"]}
    assert sbs.verdict(hop[sbs.PGBENCH_PPO], hop[sbs.SB3]) in text
    assert "## walker2d (Walker2d-v5)" in text and "The policies differ" not in text


def test_the_verdict_tests_the_two_sets_of_final_returns():
    from scipy.stats import mannwhitneyu, ttest_ind

    ours, theirs = np.array([2.0, 5.0, 5.0, 9.0]), np.array([1.0, 5.0, 3.0])
    pg = _pgbench_table({("ppo-hopper", "hopper"): ours})
    text, numbers = sbs.report(pg, _sb3_table({"hopper": theirs}), ["hopper"], [0, 1, 2, 3])
    hop = {r["algorithm"]: r for r in numbers["tasks"]["hopper"]}
    assert hop[sbs.PGBENCH_PPO]["finals"] == list(ours) and hop[sbs.SB3]["finals"] == list(theirs)
    # 12 pairs: 2 beats 1; each 5 beats 1 and 3 and ties 5; 9 beats all three -> 9 / 12
    mw = mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
    welch = ttest_ind(ours, theirs, equal_var=False).pvalue
    expected = f"P(pgbench > SB3) = {9 / 12:.2f}; Mann-Whitney p = {mw:.2f}, Welch p = {welch:.2f}."
    assert expected in sbs.verdict(hop[sbs.PGBENCH_PPO], hop[sbs.SB3]) and expected in text
    one = _sb3_table({"hopper": theirs[:1]})
    _, single = sbs.report(pg, one, ["hopper"], [0])
    row = {r["algorithm"]: r for r in single["tasks"]["hopper"]}
    assert "Mann-Whitney" not in sbs.verdict(row[sbs.PGBENCH_PPO], row[sbs.SB3])


def test_a_different_network_is_pointed_out():
    pg = _pgbench_table({("ppo-walker2d", "walker2d"): np.array([3000.0, 3100.0])})
    text, _ = sbs.report(pg, _sb3_table({"walker2d": np.array([2900.0])}), ["walker2d"], [0, 1])
    assert "The policies differ: pgbench PPO 256x256 relu, SB3 PPO 64x64 tanh." in text


def test_across_tasks_uses_the_tasks_both_sides_have(case):
    pg, sb = case
    text, numbers = sbs.report(
        _pgbench_table(pg), _sb3_table(sb), list(sbs.TASK_IDS), [0, 1, 2, 3, 4]
    )
    agg = numbers["across_tasks"]
    assert agg["tasks"] == ["halfcheetah", "hopper"]  # walker2d: no SB3 seeds
    assert "walker2d left out (SB3 PPO: no seeds)" in agg["notes"]
    low = np.array([MUJOCO["HalfCheetah"].low, MUJOCO["Hopper"].low])
    high = np.array([MUJOCO["HalfCheetah"].high, MUJOCO["Hopper"].high])
    seeds = {sbs.PGBENCH_PPO: [0, 1, 2, 3, 4], "pgbench A2C": [0, 1, 2], sbs.SB3: [0, 1, 2, 3]}
    assert agg["seeds"] == seeds
    raw = {
        sbs.PGBENCH_PPO: [pg["ppo-halfcheetah", "halfcheetah"], pg["ppo-hopper", "hopper"]],
        "pgbench A2C": [pg["a2c", "halfcheetah"], pg["a2c", "hopper"]],
        sbs.SB3: [sb["halfcheetah"], sb["hopper"]],
    }
    scores = {
        a: normalized_scores(np.stack([c[: len(seeds[a])] for c in cols], axis=1), low, high)
        for a, cols in raw.items()
    }
    expected = aggregate(scores, np.random.default_rng(0), sbs.METRIC_ORDER)
    assert [tuple(e.values()) for e in agg["estimates"]] == [
        tuple(vars(e).values()) for e in expected
    ]
    p = probability_of_improvement(
        scores[sbs.PGBENCH_PPO], scores[sbs.SB3], np.random.default_rng(0),
        names=(sbs.PGBENCH_PPO, sbs.SB3),
    )  # fmt: skip
    assert agg["probability_of_improvement"] == vars(p)
    assert f"P(pgbench PPO > SB3 PPO) = {p.probability:.3f} [{p.low:.3f}, {p.high:.3f}]" in text
    iqm_ppo = next(e for e in expected if (e.algorithm, e.metric) == (sbs.PGBENCH_PPO, "iqm"))
    assert f"{iqm_ppo.estimate:.3f} [{iqm_ppo.low:.3f}, {iqm_ppo.high:.3f}]" in text


def test_missing_results_are_listed(case):
    pg, sb = case
    _, numbers = sbs.report(_pgbench_table(pg), _sb3_table(sb), list(sbs.TASK_IDS), [0, 1, 2, 3, 4])
    assert numbers["missing"] == [
        "pgbench A2C on hopper: seeds 3, 4 missing",
        "SB3 PPO on hopper: seeds 4 missing",
        "pgbench A2C on walker2d: no seeds",
        "SB3 PPO on walker2d: no seeds",
    ]


def test_nothing_to_compare_yet():
    empty = conform(pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS}))
    text, numbers = sbs.report(empty, _sb3_table({"hopper": np.array([10.0])}), ["hopper"], [0])
    assert numbers["across_tasks"]["tasks"] == []
    assert numbers["missing"][0] == "pgbench: no finished learning-curve cells in the run"
    assert "No task has both pgbench PPO and SB3 PPO seeds yet." in text


def test_command_line_reads_both_sides_and_writes_json(case, tmp_path, capsys):
    pg, sb = case
    _pgbench_table(pg).to_parquet(tmp_path / "table.parquet")
    assert len(load_results(tmp_path / "table.parquet")) == len(_pgbench_table(pg))
    sb3_dir = tmp_path / "sb3"
    sb3_dir.mkdir()
    table = _sb3_table(sb)
    for (task, seed), rows in table.groupby(["env_label", "seed"]):
        sb3.write_rows(sb3.csv_path(sb3_dir, task, seed), rows.to_dict("records"))
    out = tmp_path / "numbers.json"
    argv = ["--pgbench", str(tmp_path / "table.parquet"), "--sb3", str(sb3_dir), "--json", str(out)]
    assert sbs.main(argv) == 0
    printed = capsys.readouterr().out
    _, numbers = sbs.report(_pgbench_table(pg), table, list(sbs.TASK_IDS), [0, 1, 2, 3, 4])
    written = json.loads(out.read_text())
    assert written["across_tasks"]["estimates"] == numbers["across_tasks"]["estimates"]
    assert written["missing"] == numbers["missing"] and "## Missing" in printed
    assert sbs.main(["--pgbench", str(tmp_path / "nowhere"), "--sb3", str(sb3_dir)]) == 2
