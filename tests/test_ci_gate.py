"""The CI regression gate: the committed baseline of the CI suites (``results/baseline/``)
pairs with the suites as committed (checked from the suite files, without running them).
The kernel speed gate (``benchmarks/gate.py``) is tested in ``tests/test_gate.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pgbench.experiments import load_suite
from pgbench.results import CELLS_DIR, METADATA, load_results
from pgbench.run.sweep import expand
from pgbench.seeding import canonical_json
from pgbench.stats import min_mannwhitney_p

ROOT = Path(__file__).resolve().parents[1]
CI_SUITES = sorted((ROOT / "suites" / "ci").glob("*.yaml"))
BASELINE = ROOT / "results" / "baseline"
CONFIG = ["experiment", "env", "env_params", "policy", "policy_params"]
CONFIG += ["theta_params", "method", "method_params", "seed"]


# ---------------------------------------------------------------- the CI suites' baseline


def _cell_configs(suite_path: Path) -> pd.DataFrame:
    """One row per cell of the suite: the configuration columns compare pairs by, and seed."""
    rows = []
    for cell in expand(load_suite(suite_path)):
        rows.append(
            {
                "experiment": cell.experiment,
                "env": cell.env.name,
                "env_params": canonical_json(cell.env.params),
                "policy": cell.policy.name,
                "policy_params": canonical_json(cell.policy.params),
                "theta_params": canonical_json(cell.theta.definition()) if cell.theta else "",
                "method": cell.method.name,
                "method_params": canonical_json(cell.method.params),
                "seed": cell.seed,
            }
        )
    return pd.DataFrame(rows, columns=CONFIG)


def _as_set(df: pd.DataFrame) -> set[tuple]:
    return {tuple(str(v) for v in row) for row in df[CONFIG].itertuples(index=False)}


def test_ci_suites_exist():
    assert {p.stem for p in CI_SUITES} >= {"estimators", "algorithms", "games"}


@pytest.mark.parametrize("suite_path", CI_SUITES, ids=lambda p: p.stem)
def test_ci_baseline_pairs_with_the_suite(suite_path):
    """Every cell of the suite as committed has rows in its baseline run (and the baseline
    has no configuration the suite lacks), every cell file the baseline's metadata lists
    is committed, and every configuration has enough seeds for compare's tests to fire."""
    suite = load_suite(suite_path)
    run_dir = BASELINE / suite.name
    assert (run_dir / METADATA).is_file(), f"no baseline run {run_dir}"
    listed = json.loads((run_dir / METADATA).read_text())["cells"]
    absent = [h for h in listed if not (run_dir / CELLS_DIR / f"{h}.parquet").is_file()]
    assert not absent, f"{run_dir}: cell files listed in metadata.json are missing: {absent}"

    table = load_results(run_dir)
    expected, found = _as_set(_cell_configs(suite_path)), _as_set(table)
    assert not expected - found, (
        f"cells of {suite_path.name} without baseline rows (regenerate {run_dir}): "
        f"{sorted(expected - found)[:3]}"
    )
    assert not found - expected, f"{run_dir} holds configurations {suite_path.name} lacks"

    alpha = suite.compare.alpha if suite.compare else 0.05
    seeds = table.groupby([c for c in CONFIG if c != "seed"])["seed"].nunique()
    assert min_mannwhitney_p(int(seeds.min()), int(seeds.min())) < alpha


@pytest.mark.parametrize("suite_path", CI_SUITES, ids=lambda p: p.stem)
def test_ci_suites_are_deterministic_methods(suite_path):
    """No method whose result depends on thread scheduling (a3c) in a regression suite."""
    names = {getattr(m, "name", None) for m in load_suite(suite_path).methods}
    assert "a3c" not in names
