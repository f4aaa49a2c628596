"""Transitional: the names of the old ``pgbench.config`` module, now in :mod:`pgbench.suite`
and ``pgbench/experiments/<kind>/suite.py``. Removed once every caller imports them there."""

from pgbench.experiments import SUITE_KINDS, load_suite, parse_suite  # noqa: F401
from pgbench.experiments.gradient_quality.suite import (  # noqa: F401
    EXACT,
    BudgetedEnvSpec,
    EstimatorSpec,
    GradientQualitySuite,
    ThetaSpec,
    budget_sizes,
)
from pgbench.experiments.learning_curve.suite import (  # noqa: F401
    AlgorithmSpec,
    CurveEnvSpec,
    LearningCurveSuite,
)
from pgbench.suite.base import Suite  # noqa: F401
from pgbench.suite.compare_block import CompareSpec  # noqa: F401
from pgbench.suite.errors import SuiteError  # noqa: F401
from pgbench.suite.load import warning_lines  # noqa: F401
from pgbench.suite.specs import EnvSpec, PolicySpec, Spec, default_label  # noqa: F401
from pgbench.suite.yaml_reading import read_suite  # noqa: F401
