"""The ``learning-curve`` kind: return against env steps of learning algorithms, across
seeds (:mod:`.suite`: its keys; :mod:`.run`: one cell)."""

from pgbench.experiments.kind import Kind
from pgbench.experiments.learning_curve.run import run_cell
from pgbench.experiments.learning_curve.suite import LearningCurveSuite

KIND = Kind(
    name="learning-curve",
    suite=LearningCurveSuite,
    run_cell=run_cell,
    summary="return against env steps (and seconds) of learning algorithms, across seeds",
)
