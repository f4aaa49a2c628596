"""A plugin module (``PGBENCH_PLUGINS=compile_time_plugin``) under which every cell reports
``$PGBENCH_TEST_COMPILE`` seconds of Numba compilation, where that variable is set, so a
test can follow the figure from a worker process into ``metadata.json``. Without the
variable, cells are left as they are."""

from __future__ import annotations

import os
from dataclasses import replace

from pgbench.run import celltask

PLUGIN = "compile_time_plugin"
ENV = "PGBENCH_TEST_COMPILE"


def _reporting(get_experiment):
    def get(kind: str):
        run_cell = get_experiment(kind)

        def run(cell):
            output = run_cell(cell)
            seconds = os.environ.get(ENV)
            return output if seconds is None else replace(output, compile_seconds=float(seconds))

        return run

    get.reports_compile_time = True
    return get


if not getattr(celltask.get_experiment, "reports_compile_time", False):
    celltask.get_experiment = _reporting(celltask.get_experiment)
