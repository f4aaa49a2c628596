"""The ``gradient-quality`` kind: bias, variance, MSE and cosine of gradient estimators
against batch size (:mod:`.suite`: its keys; :mod:`.run`: one cell)."""

from pgbench.experiments.gradient_quality.run import run_cell
from pgbench.experiments.gradient_quality.suite import GradientQualitySuite
from pgbench.experiments.kind import Kind

KIND = Kind(
    name="gradient-quality",
    suite=GradientQualitySuite,
    run_cell=run_cell,
    summary="bias, variance, MSE and cosine of gradient estimators against batch size",
)
