"""``pgbench side-by-side``, used as a plugin author would: the same suite run with the
committed version of a plugin estimator (``--base HEAD``) and the working tree's, seed by
seed in alternation, then ``compare --paired`` on ``seconds``. The new version sleeps 20 ms
per estimate where the base sleeps 1 ms, so the paired comparison of 6 seeds must call it a
regression (exit 1); every seed's cells are in both run directories, written in the
alternating order; bad input is one line, exit 2.

Both sides use this environment's pgbench (its Numba cache is shared and warm), so the
14 ``pgbench run`` processes take about 3 s each on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from pgbench import side_by_side
from pgbench.results import CELLS_DIR, METADATA, load_results

PLUGIN = """\
    \"\"\"A plugin estimator that sleeps {sleep} s per estimate.\"\"\"

    import time

    from pgbench.estimators.base import Estimator, NoParams
    from pgbench.registry import ESTIMATORS


    def _sleepy(sampler, theta, episodes, seed, params):
        time.sleep({sleep})
        sums = sampler.episode_sums(theta, episodes, seed)
        return sums.returns @ sums.score_sums / episodes


    if "sbs-sleepy" not in ESTIMATORS:
        ESTIMATORS.register("sbs-sleepy")(
            Estimator(name="sbs-sleepy", fn=_sleepy, params=NoParams, unbiased=False, citation="")
        )
"""

SUITE = """\
name: sbs-test
experiment: gradient-quality
seeds: 6
repeats: 2
batch_sizes: [4]
backend: cpu
theta: {seed: 0}
envs:
  - {name: garnet, params: {n_states: 4, n_actions: 2, horizon: 5, seed: 0}}
policies:
  - {name: tabular-softmax}
estimators:
  - sbs-sleepy
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo), *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture()
def plugin_repo(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(repository, suite file): a git repository whose last commit holds the plugin module
    ``sbs_plugin`` sleeping 1 ms per estimate, and whose working tree has it sleeping 20 ms;
    the current directory is the repository."""
    repo = tmp_path / "plugin"
    repo.mkdir()
    module = repo / "sbs_plugin.py"
    module.write_text(textwrap.dedent(PLUGIN.format(sleep=0.001)))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    module.write_text(textwrap.dedent(PLUGIN.format(sleep=0.02)))
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    monkeypatch.setenv("PGBENCH_PLUGINS", "sbs_plugin")
    monkeypatch.chdir(repo)
    return repo, suite


def test_side_by_side_flags_the_slower_new_code(plugin_repo, tmp_path, capsys):
    """``--base HEAD`` times the committed plugin against the working tree's (run from the
    repository, whose modules must not shadow the base's)."""
    repo, suite = plugin_repo
    out = tmp_path / "out"
    argv = [str(suite), "--base", "HEAD", "--new-path", str(repo), "--out", str(out)]
    code = side_by_side.main([*argv, "--no-warmup"])
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    base_line = next(ln for ln in captured.err.splitlines() if ln.startswith("side-by-side: base"))
    assert "sbs_plugin from /" in base_line and f"{repo}/sbs_plugin.py" not in base_line
    assert f"sbs_plugin from {repo / 'sbs_plugin.py'}" in captured.err
    assert (
        "base-"
        not in subprocess.run(
            ["git", "worktree", "list"], capture_output=True, text=True, check=True
        ).stdout
    )  # the worktree of HEAD was removed

    verdict = json.loads((out / "new" / "compare.json").read_text())
    assert verdict["verdict"] == "fail" and verdict["settings"]["paired"] is True
    (row,) = verdict["failures"]
    assert row["metric"] == "seconds" and row["status"] == "regression"
    assert row["n_base"] == row["n_new"] == 6  # six pairs

    # each seed's cell is in both runs, and the whole-suite run wrote the metadata
    tables = {side: load_results(out / side) for side in side_by_side.SIDES}
    hashes = dict(tables["new"][["seed", "cell"]].drop_duplicates().itertuples(index=False))
    assert sorted(hashes) == list(range(6))
    for side, table in tables.items():
        assert set(table["cell"]) == set(hashes.values())  # the same hashes on both sides
        files = {p.stem for p in (out / side / CELLS_DIR).glob("*.parquet")}
        assert files == set(hashes.values())
        meta = json.loads((out / side / METADATA).read_text())
        assert sorted(meta["cells"]) == sorted(hashes.values())
        assert sorted(table.query("metric == 'seconds'")["seed"].unique()) == list(range(6))

    # base then new for seeds 0, 2, 4; new then base for seeds 1, 3, 5
    written = sorted(
        ((out / side / CELLS_DIR / f"{h}.parquet").stat().st_mtime_ns, side, seed)
        for side in side_by_side.SIDES
        for seed, h in hashes.items()
    )
    order = [(seed, side) for _, side, seed in written]
    expected = [(s, side) for s in range(6) for side in side_by_side._order(s)]
    assert order == expected


def test_side_by_side_bad_base_path_is_one_line(plugin_repo, tmp_path, capsys):
    _, suite = plugin_repo
    argv = [str(suite), "--base-path", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    assert side_by_side.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pgbench: error: --base-path")
    assert not (tmp_path / "o").exists()


def test_side_by_side_invalid_suite_names_the_file(plugin_repo, tmp_path, capsys):
    repo, suite = plugin_repo
    suite.write_text(SUITE.replace("seeds: 6", "seeds: -1"))
    argv = [str(suite), "--base-path", str(repo), "--out", str(tmp_path / "o")]
    assert side_by_side.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{suite}:")
    assert not (tmp_path / "o").exists()


def test_side_by_side_unknown_revision_is_one_line(plugin_repo, tmp_path, capsys):
    _, suite = plugin_repo
    argv = [str(suite), "--base", "no-such-rev", "--out", str(tmp_path / "o")]
    assert side_by_side.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pgbench: error: unknown revision 'no-such-rev'")
    assert not (tmp_path / "o").exists()
