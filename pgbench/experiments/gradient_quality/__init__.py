"""The ``gradient-quality`` kind: bias, variance, MSE and cosine of gradient estimators
against batch size (:mod:`.suite`: its keys; :mod:`.run`: one cell, of the points and
references of :mod:`.reference` and the statistics of :mod:`.quality`; :mod:`.outputs`: its
figures, :mod:`.figures` and :mod:`.across_figure`, and tables, :mod:`.ranking` and
:mod:`.across_problems`)."""

from pgbench.experiments.gradient_quality.across_figure import ACROSS_PNG
from pgbench.experiments.gradient_quality.across_problems import ACROSS_MD
from pgbench.experiments.gradient_quality.figures import COSINE, MSE_COST, VARIANCE_MSE
from pgbench.experiments.gradient_quality.outputs import print_summary, write_outputs
from pgbench.experiments.gradient_quality.ranking import RANKING_MD
from pgbench.experiments.gradient_quality.run import run_cell
from pgbench.experiments.gradient_quality.suite import GradientQualitySuite
from pgbench.experiments.kind import Kind

KIND = Kind(
    name="gradient-quality",
    suite=GradientQualitySuite,
    run_cell=run_cell,
    summary="bias, variance, MSE and cosine of gradient estimators against batch size",
    title="Gradient quality",
    figures=(VARIANCE_MSE, COSINE, MSE_COST, ACROSS_PNG),
    tables=(RANKING_MD, ACROSS_MD),
    write_outputs=write_outputs,
    console_summary=print_summary,
)
