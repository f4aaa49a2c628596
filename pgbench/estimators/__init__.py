"""Gradient estimators: one module per family, each registering into ESTIMATORS."""

from pgbench.estimators import likelihood_ratio  # noqa: F401  (registration)
from pgbench.estimators.base import Estimator

__all__ = ["Estimator"]
