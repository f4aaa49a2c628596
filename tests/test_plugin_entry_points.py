"""Plug-ins by entry point: an installed package's ``pgbench.plugins`` entry point makes its
components appear in ``pgbench list`` and runnable in suites, in worker processes too, with
no ``PGBENCH_PLUGINS``; a broken one is one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd

from pgbench.plugins import entry_point_modules, plugin_modules

PLUGIN_MODULE = textwrap.dedent(
    '''
    """An estimator registered by an installed package (test fixture)."""
    from pgbench.estimators.base import Estimator, NoParams
    from pgbench.registry import ESTIMATORS


    def _reinforce(sampler, theta, episodes, seed, params):
        sums = sampler.episode_sums(theta, episodes, seed)
        return sums.returns @ sums.score_sums / episodes


    if "ep-reinforce" not in ESTIMATORS:
        ESTIMATORS.register("ep-reinforce")(
            Estimator(name="ep-reinforce", fn=_reinforce, params=NoParams, unbiased=True,
                      citation="Williams (1992)")
        )
    '''
)

SUITE = """\
name: ep
experiment: gradient-quality
seeds: 2
repeats: 3
batch_sizes: [4]
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 3}}
policies: [tabular-softmax]
estimators: [ep-reinforce, reinforce]
"""


def _install(site, module: str, body: str, name: str = "epplug") -> None:
    """A distribution ``name`` on the path ``site`` whose entry point names ``module``."""
    dist = site / f"{name}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[pgbench.plugins]\n{name} = {module}\n")
    (site / f"{module}.py").write_text(body)


def _env(site) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PGBENCH_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _pgbench(site, *args, cwd=None) -> subprocess.CompletedProcess:
    code = "import sys; from pgbench.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=_env(site),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_entry_points_are_found_before_the_environment_variable(tmp_path, monkeypatch):
    _install(tmp_path, "epplug_components", PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PGBENCH_PLUGINS", "other_module, epplug_components")
    assert "epplug_components" in entry_point_modules()
    modules = plugin_modules()
    assert modules.index("epplug_components") < modules.index("other_module")
    assert modules.count("epplug_components") == 1


def test_an_installed_plugin_lists_and_runs_in_workers(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "epplug_components", PLUGIN_MODULE)
    listed = _pgbench(site, "list")
    assert listed.returncode == 0, listed.stderr
    assert "ep-reinforce" in listed.stdout

    (tmp_path / "ep.yaml").write_text(SUITE)
    out = tmp_path / "out"
    done = _pgbench(
        site, "run", str(tmp_path / "ep.yaml"), "--out", str(out), "--executor", "local",
        "--workers", "2", "--quiet",
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "results.csv")
    assert set(table["method"]) == {"ep-reinforce", "reinforce"}
    # the same estimate as the built-in REINFORCE on the same streams
    mse = table[table["metric"] == "mse"].pivot_table(
        index=["seed", "x"], columns="method", values="value"
    )
    assert (mse["ep-reinforce"] == mse["reinforce"]).all()


def test_a_broken_entry_point_is_one_line_exit_2(tmp_path):
    _install(tmp_path, "broken_components", "raise RuntimeError('not today')\n", name="broken")
    done = _pgbench(tmp_path, "list")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "pgbench: error: cannot import plugin module 'broken_components': "
        "RuntimeError: not today"
    ]
