"""Runner scale: cells per second and overhead per cell of each executor on 1,000 cheap cells.

Writes a gradient-quality suite of ``--cells`` cells (garnet MDP, REINFORCE, one
batch size of 4 episodes, 2 repeats; one cell per seed) to a temporary
directory, times the cells' own work in this process (``compute``: each cell's
experiment function called directly, after a warm-up), then runs the suite
with ``pgbench run --quiet`` under each executor into a fresh directory.

* ``run s``: the runner's own time for the sweep (``pgbench run``'s summary
  line: expand, dispatch, write every cell's Parquet file, load the table,
  CSV export), so process start-up, imports and the report figures are left out;
  ``wall s`` is the whole command;
* ``cells/s`` = cells / run s;
* ``overhead/cell`` = (run s - compute / workers) / cells: what the runner adds
  per cell beyond the work itself, spread over its workers (worker start-up
  included).

It also checks that every executor wrote the same table (``seconds`` aside).

    python benchmarks/sweep_scale.py                     # serial, local 2, dask 2
    python benchmarks/sweep_scale.py --executors local --workers 2 --cells 200
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = """\
name: sweep-scale
experiment: gradient-quality
description: runner scale benchmark, {cells} cheap cells
seeds: {cells}
repeats: 2
batch_sizes: [4]
backend: serial
envs:
  - {{name: garnet, params: {{n_states: 5, n_actions: 2, seed: 0, horizon: 5}}}}
policies:
  - tabular-softmax
estimators:
  - reinforce
"""
SUMMARY = re.compile(r"(\d+) cells: (\d+) run, (\d+) already finished, (\d+) failed \(([\d.]+) s\)")


def write_suite(folder: Path, cells: int) -> Path:
    path = folder / "sweep_scale.yaml"
    path.write_text(SUITE.format(cells=cells), encoding="utf-8")
    return path


def compute_seconds(suite_path: Path) -> float:
    """Seconds of the cells' own work, run one after another in this process (warm)."""
    from pgbench.experiments import get_experiment, load_suite
    from pgbench.run.sweep import expand

    cells = expand(load_suite(suite_path))
    run_cell = get_experiment(cells[0].experiment)
    for cell in cells[:3]:  # compile / load the kernels
        run_cell(cell)
    start = time.perf_counter()
    for cell in cells:
        run_cell(cell)
    return time.perf_counter() - start


def run(suite_path: Path, out: Path, executor: str, workers: int) -> dict:
    """``pgbench run`` of the suite with ``executor``; wall and run seconds, cell counts."""
    cmd = [
        "pgbench",
        "run",
        str(suite_path),
        "--out",
        str(out),
        "--executor",
        executor,
        "--quiet",
    ]
    if executor != "serial":
        cmd += ["--workers", str(workers)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    m = SUMMARY.search(proc.stdout)
    if m is None:
        sys.exit(f"no summary line in the output of {' '.join(cmd)}:\n{proc.stdout}")
    total, done, _, failed, seconds = m.groups()
    return {
        "command": " ".join(cmd),
        "cells": int(total),
        "done": int(done),
        "failed": int(failed),
        "run_s": float(seconds),
        "wall_s": wall,
    }


def same_tables(dirs: list[Path]) -> bool:
    """Whether the run directories hold the same tidy table (``seconds`` rows left out)."""
    import pgbench

    def table(d: Path):
        df = pgbench.load_results(d)
        df = df[df["metric"] != "seconds"].drop(columns=["cell"])
        return df.sort_values(["seed", "x", "metric"]).reset_index(drop=True)

    first = table(dirs[0])
    return all(table(d).equals(first) for d in dirs[1:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--executors", nargs="+", default=["serial", "local", "dask"], help="executors to time"
    )
    p.add_argument("--keep", type=Path, default=None, help="keep the runs under this directory")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="pgbench-scale-"))
    try:
        root = args.keep or tmp
        suite_path = write_suite(tmp, args.cells)
        compute = compute_seconds(suite_path)
        print(
            f"{args.cells} cells; their own work: {compute:.2f} s in this process "
            f"({compute / args.cells * 1e3:.2f} ms per cell)"
        )
        head = ("executor", "workers", "cells", "run s", "wall s", "cells/s", "overhead/cell")
        print(
            f"{head[0]:<9}{head[1]:>8}{head[2]:>7}{head[3]:>8}{head[4]:>8}{head[5]:>9}{head[6]:>15}"
        )
        dirs = []
        for executor in args.executors:
            out = root / executor
            shutil.rmtree(out, ignore_errors=True)
            r = run(suite_path, out, executor, args.workers)
            dirs.append(out)
            workers = 1 if executor == "serial" else args.workers
            overhead = (r["run_s"] - compute / workers) / r["cells"]
            print(
                f"{executor:<9}{workers:>8}{r['cells']:>7}{r['run_s']:>8.2f}{r['wall_s']:>8.2f}"
                f"{r['cells'] / r['run_s']:>9.1f}{overhead * 1e3:>12.2f} ms"
                + ("" if not r["failed"] else f"  ({r['failed']} failed)")
            )
            print(f"  {r['command']}")
        if len(dirs) > 1:
            print("same table from every executor:", "yes" if same_tables(dirs) else "NO")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
