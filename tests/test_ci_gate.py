"""The CI gates: the kernel speed gate (``benchmarks/gate.py``) flags a planted slowdown and
passes an unchanged run; the committed baseline of the CI suites (``results/baseline/``)
pairs with the suites as committed (checked from the suite files, without running them)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from benchmarks import gate
from pgbench.compare import min_mannwhitney_p
from pgbench.config import load_suite
from pgbench.results import CELLS_DIR, METADATA, load_results
from pgbench.sweep import canonical_json, expand

ROOT = Path(__file__).resolve().parents[1]
CI_SUITES = sorted((ROOT / "suites" / "ci").glob("*.yaml"))
BASELINE = ROOT / "results" / "baseline"
CONFIG = ["experiment", "env", "env_params", "policy", "policy_params"]
CONFIG += ["theta_params", "method", "method_params", "seed"]


# ---------------------------------------------------------------- the speed gate


def _bench_json(path: Path, times: dict[str, float]) -> Path:
    """A minimal pytest-benchmark JSON file with these per-call minimum times (seconds)."""
    benchmarks = [
        {"fullname": name, "name": name.split("::")[-1], "stats": {"min": t, "rounds": 5}}
        for name, t in times.items()
    ]
    path.write_text(json.dumps({"benchmarks": benchmarks}), encoding="utf-8")
    return path


def _baseline(tmp_path: Path) -> tuple[Path, dict]:
    """A baseline with the committed gated benchmarks and round ratios."""
    base = {"threshold": 1.25, "ratios": {}}
    for k, (name, ref) in enumerate(gate.GATED.items()):
        base["ratios"][name] = {"reference": ref, "ratio": 0.1 * (k + 1)}
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(base), encoding="utf-8")
    return path, base


def _times(base: dict, scale: float = 1.0, slow: dict[str, float] | None = None) -> dict:
    """Benchmark times reproducing ``base``'s ratios on a machine ``scale`` times slower, with
    the benchmarks in ``slow`` slowed down further by their factor."""
    slow = slow or {}
    refs = {r["reference"]: 0.002 * (k + 1) * scale for k, r in enumerate(base["ratios"].values())}
    times = dict(refs)
    for name, entry in base["ratios"].items():
        times[name] = entry["ratio"] * refs[entry["reference"]] * slow.get(name, 1.0)
    return times


def test_gate_passes_an_unchanged_run_on_a_slower_machine(tmp_path, capsys):
    path, base = _baseline(tmp_path)
    run = _bench_json(tmp_path / "run.json", _times(base, scale=3.0))  # 3x slower machine
    assert gate.main(["--json", str(run), "--baseline", str(path)]) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[-1].startswith("PASS")
    assert sum(ln.rstrip().endswith(" ok") for ln in lines) == len(gate.GATED)


@pytest.mark.parametrize(("factor", "code"), [(1.2, 0), (1.3, 1), (2.0, 1)])
def test_gate_flags_a_planted_slowdown(tmp_path, capsys, factor, code):
    path, base = _baseline(tmp_path)
    victim = next(iter(gate.GATED))
    run = _bench_json(tmp_path / "run.json", _times(base, slow={victim: factor}))
    assert gate.main(["--json", str(run), "--baseline", str(path)]) == code
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith(victim.split("::")[-1]))
    assert line.rstrip().endswith("slower" if code else "ok")
    assert f"{factor - 1.0:+.1%}" in line
    assert out.rstrip().splitlines()[-1].startswith("FAIL" if code else "PASS")


def test_gate_ratio_uses_the_reference_of_the_same_run(tmp_path):
    """A slower reference makes the ratio better, not worse: only relative speed counts."""
    path, base = _baseline(tmp_path)
    times = _times(base)
    times[gate.NUMPY_REF] *= 1.5
    run = _bench_json(tmp_path / "run.json", times)
    assert gate.main(["--json", str(run), "--baseline", str(path)]) == 0


def test_gate_judges_the_median_over_runs(tmp_path):
    """A benchmark slow in one run of three (a busy moment) passes; slow in two, it fails."""
    path, base = _baseline(tmp_path)
    victim = next(iter(gate.GATED))
    slow = [_bench_json(tmp_path / f"s{k}.json", _times(base, slow={victim: 2.0})) for k in (0, 1)]
    fast = [_bench_json(tmp_path / f"f{k}.json", _times(base, scale=1.5)) for k in (0, 1)]
    args = ["--baseline", str(path)]
    assert (
        gate.main([*args, "--json", str(slow[0]), "--json", str(fast[0]), "--json", str(fast[1])])
        == 0
    )
    assert (
        gate.main([*args, "--json", str(slow[0]), "--json", str(slow[1]), "--json", str(fast[0])])
        == 1
    )


def test_gate_fails_on_a_missing_benchmark(tmp_path, capsys):
    path, base = _baseline(tmp_path)
    times = _times(base)
    victim = next(iter(gate.GATED))
    del times[victim]
    run = _bench_json(tmp_path / "run.json", times)
    assert gate.main(["--json", str(run), "--baseline", str(path)]) == 1
    assert "missing" in capsys.readouterr().out


def test_gate_update_writes_a_baseline_that_passes(tmp_path):
    _, base = _baseline(tmp_path)
    run = _bench_json(tmp_path / "run.json", _times(base, scale=2.0))
    new = tmp_path / "new.json"
    assert gate.main(["--json", str(run), "--baseline", str(new), "--update"]) == 0
    written = json.loads(new.read_text())
    assert written["command"].startswith("python benchmarks/gate.py --update")
    for name, entry in base["ratios"].items():
        assert math.isclose(written["ratios"][name]["ratio"], entry["ratio"], rel_tol=1e-12)
    assert gate.main(["--json", str(run), "--baseline", str(new)]) == 0


def test_committed_speed_baseline_covers_the_gate():
    """benchmarks/baseline.json names the command that made it and one ratio per gated
    benchmark, against the reference the gate uses; an unchanged run passes it."""
    committed = json.loads((ROOT / "benchmarks" / "baseline.json").read_text())
    assert committed["command"].startswith("python benchmarks/gate.py --update")
    assert set(committed["ratios"]) == set(gate.GATED)
    for name, entry in committed["ratios"].items():
        assert entry["reference"] == gate.GATED[name]
        assert entry["ratio"] > 0
    current = {name: dict(entry) for name, entry in copy.deepcopy(committed["ratios"]).items()}
    rows = gate.compare(current, committed, committed["threshold"])
    assert {r["status"] for r in rows} == {"ok"}


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
