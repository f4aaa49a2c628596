"""metadata.json: the git state that matters (and a digest of uncommitted code), and the
Numba compile seconds that cells report, carried back from worker processes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from compile_time_plugin import ENV, PLUGIN  # wraps get_experiment here too (inert unless ENV)

from pgbench import results
from pgbench.experiments import parse_suite
from pgbench.results import git_info
from pgbench.run.executors import LocalExecutor, SerialExecutor
from pgbench.run.runner import run_suite
from tests.conftest import InterruptOnFirstCell

# ---------------------------------------------------------------- git


def git(repo: Path, *args: str) -> str:
    ident = [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    out = subprocess.run(["git", *ident, "-C", str(repo), *args], capture_output=True, check=True)
    return out.stdout.decode()


@pytest.fixture
def repo(tmp_path):
    """A committed checkout: ``pgbench/__init__.py``, ``README.md``, a ``.gitignore``."""
    root = tmp_path / "checkout"
    (root / "pgbench").mkdir(parents=True)
    (root / "pgbench" / "__init__.py").write_text("VERSION = 1\n")
    (root / "README.md").write_text("readme\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_a_clean_checkout_is_not_dirty_whatever_lies_untracked_outside_the_package(repo):
    for junk in (".venv/lib/site.py", "results/run/metadata.json", "build/x.o", "notes.txt"):
        (repo / junk).parent.mkdir(parents=True, exist_ok=True)
        (repo / junk).write_text("junk\n")
    (repo / "pgbench" / "__pycache__").mkdir()
    (repo / "pgbench" / "__pycache__" / "x.pyc").write_bytes(b"\0")  # ignored by .gitignore
    commit = git(repo, "rev-parse", "HEAD").strip()
    assert git_info(repo) == {"commit": commit, "dirty": False}


def _untracked_digest(repo: Path, names: list[str]) -> str:
    digest = hashlib.sha256(git(repo, "diff", "HEAD", "--binary").encode())
    for name in names:
        digest.update(b"\0" + name.encode() + b"\0" + (repo / name).read_bytes())
    return digest.hexdigest()


def test_an_untracked_package_file_makes_it_dirty_with_a_digest_of_its_content(repo):
    new = repo / "pgbench" / "new.py"
    new.write_text("X = 1\n")
    first = git_info(repo)
    assert first["dirty"] is True
    assert first["diff_sha256"] == _untracked_digest(repo, ["pgbench/new.py"])
    assert git_info(repo) == first  # the same tree, the same digest
    new.write_text("X = 2\n")
    assert git_info(repo)["diff_sha256"] != first["diff_sha256"]


def test_a_modified_tracked_file_makes_it_dirty_with_the_digest_of_the_diff(repo):
    (repo / "README.md").write_text("readme, edited\n")
    info = git_info(repo)
    assert info["dirty"] is True
    expected = hashlib.sha256(git(repo, "diff", "HEAD", "--binary").encode()).hexdigest()
    assert info["diff_sha256"] == expected
    (repo / "README.md").write_text("readme\n")  # undone: clean again
    assert git_info(repo)["dirty"] is False


def test_a_directory_that_is_not_the_top_of_a_checkout_has_no_git_state(repo, tmp_path):
    # e.g. pgbench installed into a .venv inside some other project's repository
    assert git_info(repo / "pgbench") == {"commit": None, "dirty": None}
    (tmp_path / "plain").mkdir()
    assert git_info(tmp_path / "plain") == {"commit": None, "dirty": None}


# ---------------------------------------------------------------- compile seconds

SUITE = """\
name: compile
experiment: gradient-quality
seeds: [0, 1]
repeats: 2
batch_sizes: [2]
reference_episodes: 50
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 5}}
policies:
  - {name: tabular-softmax}
estimators:
  - reinforce
"""


def run(text: str, run_dir: Path, executor=None, **kw):
    suite = parse_suite(text, "suite.yaml")
    return run_suite(suite, run_dir, suite_text=text, executor=executor or SerialExecutor(), **kw)


def compile_entry(run_dir: Path) -> dict:
    return json.loads((run_dir / results.METADATA).read_text())["compile"]


@pytest.fixture
def reporting(monkeypatch):
    """Cells report 0.25 s of compilation, here and in worker processes."""
    monkeypatch.setenv("PGBENCH_PLUGINS", PLUGIN)
    monkeypatch.setenv(ENV, "0.25")
    tests = str(Path(__file__).resolve().parent)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [tests, os.getenv("PYTHONPATH")]))
    )


def test_compile_seconds_come_back_from_worker_processes_into_the_metadata(reporting, tmp_path):
    summary = run(SUITE, tmp_path / "run", LocalExecutor(workers=1))
    assert summary.ok and [o.compile_seconds for o in summary.outcomes] == [0.25, 0.25]
    hashes = [c.hash for c in summary.cells]
    assert compile_entry(tmp_path / "run") == {"seconds": 0.5, "cells": dict.fromkeys(hashes, 0.25)}


def test_compile_seconds_of_skipped_cells_are_kept_and_of_dropped_cells_left_out(
    reporting, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    first = {c.hash for c in run(SUITE, out).cells}
    monkeypatch.setenv(ENV, "0.5")
    shifted = run(SUITE.replace("seeds: [0, 1]", "seeds: [1, 2]"), out)  # seed 1 skipped
    kept = [o.cell.hash for o in shifted.outcomes if o.status == "skipped"]
    (new,) = [o.cell.hash for o in shifted.outcomes if o.status == "done"]
    assert set(kept) <= first and new not in first
    assert compile_entry(out) == {"seconds": 0.75, "cells": {kept[0]: 0.25, new: 0.5}}


def test_an_interrupted_run_records_the_compile_seconds_of_its_finished_cells(reporting, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(SUITE, tmp_path / "run", observer=InterruptOnFirstCell())
    meta = json.loads((tmp_path / "run" / results.METADATA).read_text())
    assert meta["status"] == "interrupted" and meta["compile"]["seconds"] == 0.25
    assert len(meta["compile"]["cells"]) == 1
