"""The ``learning-curve`` kind: return against env steps of learning algorithms, across
seeds (:mod:`.suite`: its keys; :mod:`.run`: one cell; :mod:`.outputs`: its figure and
table; :mod:`.aggregates`, :mod:`.aggregate_figures`: conclusions across envs)."""

from pgbench.experiments.kind import Kind
from pgbench.experiments.learning_curve.aggregate_figures import FIGURES as AGGREGATE_FIGURES
from pgbench.experiments.learning_curve.aggregates import AGGREGATE_MD
from pgbench.experiments.learning_curve.outputs import CURVES_PNG, FINAL_MD, write_outputs
from pgbench.experiments.learning_curve.run import run_cell
from pgbench.experiments.learning_curve.suite import LearningCurveSuite

KIND = Kind(
    name="learning-curve",
    suite=LearningCurveSuite,
    run_cell=run_cell,
    summary="return against env steps (and seconds) of learning algorithms, across seeds",
    title="Learning curves",
    figures=(CURVES_PNG, *AGGREGATE_FIGURES),
    tables=(FINAL_MD, AGGREGATE_MD),
    write_outputs=write_outputs,
)
