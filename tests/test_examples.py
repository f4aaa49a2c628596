"""The "bring your own" example (``examples/bring_your_own``) as a user meets it: installed
with pip into a folder of its own, its entry point makes ``pgbench list`` show its
environment, estimator and algorithm, and both of its suites run, twice, to the same
tables (the second time with another executor)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pgbench.metrics import TIMING

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bring_your_own"
COMPONENTS = {"corridor": "environments", "reinforce-fixed": "estimators"}
COMPONENTS["normalized-ascent"] = "algorithms"


def _builds_wheels_offline() -> bool:
    """Whether setuptools can build a wheel without fetching anything: it needs the
    ``wheel`` package, or setuptools >= 70.1 (which has ``bdist_wheel`` of its own)."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    version = importlib.metadata.version("setuptools").split(".")
    return tuple(int(v) for v in version[:2] if v.isdigit()) >= (70, 1)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example installed by pip into a folder of its own (the dist-info there carries
    the entry point). From a copy, so that the build leaves nothing in the repository; with
    the installed setuptools where it can build a wheel, else in pip's build isolation."""
    tmp = tmp_path_factory.mktemp("bring-your-own")
    source = tmp / "source"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    target = tmp / "site"
    offline = ["--no-build-isolation", "--no-index"] if _builds_wheels_offline() else []
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", *offline]
    proc = subprocess.run(
        [*cmd, "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "pgbench_example-0.1.0.dist-info" / "entry_points.txt").is_file()
    return target


def _pgbench(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``pgbench ARGS`` with the example on the path only through ``site`` (no
    ``PGBENCH_PLUGINS``: the entry point is what names it)."""
    env = {k: v for k, v in os.environ.items() if k != "PGBENCH_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-m", "pgbench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_pgbench_list_shows_the_three_components(site, tmp_path):
    listed = _pgbench(site, "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    for name, section in COMPONENTS.items():
        where = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
        heading = next(line for line in reversed(lines[:where]) if line.endswith(":"))
        assert heading == f"{section}:", name

    shown = _pgbench(site, "list", "corridor", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert text.startswith("environment corridor")
    assert "function pgbench_example.corridor.make_corridor" in text
    assert "horizon int, >= 1 30 most actions per episode" in text


def _table(run_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(run_dir / "results.csv")
    return table[~table["metric"].isin(TIMING)].reset_index(drop=True)


@pytest.mark.parametrize(
    ("suite", "methods", "twins"),
    [
        # reinforce-fixed at b = 0 is pgbench's reinforce, bit for bit
        ("suite.yaml", {"reinforce", "reinforce-fixed"}, ("fixed(b=0)", "reinforce")),
        ("learning.yaml", {"reinforce", "normalized-ascent"}, None),
    ],
)
def test_the_suites_run_to_the_same_table_twice(site, tmp_path, suite, methods, twins):
    tables = []
    for out, executor in (("local", ["--workers", "2"]), ("serial", ["--executor", "serial"])):
        done = _pgbench(
            site, "run", str(EXAMPLE / suite), "--out", out, "--quiet", *executor, cwd=tmp_path
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert not (tmp_path / out / "failures.jsonl").exists()
        tables.append(_table(tmp_path / out))
    first, second = tables
    assert set(first["env"]) == {"corridor"}
    assert set(first["method"]) == methods
    assert first["value"].notna().any()
    pd.testing.assert_frame_equal(first, second)
    if twins is not None:
        values = first.pivot_table(
            index=["seed", "x", "metric"], columns="method_label", values="value"
        )
        assert values[twins[0]].equals(values[twins[1]])
